#include "kube/store.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/json.hpp"
#include "common/json_util.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "resource/resource.h"
#include "server/json_access.h"

namespace pai::kube {
namespace {

namespace json = boost::json;
using server::FileVersion;
using server::GatewayIdentity;
using server::Obj;
using server::OwnerUids;
using server::PutResult;
using server::Resource;
using server::Store;
using server::Str;

constexpr char kSecretLabel[] = "pai.io/secret";
constexpr char kGenerationAnnotation[] = "pai.io/generation";
constexpr char kPrivateAnnotation[] = "pai.io/private-data";
constexpr char kPrivateLabel[] = "pai.io/private-of";
constexpr char kFileLabel[] = "pai.io/file";
constexpr char kFileVersionLabel[] = "pai.io/file-version";
constexpr char kIdentityLabel[] = "pai.io/identity";
constexpr char kWebhookLabel[] = "pai.io/webhook";
constexpr char kManagedBy[] = "app.kubernetes.io/managed-by";
constexpr char kSealAnnotation[] = "pai.io/seal";
constexpr char kSealKeySecret[] = "pai-seal-key";
constexpr int kAttempts = 5;  // writes retried on a conflict with another writer

const Kind& SecretKind() {
  static const Kind k{"", "v1", "Secret", "secrets", true};
  return k;
}
const Kind& ConfigMapKind() {
  static const Kind k{"", "v1", "ConfigMap", "configmaps", true};
  return k;
}

// KindFor(): where a Pai kind lives: its custom resource, or the core Secret.
absl::StatusOr<Kind> KindFor(const std::string& kind) {
  if (kind == "Secret") return SecretKind();
  const resource::KindInfo* k = resource::FindKind(kind);
  if (!k || k->kind != kind) return absl::InvalidArgumentError("unknown kind " + kind);
  return Kind{std::string(resource::kGroup), "v1", kind, std::string(k->plural), k->namespaced};
}

json::object& Sub(json::object& o, const char* key) {
  json::value& v = o[key];
  if (!v.is_object()) v = json::object();
  return v.as_object();
}

std::string MetaStr(const json::object& o, const char* key) { return Str(Obj(o, "metadata"), key); }

int64_t ToInt(const std::string& s) {
  int64_t v = 0;
  return absl::SimpleAtoi(s, &v) ? v : 0;
}

// Erase(): removes metadata.<map>.<key>, and the map when it is left empty.
void EraseMetaKey(json::object& meta, const char* map, const char* key) {
  json::value* m = meta.if_contains(map);
  if (!m || !m->is_object()) return;
  m->as_object().erase(key);
  if (m->as_object().empty()) meta.erase(map);
}

// Clean(): what a write must not carry: fields the API server sets, and status (written through
// the subresource only).
void Clean(json::object& o) {
  json::object& m = Sub(o, "metadata");
  for (const char* k : {"uid", "resourceVersion", "generation", "creationTimestamp",
                        "managedFields", "selfLink", "deletionTimestamp", "finalizers"}) {
    m.erase(k);
  }
  o.erase("status");
}

// Comparable(): the object as a write would change it (what the server sets left out).
json::object Comparable(json::object o) {
  Clean(o);
  return o;
}

std::string Lower(const std::string& s) { return absl::AsciiStrToLower(s); }

std::string PrivateName(const std::string& kind, const std::string& name) {
  return pai::StrCat("pai-private.", Lower(kind), ".", name);
}

json::object OwnerRef(const json::object& owner) {
  return {{"apiVersion", Str(&owner, "apiVersion")},
          {"kind", Str(&owner, "kind")},
          {"name", MetaStr(owner, "name")},
          {"uid", MetaStr(owner, "uid")}};
}

// ---- Pai Secret <-> core Secret ----

// SecretData(): the `data` of a Pai Secret's private part ({"data": {key: base64}}).
json::object SecretData(const std::string& private_data) {
  json::error_code ec;
  json::value v = json::parse(private_data, ec);
  if (ec || !v.is_object()) return {};
  const json::object* d = Obj(v.as_object(), "data");
  return d ? *d : json::object{};
}

Resource FromCoreSecret(json::object o) {
  Resource r;
  r.kind = "Secret";
  json::object& m = Sub(o, "metadata");
  m.erase("managedFields");
  // kubectl apply keeps the whole manifest it applied, values included: never shown.
  EraseMetaKey(m, "annotations", "kubectl.kubernetes.io/last-applied-configuration");
  r.ns = Str(&m, "namespace");
  r.name = Str(&m, "name");
  const int64_t generation =
      std::max<int64_t>(1, ToInt(Str(Obj(m, "annotations"), kGenerationAnnotation)));
  EraseMetaKey(m, "labels", kSecretLabel);
  EraseMetaKey(m, "annotations", kGenerationAnnotation);
  m["generation"] = generation;
  const json::object* data = Obj(o, "data");
  std::vector<std::string> names;
  for (const auto& [k, v] : data ? *data : json::object{}) names.emplace_back(k);
  std::sort(names.begin(), names.end());
  json::array keys;
  for (const auto& n : names) keys.emplace_back(n);
  const std::string type = Str(&o, "type");
  r.private_data = json::serialize(json::object{{"data", data ? *data : json::object{}}});
  r.object = {{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata", std::move(m)},
              {"keys", std::move(keys)},
              {"type", type.empty() ? "Opaque" : type}};
  return r;
}

json::object ToCoreSecret(const Resource& r, int64_t generation) {
  json::object o;
  o["apiVersion"] = "v1";
  o["kind"] = "Secret";
  json::object m = Obj(r.object, "metadata") ? *Obj(r.object, "metadata") : json::object{};
  m["name"] = r.name;
  m["namespace"] = r.ns;
  Sub(m, "labels")[kSecretLabel] = "true";
  Sub(m, "annotations")[kGenerationAnnotation] = std::to_string(generation);
  o["metadata"] = std::move(m);
  const std::string type = Str(&r.object, "type");
  o["type"] = type.empty() ? "Opaque" : type;
  o["data"] = SecretData(r.private_data);
  return o;
}

// ---- identities and webhooks: one Secret each, fields as data ----

json::object FieldSecret(const std::string& ns, const std::string& name, const char* label,
                         const std::vector<std::pair<const char*, std::string>>& fields) {
  json::object data;
  for (const auto& [k, v] : fields) data[k] = absl::Base64Escape(v);
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"labels", {{label, "true"}, {kManagedBy, "pai-server"}}}}},
          {"type", "Opaque"},
          {"data", std::move(data)}};
}

std::string Field(const json::object& secret, const char* key) {
  std::string out;
  absl::Base64Unescape(Str(Obj(secret, "data"), key), &out);
  return out;
}

std::string IdentityName(const std::string& id) {
  return "pai-identity-" + Sha256Hex(id).substr(0, 32);
}
std::string WebhookName(const std::string& token) {
  return "pai-webhook-" + Sha256Hex(token).substr(0, 32);
}
std::string FileVersionName(const std::string& file, int64_t version) {
  return pai::StrCat("pai-file.", file, ".v", version);
}

absl::Status IgnoreNotFound(const absl::Status& s) {
  return absl::IsNotFound(s) ? absl::OkStatus() : s;
}

// Watched: one watch: a kind, and the label selector that makes a Secret a Pai Secret.
struct Watched {
  Kind kind;
  std::string pai_kind;
  std::string selector;
};

class KubeStore final : public Store {
 public:
  explicit KubeStore(KubeStoreOptions o) : o_(std::move(o)) {
    for (const resource::KindInfo& k : resource::Kinds()) {
      auto kind = KindFor(std::string(k.kind));
      if (kind.ok()) {
        watched_.push_back({*kind, std::string(k.kind),
                            k.kind == "Secret" ? pai::StrCat(kSecretLabel, "=true") : ""});
      }
    }
  }

  ~KubeStore() override {
    {
      std::lock_guard<std::mutex> lock(version_mu_);
      stop_.store(true);
    }
    version_cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  KubeStore(const KubeStore&) = delete;
  KubeStore& operator=(const KubeStore&) = delete;

  // Start(): the first list of every kind, then the watches.
  absl::Status Start() {
    std::vector<std::string> versions;
    for (const Watched& w : watched_) {
      auto list = o_.client->List(w.kind, "", w.selector);
      if (!list.ok()) {
        return absl::Status(list.status().code(),
                            pai::StrCat("listing ", w.kind.plural, ": ", list.status().message(),
                                        absl::IsNotFound(list.status())
                                            ? " (install the CRDs: pai-server crds | kubectl "
                                              "apply -f -)"
                                            : ""));
      }
      (void)ReplaceIndex(w.pai_kind, list->items, ToInt(list->resource_version));
      Bump(ToInt(list->resource_version));
      versions.push_back(list->resource_version);
    }
    PAI_RETURN_IF_ERROR(EnsureNamespace(o_.ns));
    PAI_RETURN_IF_ERROR(LoadSealKey());
    for (size_t i = 0; i < watched_.size(); ++i) {
      threads_.emplace_back([this, i, rv = versions[i]] { WatchLoop(watched_[i], rv); });
    }
    return absl::OkStatus();
  }

  // ---- resources ----

  absl::StatusOr<Resource> Get(const std::string& kind, const std::string& ns,
                               const std::string& name) override {
    auto k = KindFor(kind);
    if (!k.ok()) return k.status();
    auto o = o_.client->Get(*k, k->namespaced ? ns : "", name);
    if (!o.ok()) return NotFoundAs(o.status(), kind, name);
    if (Deleting(*o)) return absl::NotFoundError(pai::StrCat(kind, " \"", name, "\" not found"));
    return FromApi(kind, std::move(*o));
  }

  absl::StatusOr<std::vector<Resource>> List(const std::string& kind, const std::string& ns,
                                             Scope scope) override {
    auto k = KindFor(kind);
    if (!k.ok()) return k.status();
    const bool all = scope == Scope::kAllNamespaces || !k->namespaced;
    // As in the SQLite store, namespace "" holds no namespaced object (it is not "all").
    if (!all && ns.empty()) return std::vector<Resource>{};
    auto list = o_.client->List(*k, all ? "" : ns,
                                kind == "Secret" ? pai::StrCat(kSecretLabel, "=true") : "");
    if (!list.ok()) return list.status();
    std::vector<Resource> out;
    for (json::object& o : list->items) {
      if (Deleting(o)) continue;  // gone, for Pai (its finalizers keep it a while)
      if (kind == "Secret") {
        out.push_back(FromCoreSecret(std::move(o)));
        continue;
      }
      // Private parts are read one by one: only PaiAccessTokens have one, and they are few.
      auto r = FromApi(kind, std::move(o));
      if (!r.ok()) return r.status();
      out.push_back(std::move(*r));
    }
    std::sort(out.begin(), out.end(), [](const Resource& a, const Resource& b) {
      return std::tie(a.ns, a.name) < std::tie(b.ns, b.name);
    });
    return out;
  }

  absl::StatusOr<Resource> Create(Resource r) override {
    auto k = KindFor(r.kind);
    if (!k.ok()) return k.status();
    json::object obj = r.kind == "Secret" ? ToCoreSecret(r, 1) : r.object;
    Clean(obj);  // finalizers too: a caller's would block the deletion
    Name(obj, *k, r);
    if (r.kind != "Secret") {
      EraseMetaKey(Sub(obj, "metadata"), "annotations", kPrivateAnnotation);
      if (!r.private_data.empty()) {
        Sub(Sub(obj, "metadata"), "annotations")[kPrivateAnnotation] = PrivateName(r.kind, r.name);
      }
    }
    // Pai makes a namespace by writing into it; Kubernetes needs it to exist first.
    if (k->namespaced) PAI_RETURN_IF_ERROR(EnsureNamespace(r.ns));
    auto stored = o_.client->Create(*k, obj);
    if (k->namespaced && absl::IsNotFound(stored.status())) {
      // The namespace was deleted since it was ensured: once more.
      {
        std::lock_guard<std::mutex> lock(version_mu_);
        namespaces_.erase(r.ns);
      }
      PAI_RETURN_IF_ERROR(EnsureNamespace(r.ns));
      stored = o_.client->Create(*k, obj);
    }
    if (absl::IsAlreadyExists(stored.status())) {
      return absl::AlreadyExistsError(pai::StrCat(r.kind, " \"", r.name, "\" already exists"));
    }
    if (!stored.ok()) return stored.status();
    Noted(r.kind, *stored);
    if (r.kind != "Secret") stored = Sealed(*k, std::move(*stored));
    if (r.kind != "Secret" && !r.private_data.empty()) {
      if (absl::Status s = WritePrivate(*k, *stored, r.private_data); !s.ok()) {
        // Without its private part the object is unusable (a token that cannot authenticate):
        // take it back.
        (void)o_.client->Delete(*k, k->namespaced ? r.ns : "", r.name, Propagation::kBackground);
        return s;
      }
    }
    Resource out = Decode(r.kind, std::move(*stored));
    if (r.kind != "Secret") out.private_data = r.private_data;
    return out;
  }

  absl::StatusOr<PutResult> Put(Resource r, std::optional<int64_t> expected) override {
    auto k = KindFor(r.kind);
    if (!k.ok()) return k.status();
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      auto raw = o_.client->Get(*k, k->namespaced ? r.ns : "", r.name);
      if (!raw.ok() && !absl::IsNotFound(raw.status())) return raw.status();
      if (raw.ok() && Deleting(*raw)) {
        return absl::FailedPreconditionError(pai::StrCat(
            r.kind, " \"", r.name, "\" is being deleted; write it again once it is gone"));
      }
      if (!raw.ok() || (r.kind == "Secret" && !IsPaiSecret(*raw))) {
        if (raw.ok()) {
          return absl::AlreadyExistsError(pai::StrCat(
              "Secret \"", r.name, "\" exists and is not a Pai Secret (it lacks the label ",
              kSecretLabel, "=true)"));
        }
        if (expected) {
          return absl::NotFoundError(pai::StrCat(r.kind, " \"", r.name,
                                                 "\" does not exist (a conditional update needs "
                                                 "an existing object)"));
        }
        auto created = Create(r);
        if (absl::IsAlreadyExists(created.status())) continue;  // created meanwhile: update it
        if (!created.ok()) return created.status();
        return PutResult{std::move(*created), true};
      }
      auto old = FromApi(r.kind, *raw);
      if (!old.ok()) return old.status();
      if (expected && *expected != old->resource_version()) {
        return absl::AbortedError(pai::StrCat(
            "the object has been modified: resourceVersion ", *expected, " is not the current ",
            old->resource_version(), "; read it again and retry"));
      }
      json::object obj;
      if (r.kind == "Secret") {
        const bool changed = SecretData(r.private_data) != SecretData(old->private_data) ||
                             Str(&r.object, "type") != Str(&old->object, "type");
        obj = ToCoreSecret(r, old->generation() + (changed ? 1 : 0));
        if (Comparable(obj) == Comparable(ToCoreSecret(*old, old->generation()))) {
          return PutResult{std::move(*old), false};
        }
      } else {
        obj = r.object;
        Name(obj, *k, r);
        json::object& m = Sub(obj, "metadata");
        EraseMetaKey(m, "annotations", kPrivateAnnotation);
        if (Comparable(obj) == Comparable(old->object) && r.private_data == old->private_data) {
          return PutResult{std::move(*old), false};  // nothing changed: no new resourceVersion
        }
        if (!r.private_data.empty()) {
          Sub(m, "annotations")[kPrivateAnnotation] = PrivateName(r.kind, r.name);
        }
      }
      Clean(obj);
      json::object& m = Sub(obj, "metadata");
      m["uid"] = MetaStr(*raw, "uid");
      m["resourceVersion"] = MetaStr(*raw, "resourceVersion");
      // Finalizers are not the caller's to set or drop: the stored ones stay.
      if (const json::object* rm = Obj(*raw, "metadata")) {
        if (const json::value* f = rm->if_contains("finalizers")) m["finalizers"] = *f;
      }
      auto updated = o_.client->Update(*k, obj);
      if (absl::IsAborted(updated.status()) && !expected) continue;  // another writer: again
      if (!updated.ok()) return updated.status();
      Noted(r.kind, *updated);
      if (r.kind != "Secret") updated = Sealed(*k, std::move(*updated));
      if (r.kind != "Secret" && r.private_data != old->private_data) {
        absl::Status s = r.private_data.empty()
                             ? IgnoreNotFound(o_.client->Delete(SecretKind(), PrivateNs(*k, r.ns),
                                                                PrivateName(r.kind, r.name),
                                                                Propagation::kBackground))
                             : WritePrivate(*k, *updated, r.private_data);
        if (!s.ok()) return s;
      }
      Resource out = Decode(r.kind, std::move(*updated));
      if (r.kind != "Secret") out.private_data = r.private_data;
      return PutResult{std::move(out), false};
    }
    return absl::AbortedError(
        pai::StrCat(r.kind, " \"", r.name, "\" is being written by another client; retry"));
  }

  absl::Status UpdateStatus(const std::string& kind, const std::string& ns, const std::string& name,
                            const std::string& expected_uid, const json::object& status) override {
    auto k = KindFor(kind);
    if (!k.ok()) return k.status();
    if (kind == "Secret") return absl::InvalidArgumentError("a Secret has no status");
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      auto raw = o_.client->Get(*k, k->namespaced ? ns : "", name);
      if (!raw.ok()) return NotFoundAs(raw.status(), kind, name);
      if (!expected_uid.empty() && MetaStr(*raw, "uid") != expected_uid) {
        return absl::AbortedError("the object was deleted and created again");
      }
      if (const json::value* old = raw->if_contains("status"); old && *old == json::value(status)) {
        return absl::OkStatus();
      }
      (*raw)["status"] = status;
      Sub(*raw, "metadata").erase("managedFields");
      auto updated = o_.client->UpdateStatus(*k, *raw);
      if (absl::IsAborted(updated.status())) continue;
      if (!updated.ok()) return NotFoundAs(updated.status(), kind, name);
      Noted(kind, *updated);
      return absl::OkStatus();
    }
    return absl::AbortedError(pai::StrCat(kind, " \"", name, "\": status conflicts; retry"));
  }

  absl::StatusOr<std::vector<Resource>> Delete(const std::string& kind, const std::string& ns,
                                               const std::string& name) override {
    auto root = Get(kind, ns, name);
    if (!root.ok()) return root.status();
    std::vector<Resource> order{*root};
    if (root->ns.empty()) {
      // Cluster-scoped (PaiAccessToken): nothing Pai makes is owned by one.
    } else {
      // Dependents, found from every kind of the namespace (as the garbage collector would, but
      // at once, so that the caller can stop what they run).
      std::map<std::string, std::vector<Resource>> by_owner;
      for (const Watched& w : watched_) {
        if (!w.kind.namespaced) continue;
        auto all = List(w.pai_kind, ns, Scope::kNamespace);
        if (!all.ok()) return all.status();
        for (Resource& r : *all) {
          for (const std::string& uid : OwnerUids(r.object)) by_owner[uid].push_back(r);
        }
      }
      std::set<std::string> seen{root->uid()};
      for (size_t i = 0; i < order.size(); ++i) {
        auto it = by_owner.find(order[i].uid());
        if (it == by_owner.end()) continue;
        for (Resource& dep : it->second) {
          if (seen.insert(dep.uid()).second) order.push_back(dep);
        }
      }
    }
    // Dependents first: a failure part-way leaves the root, and the call can be repeated.
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      auto k = KindFor(it->kind);
      if (!k.ok()) return k.status();
      PAI_RETURN_IF_ERROR(IgnoreNotFound(
          o_.client->Delete(*k, k->namespaced ? it->ns : "", it->name, Propagation::kBackground)));
      Forget(it->kind, it->ns, it->name);
      // What it owns outside the Pai kinds goes too (the garbage collector would; not later).
      if (it->kind != "Secret" && !it->private_data.empty()) {
        PAI_RETURN_IF_ERROR(IgnoreNotFound(o_.client->Delete(SecretKind(), PrivateNs(*k, it->ns),
                                                             PrivateName(it->kind, it->name),
                                                             Propagation::kBackground)));
      }
      if (it->kind == "PaiFile") {
        auto versions = FileConfigMaps(it->ns, it->name);
        if (!versions.ok()) return versions.status();
        for (const json::object& cm : *versions) {
          PAI_RETURN_IF_ERROR(IgnoreNotFound(o_.client->Delete(
              ConfigMapKind(), it->ns, MetaStr(cm, "name"), Propagation::kBackground)));
        }
      }
      if (it->kind == "Session") {
        PAI_RETURN_IF_ERROR(o_.events->DeleteEvents(it->ns, pai::StrCat(it->name, "@", it->uid())));
      }
    }
    return order;
  }

  absl::StatusOr<std::vector<std::string>> Namespaces() override {
    std::lock_guard<std::mutex> lock(version_mu_);
    for (const auto& [kind, error] : watch_errors_) {
      if (!error.empty()) {
        return absl::UnavailableError(pai::StrCat("watching ", kind, ": ", error));
      }
    }
    std::set<std::string> out;
    for (const auto& [kind, objects] : index_) {
      for (const auto& [key, seen] : objects) {
        if (!seen.ns.empty()) out.insert(seen.ns);
      }
    }
    return std::vector<std::string>(out.begin(), out.end());
  }

  // ---- gateway identities ----

  absl::Status AddIdentity(const GatewayIdentity& id) override {
    auto made = o_.client->Create(SecretKind(), IdentitySecret(id));
    if (!made.ok()) return made.status();
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<GatewayIdentity>> Identities() override {
    auto list = o_.client->List(SecretKind(), o_.ns, pai::StrCat(kIdentityLabel, "=true"));
    if (!list.ok()) return list.status();
    std::vector<GatewayIdentity> out;
    for (const json::object& s : list->items) {
      out.push_back({Field(s, "id"), Field(s, "namespace"), Field(s, "agent"),
                     Field(s, "agent_uid"), Field(s, "purpose"), Field(s, "token"),
                     Field(s, "created"), Field(s, "revoked")});
    }
    std::sort(out.begin(), out.end(), [](const GatewayIdentity& a, const GatewayIdentity& b) {
      return std::tie(a.created, a.id) < std::tie(b.created, b.id);
    });
    return out;
  }

  absl::Status MarkIdentityRevoked(const std::string& id, const std::string& when) override {
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      auto s = o_.client->Get(SecretKind(), o_.ns, IdentityName(id));
      if (absl::IsNotFound(s.status())) return absl::NotFoundError("no such gateway token");
      if (!s.ok()) return s.status();
      GatewayIdentity g{Field(*s, "id"),      Field(*s, "namespace"),
                        Field(*s, "agent"),   Field(*s, "agent_uid"),
                        Field(*s, "purpose"), "",
                        Field(*s, "created"), when};
      // The plaintext of a revoked identity is of no further use: dropped.
      json::object next = IdentitySecret(g);
      Sub(next, "metadata")["resourceVersion"] = MetaStr(*s, "resourceVersion");
      auto updated = o_.client->Update(SecretKind(), next);
      if (absl::IsAborted(updated.status())) continue;
      return updated.status();
    }
    return absl::AbortedError("gateway token: conflicting writers; retry");
  }

  // ---- PaiFile versions ----

  absl::StatusOr<int64_t> AppendFileVersion(const std::string& ns, const std::string& name,
                                            const std::string& data,
                                            int64_t max_versions) override {
    std::lock_guard<std::mutex> lock(file_mu_);
    auto versions = FileVersions(ns, name);
    if (!versions.ok()) return versions.status();
    const std::string sha = Sha256Hex(data);
    const int64_t newest = versions->empty() ? 0 : versions->back().version;
    if (newest > 0 && versions->back().sha256 == sha) return newest;
    PAI_RETURN_IF_ERROR(server::CheckFileVersionLimit(name, newest, max_versions));
    json::object meta{{"name", FileVersionName(name, newest + 1)},
                      {"namespace", ns},
                      {"labels",
                       {{kFileLabel, name},
                        {kFileVersionLabel, std::to_string(newest + 1)},
                        {kManagedBy, "pai-server"}}},
                      {"annotations",
                       {{"pai.io/sha256", sha},
                        {"pai.io/size", std::to_string(server::Base64DecodedSize(data))},
                        {"pai.io/created", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(),
                                                            absl::UTCTimeZone())}}}};
    // Owned by the PaiFile: deleted with it by the garbage collector, whoever deletes it.
    if (auto file = o_.client->Get(*KindFor("PaiFile"), ns, name); file.ok()) {
      meta["ownerReferences"] = json::array{OwnerRef(*file)};
    }
    auto made = o_.client->Create(ConfigMapKind(), json::object{{"apiVersion", "v1"},
                                                                {"kind", "ConfigMap"},
                                                                {"metadata", std::move(meta)},
                                                                {"data", {{"content", data}}}});
    if (absl::IsAlreadyExists(made.status())) {
      return absl::AbortedError(pai::StrCat("PaiFile \"", name, "\": version ", newest + 1,
                                            " was written by another server; retry"));
    }
    if (!made.ok()) return made.status();
    Bump(ToInt(MetaStr(*made, "resourceVersion")));  // a status-worthy change
    return newest + 1;
  }

  absl::StatusOr<std::vector<FileVersion>> FileVersions(const std::string& ns,
                                                        const std::string& name) override {
    auto cms = FileConfigMaps(ns, name);
    if (!cms.ok()) return cms.status();
    std::vector<FileVersion> out;
    for (const json::object& cm : *cms) {
      const json::object* a = Obj(*Obj(cm, "metadata"), "annotations");
      out.push_back({ToInt(Str(Obj(*Obj(cm, "metadata"), "labels"), kFileVersionLabel)),
                     Str(a, "pai.io/sha256"), ToInt(Str(a, "pai.io/size")),
                     Str(a, "pai.io/created")});
    }
    std::sort(out.begin(), out.end(),
              [](const FileVersion& a, const FileVersion& b) { return a.version < b.version; });
    return out;
  }

  absl::StatusOr<std::string> FileVersionData(const std::string& ns, const std::string& name,
                                              int64_t version) override {
    auto cm = o_.client->Get(ConfigMapKind(), ns, FileVersionName(name, version));
    if (absl::IsNotFound(cm.status())) {
      return absl::NotFoundError(pai::StrCat("PaiFile \"", name, "\" has no version ", version));
    }
    if (!cm.ok()) return cm.status();
    return Str(Obj(*cm, "data"), "content");
  }

  // ---- Session events: kept by the events store ----

  absl::StatusOr<std::vector<json::object>> AppendEvents(const std::string& ns,
                                                         const std::string& session,
                                                         std::vector<json::object> events,
                                                         const std::string& now) override {
    auto key = EventsKey(ns, session);
    if (!key.ok()) return key.status();
    return o_.events->AppendEvents(ns, *key, std::move(events), now);
  }
  absl::StatusOr<std::vector<json::object>> ListEvents(const std::string& ns,
                                                       const std::string& session, int64_t after,
                                                       const std::vector<std::string>& types,
                                                       int64_t limit) override {
    auto key = EventsKey(ns, session);
    if (absl::IsNotFound(key.status())) return std::vector<json::object>{};
    if (!key.ok()) return key.status();
    return o_.events->ListEvents(ns, *key, after, types, limit);
  }
  absl::Status MarkEventProcessed(const std::string& ns, const std::string& session,
                                  const std::string& event_id, const std::string& when) override {
    auto key = EventsKey(ns, session);
    if (!key.ok()) return key.status();
    return o_.events->MarkEventProcessed(ns, *key, event_id, when);
  }
  absl::Status DeleteEvents(const std::string& ns, const std::string& session) override {
    auto key = EventsKey(ns, session);
    if (absl::IsNotFound(key.status())) return absl::OkStatus();
    if (!key.ok()) return key.status();
    return o_.events->DeleteEvents(ns, *key);
  }

  // ---- webhooks ----

  absl::Status AddWebhook(const Webhook& w) override {
    auto made =
        o_.client->Create(SecretKind(), FieldSecret(o_.ns, WebhookName(w.token), kWebhookLabel,
                                                    {{"token", w.token},
                                                     {"namespace", w.ns},
                                                     {"agent", w.agent},
                                                     {"agent_uid", w.agent_uid}}));
    return made.status();
  }

  absl::StatusOr<std::vector<Webhook>> Webhooks() override {
    auto list = o_.client->List(SecretKind(), o_.ns, pai::StrCat(kWebhookLabel, "=true"));
    if (!list.ok()) return list.status();
    std::vector<Webhook> out;
    for (const json::object& s : list->items) {
      out.push_back(
          {Field(s, "token"), Field(s, "namespace"), Field(s, "agent"), Field(s, "agent_uid")});
    }
    return out;
  }

  absl::Status DeleteWebhook(const std::string& token) override {
    return IgnoreNotFound(
        o_.client->Delete(SecretKind(), o_.ns, WebhookName(token), Propagation::kBackground));
  }

  // ---- change notification ----

  int64_t Version() override {
    std::lock_guard<std::mutex> lock(version_mu_);
    return version_;
  }

  int64_t WaitForChange(int64_t seen, std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(version_mu_);
    version_cv_.wait_for(lock, timeout, [&] { return version_ > seen || stop_.load(); });
    return version_;
  }

 private:
  // Deleting(): the object has a deletionTimestamp (finalizers hold it): for Pai it is gone.
  static bool Deleting(const json::object& o) {
    const json::object* m = Obj(o, "metadata");
    return m && m->contains("deletionTimestamp");
  }

  static bool IsPaiSecret(const json::object& o) {
    return Str(Obj(*Obj(o, "metadata"), "labels"), kSecretLabel) == "true";
  }

  static absl::Status NotFoundAs(const absl::Status& s, const std::string& kind,
                                 const std::string& name) {
    if (!absl::IsNotFound(s)) return s;
    return absl::NotFoundError(pai::StrCat(kind, " \"", name, "\" not found"));
  }

  // Name(): metadata.name and namespace from the record (what the URL names).
  static void Name(json::object& obj, const Kind& k, const Resource& r) {
    json::object& m = Sub(obj, "metadata");
    m["name"] = r.name;
    if (k.namespaced) {
      m["namespace"] = r.ns;
    } else {
      m.erase("namespace");
    }
    obj["apiVersion"] = k.api_version();
    obj["kind"] = k.kind;
  }

  // EnsureNamespace(): creates namespace `ns` unless it exists (once per namespace and process).
  absl::Status EnsureNamespace(const std::string& ns) {
    static const Kind kNamespace{"", "v1", "Namespace", "namespaces", false};
    {
      std::lock_guard<std::mutex> lock(version_mu_);
      if (namespaces_.contains(ns)) return absl::OkStatus();
    }
    auto got = o_.client->Get(kNamespace, "", ns);
    if (absl::IsNotFound(got.status())) {
      auto made = o_.client->Create(
          kNamespace,
          json::object{{"apiVersion", "v1"},
                       {"kind", "Namespace"},
                       {"metadata", {{"name", ns}, {"labels", {{kManagedBy, "pai-server"}}}}}});
      if (!made.ok() && !absl::IsAlreadyExists(made.status())) return made.status();
    } else if (!got.ok()) {
      return got.status();
    }
    std::lock_guard<std::mutex> lock(version_mu_);
    namespaces_.insert(ns);
    return absl::OkStatus();
  }

  std::string PrivateNs(const Kind& k, const std::string& ns) const {
    return k.namespaced ? ns : o_.ns;
  }

  // Decode(): the record of an object as the API server returns it (private part not read).
  // Decode(): the record of an object as the API server returns it (private part not read).
  // The authorship annotations (pai.io/created-by, pai.io/last-applied-by: the access tokens
  // that wrote it, which the controller trusts for apiKeyEnv and a creator's environment) are
  // believed only under a valid seal; otherwise the object was written by another client
  // (kubectl, a GitOps tool) and reads as last applied by "kubernetes", a name no token has.
  Resource Decode(const std::string& kind, json::object o) const {
    if (kind == "Secret") return FromCoreSecret(std::move(o));
    Resource r;
    r.kind = kind;
    json::object& m = Sub(o, "metadata");
    m.erase("managedFields");
    r.ns = Str(&m, "namespace");
    r.name = Str(&m, "name");
    EraseMetaKey(m, "annotations", kPrivateAnnotation);
    const std::string seal = Str(Obj(m, "annotations"), kSealAnnotation);
    EraseMetaKey(m, "annotations", kSealAnnotation);
    if (seal.empty() || seal != Seal(kind, o)) {
      EraseMetaKey(m, "annotations", "pai.io/created-by");
      Sub(m, "annotations")["pai.io/last-applied-by"] = "kubernetes";
    }
    r.object = std::move(o);
    return r;
  }

  // Seal(): HMAC-SHA256, with the store's key, of what the authorship annotations vouch for:
  // the object (kind, namespace, name, uid), its generation — which any change of the spec by
  // anyone moves — and the two annotations.
  std::string Seal(const std::string& kind, const json::object& o) const {
    const json::object* m = Obj(o, "metadata");
    const json::object* ann = m ? Obj(*m, "annotations") : nullptr;
    const json::value* gen = m ? m->if_contains("generation") : nullptr;
    const std::string input =
        pai::StrCat(kind, "\n", Str(m, "namespace"), "\n", Str(m, "name"), "\n", Str(m, "uid"),
                    "\n", gen && gen->is_int64() ? gen->as_int64() : -1, "\n",
                    Str(ann, "pai.io/created-by"), "\n", Str(ann, "pai.io/last-applied-by"));
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), seal_key_.data(), static_cast<int>(seal_key_.size()),
              reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len)) {
      return "";
    }
    return HexEncode(mac, len);
  }

  // Sealed(): `stored` (just written by this store) with its seal: a second, metadata-only
  // update (it leaves the generation alone). When another client wrote in between, the object
  // stays unsealed (read as written by "kubernetes").
  json::object Sealed(const Kind& k, json::object stored) {
    const std::string seal = Seal(k.kind, stored);
    if (seal.empty()) return stored;
    json::object next = stored;
    Sub(Sub(next, "metadata"), "annotations")[kSealAnnotation] = seal;
    Sub(next, "metadata").erase("managedFields");
    auto updated = o_.client->Update(k, next);
    if (!updated.ok()) {
      log::Warn("kubernetes store: could not seal a write",
                {{"kind", k.kind},
                 {"name", MetaStr(stored, "name")},
                 {"error", std::string(updated.status().message())}});
      return stored;
    }
    Noted(k.kind, *updated);
    return std::move(*updated);
  }

  // LoadSealKey(): the seal key, kept in the Secret pai-seal-key of the server's namespace
  // (created with 32 random bytes at the first start).
  absl::Status LoadSealKey() {
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      auto s = o_.client->Get(SecretKind(), o_.ns, kSealKeySecret);
      if (s.ok()) {
        seal_key_ = Field(*s, "key");
        if (seal_key_.size() < 32) {
          return absl::FailedPreconditionError(
              pai::StrCat("Secret ", o_.ns, "/", kSealKeySecret, ": key shorter than 32 bytes"));
        }
        return absl::OkStatus();
      }
      if (!absl::IsNotFound(s.status())) return s.status();
      std::string key(32, '\0');
      if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), 32) != 1) {
        return absl::InternalError("no randomness");
      }
      auto made = o_.client->Create(
          SecretKind(), FieldSecret(o_.ns, kSealKeySecret, "pai.io/seal-key", {{"key", key}}));
      if (!made.ok() && !absl::IsAlreadyExists(made.status())) return made.status();
    }
    return absl::AbortedError("the seal key: conflicting writers");
  }

  // FromApi(): Decode() and, when the object has one, its private part.
  absl::StatusOr<Resource> FromApi(const std::string& kind, json::object o) {
    if (kind == "Secret" && !IsPaiSecret(o)) {
      return absl::NotFoundError(
          pai::StrCat("Secret \"", MetaStr(o, "name"), "\" not found (not a Pai Secret)"));
    }
    const std::string private_name =
        kind == "Secret" ? "" : Str(Obj(*Obj(o, "metadata"), "annotations"), kPrivateAnnotation);
    Resource r = Decode(kind, std::move(o));
    if (private_name.empty()) return r;
    auto k = KindFor(kind);
    auto s = o_.client->Get(SecretKind(), PrivateNs(*k, r.ns), private_name);
    if (absl::IsNotFound(s.status())) return r;  // being written, or gone: none
    if (!s.ok()) return s.status();
    r.private_data = Field(*s, "private");
    return r;
  }

  // WritePrivate(): the companion Secret of `owner`, created or replaced.
  absl::Status WritePrivate(const Kind& k, const json::object& owner, const std::string& data) {
    const std::string name = MetaStr(owner, "name");
    json::object s = FieldSecret(PrivateNs(k, MetaStr(owner, "namespace")),
                                 PrivateName(k.kind, name), kPrivateLabel, {{"private", data}});
    json::object& m = Sub(s, "metadata");
    Sub(m, "labels")[kPrivateLabel] = Lower(k.kind);
    m["ownerReferences"] = json::array{OwnerRef(owner)};
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      auto made = o_.client->Create(SecretKind(), s);
      if (!absl::IsAlreadyExists(made.status())) return made.status();
      auto old = o_.client->Get(SecretKind(), Str(&m, "namespace"), Str(&m, "name"));
      if (absl::IsNotFound(old.status())) continue;
      if (!old.ok()) return old.status();
      m["resourceVersion"] = MetaStr(*old, "resourceVersion");
      auto updated = o_.client->Update(SecretKind(), s);
      if (!absl::IsAborted(updated.status())) return updated.status();
      m.erase("resourceVersion");
    }
    return absl::AbortedError("private data: conflicting writers; retry");
  }

  json::object IdentitySecret(const GatewayIdentity& id) const {
    return FieldSecret(o_.ns, IdentityName(id.id), kIdentityLabel,
                       {{"id", id.id},
                        {"namespace", id.ns},
                        {"agent", id.agent},
                        {"agent_uid", id.agent_uid},
                        {"purpose", id.purpose},
                        {"token", id.token},
                        {"created", id.created},
                        {"revoked", id.revoked}});
  }

  absl::StatusOr<std::vector<json::object>> FileConfigMaps(const std::string& ns,
                                                           const std::string& name) {
    // Metadata only: every field of a FileVersion is a label or an annotation, and a version's
    // content may be a MiB.
    auto list = o_.client->ListMetadata(ConfigMapKind(), ns, pai::StrCat(kFileLabel, "=", name));
    if (!list.ok()) return list.status();
    return std::move(list->items);
  }

  // ---- the watches ----

  void Bump(int64_t v) {
    {
      std::lock_guard<std::mutex> lock(version_mu_);
      if (v <= version_) return;
      version_ = v;
    }
    version_cv_.notify_all();
  }

  // Noted(): an object this store wrote: the index and the version follow at once (the watch
  // repeats it).
  void Noted(const std::string& kind, const json::object& o) {
    {
      std::lock_guard<std::mutex> lock(version_mu_);
      IndexLocked(kind, o);
    }
    Bump(ToInt(MetaStr(o, "resourceVersion")));
  }

  // IndexLocked(): records `o` unless the index holds a newer state of the same name (a watch
  // event can arrive after this store's own write of a later one).
  void IndexLocked(const std::string& kind, const json::object& o) {
    const std::string ns = MetaStr(o, "namespace");
    const int64_t rv = ToInt(MetaStr(o, "resourceVersion"));
    Seen& seen = index_[kind][pai::StrCat(ns, "/", MetaStr(o, "name"))];
    if (seen.rv > rv) return;
    seen = Seen{ns, MetaStr(o, "uid"), rv};
  }

  // UnindexLocked(): forgets a deleted object, unless the name now holds another one.
  void UnindexLocked(const std::string& kind, const json::object& o) {
    auto& objects = index_[kind];
    auto it = objects.find(pai::StrCat(MetaStr(o, "namespace"), "/", MetaStr(o, "name")));
    if (it != objects.end() && it->second.uid == MetaStr(o, "uid")) objects.erase(it);
  }

  void Forget(const std::string& kind, const std::string& ns, const std::string& name) {
    std::lock_guard<std::mutex> lock(version_mu_);
    index_[kind].erase(pai::StrCat(ns, "/", name));
  }

  // ReplaceIndex(): the index of `kind` from a list taken at `list_rv`. Returns the objects that
  // vanished (deleted while no watch ran) as "ns/name@uid" — entries newer than the list
  // (this store's own writes since) stay.
  std::vector<std::pair<std::string, std::string>> ReplaceIndex(
      const std::string& kind, const std::vector<json::object>& items, int64_t list_rv) {
    std::lock_guard<std::mutex> lock(version_mu_);
    std::map<std::string, Seen> next;
    for (const json::object& o : items) {
      next[pai::StrCat(MetaStr(o, "namespace"), "/", MetaStr(o, "name"))] =
          Seen{MetaStr(o, "namespace"), MetaStr(o, "uid"), ToInt(MetaStr(o, "resourceVersion"))};
    }
    std::vector<std::pair<std::string, std::string>> vanished;  // {ns, name@uid}
    for (auto& [key, seen] : index_[kind]) {
      auto it = next.find(key);
      if (seen.rv > list_rv && (it == next.end() || it->second.rv < seen.rv)) {
        next[key] = seen;  // written after the list was taken
        continue;
      }
      if ((it == next.end() || it->second.uid != seen.uid) && !seen.uid.empty()) {
        vanished.emplace_back(seen.ns, pai::StrCat(key.substr(key.find('/') + 1), "@", seen.uid));
      }
    }
    index_[kind] = std::move(next);
    watch_errors_[kind].clear();
    return vanished;
  }

  // EventsKey(): where a Session's events are kept in the events store: its name and uid, so
  // that a Session deleted while pai-server was down never lends its events to a new one of
  // the same name. NotFound when the Session does not exist.
  absl::StatusOr<std::string> EventsKey(const std::string& ns, const std::string& session) {
    {
      std::lock_guard<std::mutex> lock(version_mu_);
      auto& sessions = index_["Session"];
      auto it = sessions.find(pai::StrCat(ns, "/", session));
      if (it != sessions.end() && !it->second.uid.empty()) {
        return pai::StrCat(session, "@", it->second.uid);
      }
    }
    auto r = Get("Session", ns, session);  // made by another client, not seen yet
    if (!r.ok()) return r.status();
    return pai::StrCat(session, "@", r->uid());
  }

  void SetError(const std::string& kind, const absl::Status& s) {
    std::lock_guard<std::mutex> lock(version_mu_);
    watch_errors_[kind] = std::string(s.message());
  }

  // Pause(): waits `d`, or less when the store is being destroyed.
  void Pause(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(version_mu_);
    version_cv_.wait_for(lock, d, [&] { return stop_.load(); });
  }

  void WatchLoop(const Watched& w, std::string rv) {
    while (!stop_.load()) {
      if (rv.empty()) {  // (re)list: the index is rebuilt, and any missed change counts
        auto list = o_.client->List(w.kind, "", w.selector);
        if (!list.ok()) {
          SetError(w.pai_kind, list.status());
          Pause(std::chrono::seconds(1));
          continue;
        }
        const auto vanished = ReplaceIndex(w.pai_kind, list->items, ToInt(list->resource_version));
        // Sessions deleted while the watch was down take their events along too.
        if (w.pai_kind == "Session") {
          for (const auto& [ns, key] : vanished) (void)o_.events->DeleteEvents(ns, key);
        }
        rv = list->resource_version;
        Bump(ToInt(rv));
      }
      const auto began = std::chrono::steady_clock::now();
      absl::Status s = o_.client->Watch(
          w.kind, "", w.selector, rv, o_.watch_timeout_seconds, stop_, [&](const WatchEvent& ev) {
            const std::string at = MetaStr(ev.object, "resourceVersion");
            if (!at.empty()) rv = at;
            if (ev.type == "BOOKMARK") return true;
            const std::string ns = MetaStr(ev.object, "namespace");
            const std::string name = MetaStr(ev.object, "name");
            {
              std::lock_guard<std::mutex> lock(version_mu_);
              if (ev.type == "DELETED") {
                UnindexLocked(w.pai_kind, ev.object);
              } else {
                IndexLocked(w.pai_kind, ev.object);
              }
              watch_errors_[w.pai_kind].clear();
            }
            // A Session deleted by anyone (kubectl too) takes its events along.
            if (ev.type == "DELETED" && w.pai_kind == "Session") {
              (void)o_.events->DeleteEvents(ns, pai::StrCat(name, "@", MetaStr(ev.object, "uid")));
            }
            Bump(ToInt(at));
            return true;
          });
      if (stop_.load()) break;
      if (s.ok()) {  // the server ended the watch: go on from `rv` (not in a tight loop)
        if (std::chrono::steady_clock::now() - began < std::chrono::seconds(1)) {
          Pause(std::chrono::seconds(1));
        }
        continue;
      }
      if (!absl::IsOutOfRange(s)) {
        SetError(w.pai_kind, s);
        Pause(std::chrono::seconds(1));
      }
      rv.clear();
    }
  }

  KubeStoreOptions o_;
  std::string seal_key_;  // HMAC key of the authorship seals (LoadSealKey(), then read-only)
  std::vector<Watched> watched_;
  std::mutex file_mu_;  // one AppendFileVersion at a time (version numbers)
  std::mutex version_mu_;
  std::condition_variable version_cv_;
  int64_t version_ = 0;
  // What the watches (and this store's own writes) saw: kind → "ns/name" → the object.
  struct Seen {
    std::string ns;
    std::string uid;
    int64_t rv = 0;
  };
  std::map<std::string, std::map<std::string, Seen>> index_;
  std::map<std::string, std::string> watch_errors_;  // kind → last error
  std::set<std::string> namespaces_;                 // known to exist
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<server::Store>> NewKubeStore(KubeStoreOptions options) {
  if (!options.client || !options.events) {
    return absl::InvalidArgumentError("NewKubeStore: a client and an events store are required");
  }
  auto store = std::make_unique<KubeStore>(std::move(options));
  PAI_RETURN_IF_ERROR(store->Start());
  return store;
}

std::vector<Permission> StorePermissions() {
  // Exactly what store.cc calls: the pai.io resources (get, list, watch, create, update, delete;
  // status updates; finalizers, because an ownerReference with blockOwnerDeletion needs them on
  // clusters that enforce it), Secrets (Pai Secrets, private parts, identities, webhooks) and
  // ConfigMaps (PaiFile versions), and the server's own namespace.
  std::vector<Permission> out;
  const std::vector<std::string> rw = {"get", "list", "watch", "create", "update", "delete"};
  const std::string group(resource::kGroup);
  for (const resource::KindInfo& k : resource::Kinds()) {
    if (k.api_version == resource::kApiVersion) out.push_back({group, std::string(k.plural), rw});
  }
  // Status updates: the kinds whose CRD has the status subresource.
  if (auto crds = resource::CustomResourceDefinitions(); crds.ok()) {
    for (const json::value& crd : *crds) {
      const json::object* spec = crd.is_object() ? Obj(crd.as_object(), "spec") : nullptr;
      const json::value* versions = spec ? spec->if_contains("versions") : nullptr;
      if (!versions || !versions->is_array()) continue;
      for (const json::value& v : versions->as_array()) {
        const json::object* sub = v.is_object() ? Obj(v.as_object(), "subresources") : nullptr;
        if (sub && sub->contains("status")) {
          out.push_back({group, Str(Obj(*spec, "names"), "plural") + "/status", {"update"}});
        }
      }
    }
  }
  for (const resource::KindInfo& k : resource::Kinds()) {
    if (k.api_version == resource::kApiVersion) {
      out.push_back({group, pai::StrCat(k.plural, "/finalizers"), {"update"}});
    }
  }
  out.push_back({"", "secrets", rw});
  out.push_back({"", "configmaps", {"get", "list", "create", "delete"}});
  out.push_back({"", "namespaces", {"get", "create"}});
  return out;
}

}  // namespace pai::kube
