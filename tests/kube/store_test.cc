// The Kubernetes store (kube/store.h) over an in-memory kube::Client with the API server's
// semantics for what the store uses (uids, generation moved by everything but metadata and
// status, resourceVersion preconditions, the status subresource, label selectors, watches), run
// under ThreadSanitizer too: the watch threads against the callers. The HTTP client, the wire
// format and the real binaries are tested end to end in tests/integration/kube_store.test.mjs.
#include "kube/store.h"

#include <stdlib.h>

#include <atomic>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>

namespace pai::kube {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using server::Resource;
using server::Store;

std::string Meta(const json::object& o, const char* key) {
  const json::value* m = o.if_contains("metadata");
  const json::value* v = m && m->is_object() ? m->as_object().if_contains(key) : nullptr;
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

bool Selected(const json::object& o, const std::string& selector) {
  if (selector.empty()) return true;
  const size_t eq = selector.find('=');
  const json::value* m = o.if_contains("metadata");
  const json::value* labels = m ? m->as_object().if_contains("labels") : nullptr;
  const json::value* v = labels && labels->is_object()
                             ? labels->as_object().if_contains(selector.substr(0, eq))
                             : nullptr;
  return v && v->is_string() && v->as_string() == selector.substr(eq + 1);
}

// FakeApi: objects by plural/namespace/name, one resourceVersion counter, every change kept for
// watches. Thread-safe.
class FakeApi final : public Client {
 public:
  absl::StatusOr<json::object> Get(const Kind& k, const std::string& ns,
                                   const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(Key(k, ns, name));
    if (it == objects_.end()) return absl::NotFoundError(name + " not found");
    return it->second;
  }
  absl::StatusOr<ObjectList> List(const Kind& k, const std::string& ns,
                                  const std::string& selector) override {
    std::lock_guard<std::mutex> lock(mu_);
    ObjectList out;
    for (const auto& [key, o] : objects_) {
      if (key.rfind(k.plural + "|", 0) != 0) continue;
      if (!ns.empty() && Meta(o, "namespace") != ns) continue;
      if (Selected(o, selector)) out.items.push_back(o);
    }
    out.resource_version = std::to_string(rv_);
    return out;
  }
  absl::StatusOr<json::object> Create(const Kind& k, const json::object& object) override {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string key = Key(k, Meta(object, "namespace"), Meta(object, "name"));
    if (objects_.contains(key)) return absl::AlreadyExistsError(Meta(object, "name") + " exists");
    json::object o = object;
    o.erase("status");
    json::object& m = o["metadata"].as_object();
    m["uid"] = "uid-" + std::to_string(++uids_);
    m["generation"] = 1;
    m["resourceVersion"] = std::to_string(++rv_);
    objects_[key] = o;
    Record(k, "ADDED", o);
    return o;
  }
  absl::StatusOr<json::object> Update(const Kind& k, const json::object& object) override {
    return Write(k, object, false);
  }
  absl::StatusOr<json::object> UpdateStatus(const Kind& k, const json::object& object) override {
    return Write(k, object, true);
  }
  absl::StatusOr<json::object> Apply(const json::object&) override {
    return absl::UnimplementedError("not used by the store");
  }
  absl::Status Delete(const Kind& k, const std::string& ns, const std::string& name,
                      Propagation) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(Key(k, ns, name));
    if (it == objects_.end()) return absl::NotFoundError(name + " not found");
    json::object o = it->second;
    objects_.erase(it);
    o["metadata"].as_object()["resourceVersion"] = std::to_string(++rv_);
    Record(k, "DELETED", o);
    return absl::OkStatus();
  }
  absl::Status Watch(const Kind& k, const std::string& ns, const std::string& selector,
                     const std::string& resource_version, int timeout_seconds,
                     const std::atomic<bool>& stop,
                     const std::function<bool(WatchEvent)>& on_event) override {
    int64_t from = std::stoll(resource_version);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
    {
      std::lock_guard<std::mutex> lock(watches_mu_);
      ++watches_;
    }
    watches_cv_.notify_all();
    while (!stop.load() && std::chrono::steady_clock::now() < deadline) {
      std::vector<WatchEvent> due;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, 20ms);
        for (const auto& [at, plural, ev] : history_) {
          if (at <= from || plural != k.plural) continue;
          if (!ns.empty() && Meta(ev.object, "namespace") != ns) continue;
          if (Selected(ev.object, selector)) due.push_back(ev);
        }
        from = rv_;
      }
      for (WatchEvent& ev : due) {
        if (!on_event(std::move(ev))) return absl::CancelledError("stopped");
      }
    }
    return stop.load() ? absl::CancelledError("stopped") : absl::OkStatus();
  }
  absl::StatusOr<std::string> PodLogs(const std::string&, const std::string&, const std::string&,
                                      int64_t) override {
    return absl::UnimplementedError("not used by the store");
  }
  absl::Status FollowPodLog(const std::string&, const std::string&, const std::string&,
                            const std::atomic<bool>&,
                            const std::function<bool(std::string_view)>&) override {
    return absl::UnimplementedError("not used by the store");
  }

  // What another client (kubectl) would do.
  void Foreign(const Kind& k, const json::object& o) {
    auto existing = Get(k, Meta(o, "namespace"), Meta(o, "name"));
    if (!existing.ok()) {
      REQUIRE(Create(k, o).ok());
      return;
    }
    json::object next = o;
    next["metadata"].as_object()["resourceVersion"] = Meta(*existing, "resourceVersion");
    REQUIRE(Update(k, next).ok());
  }
  int updates() {
    std::lock_guard<std::mutex> lock(mu_);
    return updates_;
  }
  // WaitForWatches(): whether at least n watches were made within `timeout` (they are made by
  // the store's watch thread, in its own time).
  bool WaitForWatches(int n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(watches_mu_);
    return watches_cv_.wait_for(lock, timeout, [&] { return watches_ >= n; });
  }

 private:
  static std::string Key(const Kind& k, const std::string& ns, const std::string& name) {
    return k.plural + "|" + (k.namespaced ? ns : "") + "|" + name;
  }
  void Record(const Kind& k, const char* type, const json::object& o) {
    history_.emplace_back(rv_, k.plural, WatchEvent{type, o});
    cv_.notify_all();
  }
  absl::StatusOr<json::object> Write(const Kind& k, const json::object& object, bool status) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(Key(k, Meta(object, "namespace"), Meta(object, "name")));
    if (it == objects_.end()) return absl::NotFoundError("not found");
    if (Meta(object, "resourceVersion") != Meta(it->second, "resourceVersion")) {
      return absl::AbortedError("the object has been modified");
    }
    json::object next = it->second;
    if (status) {
      next["status"] = object.contains("status") ? object.at("status") : json::value();
    } else {
      auto body = [](json::object o) {
        o.erase("metadata");
        o.erase("status");
        return o;
      };
      const bool changed = body(object) != body(it->second);
      next = object;
      json::object& m = next["metadata"].as_object();
      const json::object& old = it->second.at("metadata").as_object();
      m["uid"] = old.at("uid");
      m["generation"] = old.at("generation").as_int64() + (changed && k.group == "pai.io" ? 1 : 0);
      if (it->second.contains("status")) next["status"] = it->second.at("status");
      ++updates_;
    }
    next["metadata"].as_object()["resourceVersion"] = std::to_string(++rv_);
    it->second = next;
    Record(k, "MODIFIED", next);
    return next;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, json::object> objects_;
  std::vector<std::tuple<int64_t, std::string, WatchEvent>> history_;
  int64_t rv_ = 100;
  int uids_ = 0;
  int updates_ = 0;
  std::mutex watches_mu_;
  std::condition_variable watches_cv_;
  int watches_ = 0;  // guarded by watches_mu_
};

const Kind kAgents{"pai.io", "v1", "Agent", "agents", true};
const Kind kSessions{"pai.io", "v1", "Session", "sessions", true};
const Kind kSecrets{"", "v1", "Secret", "secrets", true};

struct Fixture {
  FakeApi api;
  std::unique_ptr<Store> store;
  std::filesystem::path dir;

  Fixture() {
    char tmpl[] = "/tmp/pai-kube-store-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    auto events = server::OpenSqliteStore((dir / "events.db").string(), nullptr, true);
    REQUIRE(events.ok());
    KubeStoreOptions o;
    o.client = &api;
    o.events = std::move(*events);
    o.ns = "pai-system";
    o.watch_timeout_seconds = 1;  // watches are made again often: the loop is exercised
    auto s = NewKubeStore(std::move(o));
    REQUIRE(s.ok());
    store = std::move(*s);
  }
  ~Fixture() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

Resource AgentR(const std::string& name, int replicas = 1) {
  Resource r;
  r.kind = "Agent";
  r.ns = "team-a";
  r.name = name;
  r.object = {{"apiVersion", "pai.io/v1"},
              {"kind", "Agent"},
              {"metadata", {{"name", name}, {"namespace", "team-a"}}},
              {"spec", {{"models", json::array{"mock/m"}}, {"replicas", replicas}}}};
  return r;
}

TEST_CASE("kube store: writes keep the API server's metadata, a no-op write sends nothing") {
  Fixture f;
  auto created = f.store->Create(AgentR("worker"));
  REQUIRE(created.ok());
  CHECK(created->uid() == Meta(*f.api.Get(kAgents, "team-a", "worker"), "uid"));
  CHECK(created->generation() == 1);
  CHECK(absl::IsAlreadyExists(f.store->Create(AgentR("worker")).status()));
  // The namespace was created for the write.
  CHECK(f.api.Get(Kind{"", "v1", "Namespace", "namespaces", false}, "", "team-a").ok());

  const int before = f.api.updates();
  auto same = f.store->Put(AgentR("worker"), std::nullopt);
  REQUIRE(same.ok());
  CHECK(f.api.updates() == before);
  CHECK(same->resource.resource_version() == created->resource_version());

  auto changed = f.store->Put(AgentR("worker", 3), created->resource_version());
  REQUIRE(changed.ok());
  CHECK(changed->resource.generation() == 2);
  auto stale = f.store->Put(AgentR("worker", 4), created->resource_version());
  CHECK(absl::IsAborted(stale.status()));

  REQUIRE(f.store
              ->UpdateStatus("Agent", "team-a", "worker", created->uid(),
                             json::object{{"phase", "Running"}})
              .ok());
  auto got = f.store->Get("Agent", "team-a", "worker");
  REQUIRE(got.ok());
  CHECK(got->object.at("status").at("phase") == "Running");
  CHECK(got->generation() == 2);
  CHECK(absl::IsAborted(
      f.store->UpdateStatus("Agent", "team-a", "worker", "another-uid", json::object{})));
}

TEST_CASE(
    "kube store: a Pai Secret is a labelled core Secret, and private parts stay out of objects") {
  Fixture f;
  Resource s;
  s.kind = "Secret";
  s.ns = "team-a";
  s.name = "creds";
  s.object = {{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata", {{"name", "creds"}, {"namespace", "team-a"}}},
              {"keys", json::array{"k"}},
              {"type", "Opaque"}};
  s.private_data = R"({"data":{"k":"czNjcjN0"}})";
  REQUIRE(f.store->Create(s).ok());
  const json::object core = *f.api.Get(kSecrets, "team-a", "creds");
  CHECK(core.at("metadata").at("labels").at("pai.io/secret") == "true");
  CHECK(core.at("data").at("k") == "czNjcjN0");
  auto got = f.store->Get("Secret", "team-a", "creds");
  REQUIRE(got.ok());
  CHECK(json::serialize(got->object).find("czNjcjN0") == std::string::npos);
  CHECK(got->object.at("keys") == json::array{"k"});
  CHECK(got->private_data.find("czNjcjN0") != std::string::npos);

  // A Secret without the label is not a Pai Secret.
  f.api.Foreign(kSecrets, json::object{{"apiVersion", "v1"},
                                       {"kind", "Secret"},
                                       {"metadata", {{"name", "foreign"}, {"namespace", "team-a"}}},
                                       {"data", {{"k", "dg=="}}}});
  CHECK(absl::IsNotFound(f.store->Get("Secret", "team-a", "foreign").status()));
  auto list = f.store->List("Secret", "team-a", Store::Scope::kNamespace);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  Resource over = s;
  over.name = "foreign";
  CHECK(absl::IsAlreadyExists(f.store->Put(over, std::nullopt).status()));

  // An access token's hash: a companion Secret, never a field of the custom resource.
  Resource token;
  token.kind = "PaiAccessToken";
  token.name = "tok-0123456789ab";
  token.object = {{"apiVersion", "pai.io/v1"},
                  {"kind", "PaiAccessToken"},
                  {"metadata", {{"name", "tok-0123456789ab"}}},
                  {"spec", {{"namespaces", json::array{"*"}}}}};
  token.private_data = R"({"sha256":"feedface"})";
  REQUIRE(f.store->Create(token).ok());
  const Kind kTokens{"pai.io", "v1", "PaiAccessToken", "paiaccesstokens", false};
  CHECK(json::serialize(*f.api.Get(kTokens, "", "tok-0123456789ab")).find("feedface") ==
        std::string::npos);
  auto back = f.store->Get("PaiAccessToken", "", "tok-0123456789ab");
  REQUIRE(back.ok());
  CHECK(back->private_data == R"({"sha256":"feedface"})");
  CHECK(json::serialize(back->object).find("pai.io/private-data") == std::string::npos);
}

TEST_CASE("kube store: another client's write wakes WaitForChange, a delete cascades at once") {
  Fixture f;
  auto agent = f.store->Create(AgentR("worker"));
  REQUIRE(agent.ok());
  const int64_t seen = f.store->Version();
  // kubectl writes a Skill: nothing this store did, yet the version moves (the watch thread),
  // and the watch's view (Namespaces) is updated before the version moves.
  f.api.Foreign(Kind{"pai.io", "v1", "Skill", "skills", true},
                json::object{{"apiVersion", "pai.io/v1"},
                             {"kind", "Skill"},
                             {"metadata", {{"name", "notes"}, {"namespace", "team-b"}}},
                             {"spec", {{"description", "d"}}}});
  CHECK(f.store->WaitForChange(seen, 10s) > seen);
  CHECK(*f.store->Namespaces() == std::vector<std::string>{"team-a", "team-b"});

  // A Session owned by the Agent, with events.
  Resource session;
  session.kind = "Session";
  session.ns = "team-a";
  session.name = "run-1";
  session.object = {{"apiVersion", "pai.io/v1"},
                    {"kind", "Session"},
                    {"metadata",
                     {{"name", "run-1"},
                      {"namespace", "team-a"},
                      {"ownerReferences", json::array{json::object{{"apiVersion", "pai.io/v1"},
                                                                   {"kind", "Agent"},
                                                                   {"name", "worker"},
                                                                   {"uid", agent->uid()}}}}}},
                    {"spec", {{"agent", "worker"}}}};
  REQUIRE(f.store->Create(session).ok());
  REQUIRE(f.store->AppendEvents("team-a", "run-1", {json::object{{"type", "agent.message"}}}, "t")
              .ok());
  CHECK(f.store->ListEvents("team-a", "run-1", 0, {}, 10)->size() == 1);
  CHECK(absl::IsNotFound(
      f.store->AppendEvents("team-a", "ghost", {json::object{{"type", "x"}}}, "t").status()));

  auto deleted = f.store->Delete("Agent", "team-a", "worker");
  REQUIRE(deleted.ok());
  REQUIRE(deleted->size() == 2);
  CHECK((*deleted)[0].name == "worker");
  CHECK((*deleted)[1].name == "run-1");
  CHECK(absl::IsNotFound(f.api.Get(kSessions, "team-a", "run-1").status()));
  // A new Session of the same name starts without the old one's events.
  session.object["metadata"].as_object().erase("ownerReferences");
  REQUIRE(f.store->Create(session).ok());
  CHECK(f.store->ListEvents("team-a", "run-1", 0, {}, 10)->empty());
  // One per kind at least, made again as they time out (after 1 s here).
  CHECK(f.api.WaitForWatches(10, 10s));
}

}  // namespace
}  // namespace pai::kube
