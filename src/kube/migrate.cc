#include "kube/migrate.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "boost/json.hpp"
#include "common/status_macros.h"
#include "common/strings.h"
#include "resource/resource.h"
#include "server/json_access.h"

namespace pai::kube {
namespace {

namespace json = boost::json;
using server::Resource;
using server::Store;
using server::Str;

constexpr int64_t kAllEvents = int64_t{1} << 40;
constexpr int64_t kAnyNumberOfVersions = int64_t{1} << 40;

json::object* MetaOf(json::object& o) {
  json::value* m = o.if_contains("metadata");
  return m ? m->if_object() : nullptr;
}

// Copy(): `r` as a new object of `to`: what the store sets itself left out, ownerReferences
// pointing at the new uids (references to objects `from` does not hold dropped).
Resource Copy(const Resource& r, const std::map<std::string, std::string>& uids) {
  Resource c = r;
  c.object.erase("status");
  json::object* m = MetaOf(c.object);
  if (!m) return c;
  for (const char* k : {"uid", "resourceVersion", "generation", "creationTimestamp"}) m->erase(k);
  if (json::value* refs = m->if_contains("ownerReferences"); refs && refs->is_array()) {
    json::array kept;
    for (json::value& ref : refs->as_array()) {
      if (!ref.is_object()) continue;
      auto it = uids.find(Str(&ref.as_object(), "uid"));
      if (it == uids.end()) continue;
      ref.as_object()["uid"] = it->second;
      kept.push_back(ref);
    }
    if (kept.empty()) {
      m->erase("ownerReferences");
    } else {
      *refs = std::move(kept);
    }
  }
  return c;
}

}  // namespace

absl::StatusOr<MigrationReport> MigrateStore(Store& from, Store& to) {
  // Everything `from` holds, and a check that `to` holds nothing.
  std::vector<Resource> pending;
  for (const resource::KindInfo& k : resource::Kinds()) {
    auto there = to.List(std::string(k.kind), "", Store::Scope::kAllNamespaces);
    if (!there.ok()) return there.status();
    if (!there->empty()) {
      return absl::FailedPreconditionError(
          pai::StrCat("the target store already holds ", k.kind, " \"", there->front().name,
                      "\": migrate only into an empty store (nothing was copied)"));
    }
    auto here = from.List(std::string(k.kind), "", Store::Scope::kAllNamespaces);
    if (!here.ok()) return here.status();
    for (Resource& r : *here) pending.push_back(std::move(r));
  }
  std::set<std::string> known;  // every uid `from` holds
  for (const Resource& r : pending) known.insert(r.uid());

  // Owners first: each pass copies the objects whose owners are copied (or not in `from`).
  MigrationReport report;
  std::map<std::string, std::string> uids;  // old → new
  std::vector<Resource> copied;
  while (!pending.empty()) {
    std::vector<Resource> later;
    for (Resource& r : pending) {
      bool ready = true;
      for (const std::string& owner : server::OwnerUids(r.object)) {
        if (known.contains(owner) && !uids.contains(owner)) ready = false;
      }
      if (!ready) {
        later.push_back(std::move(r));
        continue;
      }
      auto made = to.Create(Copy(r, uids));
      if (!made.ok()) {
        return absl::Status(made.status().code(), pai::StrCat(r.kind, " ", r.ns, "/", r.name, ": ",
                                                              made.status().message()));
      }
      uids[r.uid()] = made->uid();
      if (const json::value* st = r.object.if_contains("status"); st && st->is_object()) {
        PAI_RETURN_IF_ERROR(to.UpdateStatus(r.kind, r.ns, r.name, made->uid(), st->as_object()));
      }
      ++report.resources;
      copied.push_back(std::move(r));
    }
    if (later.size() == pending.size()) {
      return absl::FailedPreconditionError(
          pai::StrCat("ownerReferences form a cycle at ", later.front().kind, " ", later.front().ns,
                      "/", later.front().name, ": nothing more was copied"));
    }
    pending = std::move(later);
  }
  auto new_uid = [&](const std::string& old) {
    auto it = uids.find(old);
    return it == uids.end() ? old : it->second;
  };

  auto identities = from.Identities();
  if (!identities.ok()) return identities.status();
  for (server::GatewayIdentity id : *identities) {
    id.agent_uid = new_uid(id.agent_uid);
    PAI_RETURN_IF_ERROR(to.AddIdentity(id));
    ++report.identities;
  }
  auto webhooks = from.Webhooks();
  if (!webhooks.ok()) return webhooks.status();
  for (Store::Webhook w : *webhooks) {
    w.agent_uid = new_uid(w.agent_uid);
    PAI_RETURN_IF_ERROR(to.AddWebhook(w));
    ++report.webhooks;
  }

  for (const Resource& r : copied) {
    if (r.kind == "PaiFile") {
      auto versions = from.FileVersions(r.ns, r.name);
      if (!versions.ok()) return versions.status();
      for (const server::FileVersion& v : *versions) {
        auto data = from.FileVersionData(r.ns, r.name, v.version);
        if (!data.ok()) return data.status();
        auto n = to.AppendFileVersion(r.ns, r.name, *data, kAnyNumberOfVersions);
        if (!n.ok()) return n.status();
        if (*n != v.version) {
          return absl::InternalError(
              pai::StrCat("PaiFile ", r.ns, "/", r.name, ": version ", v.version, " became ", *n));
        }
        ++report.file_versions;
      }
    }
    if (r.kind == "Session") {
      auto events = from.ListEvents(r.ns, r.name, 0, {}, kAllEvents);
      if (!events.ok()) return events.status();
      for (json::object& e : *events) {
        const std::string created = Str(&e, "created_at");
        const json::value* p = e.if_contains("processed_at");
        const std::string processed = p && p->is_string() ? std::string(p->as_string()) : "";
        for (const char* k : {"id", "sequence", "created_at", "processed_at"}) e.erase(k);
        auto stored = to.AppendEvents(r.ns, r.name, {std::move(e)}, created);
        if (!stored.ok()) return stored.status();
        if (!processed.empty() && !stored->empty()) {
          PAI_RETURN_IF_ERROR(
              to.MarkEventProcessed(r.ns, r.name, Str(&stored->front(), "id"), processed));
        }
        ++report.events;
      }
    }
  }
  return report;
}

}  // namespace pai::kube
