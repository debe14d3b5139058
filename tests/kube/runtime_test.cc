// The Kubernetes runtime (kube/runtime.h) over an in-memory kube::Client with the API's
// semantics for what the runtime uses (uids, label selectors, garbage collection through
// ownerReferences, refusals as Status codes). The HTTP client and the real wire format are
// tested end to end in tests/integration/kube_runtime.test.mjs.
#include "kube/runtime.h"

#include <stdlib.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>

#include "kube/publish.h"
#include "kube/render.h"

namespace pai::kube {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string S(const json::value* v) {
  return v && v->is_string() ? std::string(v->as_string()) : "";
}
std::string At(const json::object& o, std::initializer_list<const char*> path) {
  const json::value* v = nullptr;
  const json::object* cur = &o;
  for (const char* p : path) {
    v = cur ? cur->if_contains(p) : nullptr;
    cur = v ? v->if_object() : nullptr;
  }
  return S(v);
}

class FakeClient final : public Client {
 public:
  absl::StatusOr<json::object> Get(const Kind& k, const std::string& ns,
                                   const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fail.ok()) return fail;
    auto it = objects.find(Key(k.kind, ns, name));
    if (it == objects.end()) return absl::NotFoundError(name + " not found");
    return it->second;
  }
  absl::StatusOr<ObjectList> List(const Kind& k, const std::string& ns,
                                  const std::string& selector) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fail.ok()) return fail;
    ++lists;
    ObjectList out;
    const size_t eq = selector.find('=');
    for (const auto& [key, o] : objects) {
      if (At(o, {"kind"}) != k.kind) continue;
      if (!ns.empty() && At(o, {"metadata", "namespace"}) != ns) continue;
      if (eq != std::string::npos &&
          At(o, {"metadata", "labels", selector.substr(0, eq).c_str()}) !=
              selector.substr(eq + 1)) {
        continue;
      }
      out.items.push_back(o);
    }
    return out;
  }
  // The runtime creates, updates and watches nothing: it applies.
  absl::StatusOr<json::object> Create(const Kind&, const json::object&) override {
    return absl::UnimplementedError("not used by the runtime");
  }
  absl::StatusOr<json::object> Update(const Kind&, const json::object&) override {
    return absl::UnimplementedError("not used by the runtime");
  }
  absl::StatusOr<json::object> UpdateStatus(const Kind&, const json::object&) override {
    return absl::UnimplementedError("not used by the runtime");
  }
  absl::Status Watch(const Kind&, const std::string&, const std::string&, const std::string&, int,
                     const std::atomic<bool>&, const std::function<bool(WatchEvent)>&) override {
    return absl::UnimplementedError("not used by the runtime");
  }
  // A followed log: what the pod has logged so far, then the end (the container ended).
  absl::Status FollowPodLog(const std::string& ns, const std::string& pod, const std::string&,
                            const std::atomic<bool>&,
                            const std::function<bool(std::string_view)>& on_line) override {
    std::string text;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = logs.find(ns + "/" + pod);
      if (it == logs.end()) return absl::NotFoundError(pod);
      text = it->second;
    }
    for (size_t start = 0, nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
      if (!on_line(std::string_view(text).substr(start, nl - start))) break;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<json::object> Apply(const json::object& object) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fail.ok()) return fail;
    const std::string kind = At(object, {"kind"});
    const std::string name = At(object, {"metadata", "name"});
    if (kind == refuse_kind) return absl::InvalidArgumentError("admission webhook denied " + name);
    const std::string key = Key(kind, At(object, {"metadata", "namespace"}), name);
    json::object stored = object;
    auto old = objects.find(key);
    stored["metadata"].as_object()["uid"] = old != objects.end()
                                                ? At(old->second, {"metadata", "uid"})
                                                : "uid-" + std::to_string(++uids);
    if (old != objects.end() && old->second.contains("status"))
      stored["status"] = old->second["status"];
    objects[key] = stored;
    applied.push_back(kind + "/" + name);
    return stored;
  }
  absl::Status Delete(const Kind& k, const std::string& ns, const std::string& name,
                      Propagation) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fail.ok()) return fail;
    auto it = objects.find(Key(k.kind, ns, name));
    if (it == objects.end()) return absl::NotFoundError(name + " not found");
    const std::string uid = At(it->second, {"metadata", "uid"});
    objects.erase(it);
    Collect(uid);
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> PodLogs(const std::string& ns, const std::string& pod,
                                      const std::string&, int64_t) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = logs.find(ns + "/" + pod);
    if (it == logs.end()) return absl::NotFoundError(pod);
    return it->second;
  }

  // What the cluster's controllers and kubelet would write.
  void SetStatus(const std::string& kind, const std::string& ns, const std::string& name,
                 const std::string& status_json) {
    std::lock_guard<std::mutex> lock(mu_);
    objects.at(Key(kind, ns, name))["status"] = json::parse(status_json);
  }
  void AddPod(const std::string& ns, const std::string& name, const json::object& labels,
              const std::string& status_json) {
    std::lock_guard<std::mutex> lock(mu_);
    objects[Key("Pod", ns, name)] = json::object{
        {"kind", "Pod"},
        {"metadata", json::object{{"name", name}, {"namespace", ns}, {"labels", labels}}},
        {"status", json::parse(status_json)}};
  }
  bool Has(const std::string& kind, const std::string& ns, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    return objects.contains(Key(kind, ns, name));
  }
  json::object Object(const std::string& kind, const std::string& ns, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    return objects.at(Key(kind, ns, name));
  }
  std::vector<std::string> Applied() {
    std::lock_guard<std::mutex> lock(mu_);
    return applied;
  }
  void Fail(absl::Status st) {
    std::lock_guard<std::mutex> lock(mu_);
    fail = std::move(st);
  }
  void Refuse(std::string kind) {
    std::lock_guard<std::mutex> lock(mu_);
    refuse_kind = std::move(kind);
  }
  void SetLog(const std::string& ns, const std::string& pod, std::string text) {
    std::lock_guard<std::mutex> lock(mu_);
    logs[ns + "/" + pod] = std::move(text);
  }

 private:
  static std::string Key(const std::string& kind, const std::string& ns, const std::string& name) {
    return kind + "|" + ns + "|" + name;
  }
  void Collect(const std::string& uid) {
    std::vector<std::string> owned;
    for (const auto& [key, o] : objects) {
      const json::value* refs = o.at("metadata").as_object().if_contains("ownerReferences");
      if (!refs) continue;
      for (const json::value& r : refs->as_array()) {
        if (S(r.as_object().if_contains("uid")) == uid) owned.push_back(key);
      }
    }
    for (const std::string& key : owned) {
      const std::string child = At(objects.at(key), {"metadata", "uid"});
      objects.erase(key);
      Collect(child);
    }
  }

  std::mutex mu_;
  std::map<std::string, json::object> objects;
  std::map<std::string, std::string> logs;
  std::vector<std::string> applied;
  absl::Status fail;
  std::string refuse_kind;
  int uids = 0;
  int lists = 0;
};

// Events: records what the runtime reports, and lets the test wait for it (no sleeps).
class Events final : public server::WorkloadEvents {
 public:
  absl::Status Append(const std::string& ns, const std::string& session,
                      std::vector<json::object> events) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (json::object& e : events) appended.push_back(ns + "/" + session + " " + At(e, {"type"}));
    cv_.notify_all();
    return absl::OkStatus();
  }
  void MarkProcessed(const std::string&, const std::string&, const std::string&) override {}
  std::vector<json::object> Undelivered(const std::string&, const std::string&) override {
    return {};
  }
  absl::StatusOr<int64_t> RegisterFile(const std::string&, const std::string&,
                                       const std::string&) override {
    return 1;
  }
  void Changed() override {
    std::lock_guard<std::mutex> lock(mu_);
    ++changes;
    cv_.notify_all();
  }
  // WaitFor(): true once `pred(runtime)` holds, checked at every reported change (5 s at most).
  template <class Pred>
  bool WaitFor(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      lock.unlock();
      const bool ok = pred();
      lock.lock();
      if (ok) return true;
      const int seen = changes;
      if (!cv_.wait_until(lock, deadline, [&] { return changes != seen; })) return pred();
    }
  }
  std::vector<std::string> Appended() {
    std::lock_guard<std::mutex> lock(mu_);
    return appended;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int changes = 0;
  std::vector<std::string> appended;
};

server::Workload Agent() {
  server::Workload w;
  w.kind = "Agent";
  w.ns = "team-a";
  w.name = "worker";
  w.uid = "8f1d0a52-0000-4000-8000-000000000001";
  w.gateway_token = "pai_0123456789abcdef_token";
  w.spec = json::parse(R"({"longRunning": true, "image": "x:1", "replicas": 2,
      "env": [{"name": "API_KEY", "secretRef": {"name": "creds", "key": "k"}}],
      "volumes": [{"name": "data", "mountPath": "/data"}]})")
               .as_object();
  w.env = {{"API_KEY", "s3cr3t"}};
  return w;
}

server::Workload Session() {
  server::Workload w;
  w.kind = "Session";
  w.ns = "team-a";
  w.name = "run-1";
  w.agent = "coder";
  w.uid = "8f1d0a52-0000-4000-8000-000000000002";
  w.gateway_token = "pai_0123456789abcdef_session";
  w.spec = json::parse(R"({"models": ["mock/m"]})").as_object();
  w.session = json::object{{"agent", "coder"}};
  return w;
}

struct Fixture {
  FakeClient client;
  Events events;
  std::unique_ptr<server::Runtime> runtime;

  explicit Fixture(const std::string& dir) {
    KubeRuntimeOptions o;
    o.client = &client;
    o.render = RenderOptions{"img:1", "http://gw:4000"};
    o.state_dir = dir;
    o.poll_interval = 10ms;
    o.events = &events;
    auto rt = NewKubeRuntime(std::move(o));
    REQUIRE(rt.ok());
    runtime = std::move(*rt);
  }
};

std::string TempDir() {
  char tmpl[] = "/tmp/pai-kube-rt-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  return tmpl;
}

TEST_CASE(
    "kube runtime: the identity Secret first, everything else owned by it, and an unchanged "
    "rendering not applied again") {
  Fixture f(TempDir());
  const server::Workload w = Agent();
  REQUIRE(f.runtime->Start(w).ok());
  const auto applied = f.client.Applied();
  REQUIRE(applied.size() >= 5);
  CHECK(applied[0] == "Namespace/team-a");
  CHECK(applied[1] == "Secret/agent-worker-identity");
  const json::object secret = f.client.Object("Secret", "team-a", "agent-worker-identity");
  CHECK_FALSE(secret.at("metadata").as_object().contains("ownerReferences"));
  CHECK(At(secret, {"stringData", "env.API_KEY"}) == "s3cr3t");
  const json::object dep = f.client.Object("Deployment", "team-a", "agent-worker");
  const json::value& ref = dep.at("metadata").at("ownerReferences").at(0);
  CHECK(S(ref.as_object().if_contains("kind")) == "Secret");
  CHECK(S(ref.as_object().if_contains("uid")) == At(secret, {"metadata", "uid"}));
  CHECK(json::serialize(dep).find("s3cr3t") == std::string::npos);

  REQUIRE(f.runtime->Start(w).ok());
  CHECK(f.client.Applied().size() == applied.size());
  server::Workload changed = w;
  changed.spec["replicas"] = 3;
  REQUIRE(f.runtime->Start(changed).ok());
  CHECK(f.client.Applied().size() > applied.size());
  CHECK(f.client.Object("Deployment", "team-a", "agent-worker").at("spec").at("replicas") == 3);
}

TEST_CASE("kube runtime: a Session's phase follows its Job and pod, with events and the log kept") {
  Fixture f(TempDir());
  const server::Workload w = Session();
  REQUIRE(f.runtime->Start(w).ok());
  auto phase = [&] { return f.runtime->Status("Session", "team-a/run-1").phase; };
  CHECK(f.runtime->Status("Session", "team-a/run-1").known);
  CHECK(phase() == "Pending");
  const json::object labels = f.client.Object("Job", "team-a", "session-run-1")
                                  .at("spec")
                                  .at("template")
                                  .at("metadata")
                                  .at("labels")
                                  .as_object();
  f.client.AddPod("team-a", "session-run-1-x", labels,
                  R"({"phase": "Pending", "containerStatuses": [{"name": "agent",
                      "state": {"waiting": {"reason": "ErrImagePull", "message": "no such image"}}}]})");
  REQUIRE(f.events.WaitFor([&] {
    return f.runtime->Status("Session", "team-a/run-1").message ==
           "container agent: ErrImagePull: no such image";
  }));
  f.client.AddPod("team-a", "session-run-1-x", labels, R"({"phase": "Running"})");
  f.client.SetStatus("Job", "team-a", "session-run-1",
                     R"({"active": 1, "startTime": "2026-12-06T07:00:00Z"})");
  REQUIRE(f.events.WaitFor([&] { return phase() == "Running"; }));
  CHECK(f.runtime->Status("Session", "team-a/run-1").replicas_running == 1);
  CHECK(f.runtime->Status("Session", "team-a/run-1").started_at == "2026-12-06T07:00:00Z");
  // pai-harness in a pod: its events on stdout among its log lines.
  f.client.SetLog(
      "team-a", "session-run-1-x",
      "{\"type\": \"session.status_running\"}\n"
      "pai-harness: session run-1 started\n"
      "{\"type\": \"agent.message\", \"content\": [{\"type\": \"text\", \"text\": \"hi\"}]}\n"
      "{\"type\": \"user.message\", \"content\": []}\n"
      "{\"control\": \"processed\", \"event_id\": \"sevt_1\"}\n"
      "turn done\n");
  f.client.SetStatus("Job", "team-a", "session-run-1",
                     R"({"succeeded": 1, "completionTime": "2026-12-06T07:05:00Z"})");
  REQUIRE(f.events.WaitFor([&] { return phase() == "Complete"; }));
  CHECK(f.runtime->Status("Session", "team-a/run-1").completed_at == "2026-12-06T07:05:00Z");
  REQUIRE(f.events.WaitFor([&] {
    const auto e = f.events.Appended();
    return e.size() >= 2 && e.back() == "team-a/run-1 session.status_terminated";
  }));
  CHECK(f.events.Appended().front() == "team-a/run-1 session.status_running");
  const size_t before = f.events.Appended().size();

  // Stop: the Job goes, its log stays readable; the identity Secret stays until Purge.
  REQUIRE(f.runtime->Stop("Session", "team-a/run-1").ok());
  CHECK_FALSE(f.client.Has("Job", "team-a", "session-run-1"));
  CHECK(f.client.Has("Secret", "team-a", "session-run-1-identity"));
  auto log = f.runtime->LogPath("Session", "team-a/run-1", w.uid);
  REQUIRE(log.ok());
  std::ifstream in(*log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == "pai-harness: session run-1 started\nturn done\n");
  // The harness's own events reached the store once; user.*, control lines and its status
  // lines (the runtime reports the phase) did not.
  // (before the end), once.
  CHECK(f.events.Appended() == std::vector<std::string>{"team-a/run-1 session.status_running",
                                                        "team-a/run-1 agent.message",
                                                        "team-a/run-1 session.status_terminated"});
  REQUIRE(f.runtime->LogPath("Session", "team-a/run-1", w.uid).ok());
  CHECK(f.events.Appended().size() == before);
  f.runtime->Purge("Session", "team-a/run-1", w.uid);
  CHECK_FALSE(f.client.Has("Secret", "team-a", "session-run-1-identity"));
  CHECK_FALSE(f.runtime->LogPath("Session", "team-a/run-1", w.uid).ok());
}

TEST_CASE(
    "kube runtime: refused objects fail the workload while an unreachable API server is retried") {
  Fixture f(TempDir());
  f.client.Refuse("Deployment");
  REQUIRE(f.runtime->Start(Agent()).ok());
  server::WorkloadStatus st = f.runtime->Status("Agent", "team-a/worker");
  CHECK(st.phase == "Failed");
  CHECK(st.message == "Deployment agent-worker: admission webhook denied agent-worker");
  f.client.Refuse("");
  REQUIRE(f.runtime->Start(Agent()).ok());  // the same rendering: still refused, not re-sent
  CHECK(f.runtime->Status("Agent", "team-a/worker").phase == "Failed");

  f.client.Fail(absl::UnavailableError("connection refused"));
  REQUIRE(f.runtime->Start(Session()).ok());
  st = f.runtime->Status("Session", "team-a/run-1");
  CHECK(st.known);
  CHECK(st.phase == "Pending");
  CHECK(st.message ==
        "waiting for the Kubernetes API: Secret session-run-1-identity: connection refused");
  f.client.Fail(absl::OkStatus());
  // The poller applies it again once the API server answers.
  REQUIRE(f.events.WaitFor([&] { return f.client.Has("Job", "team-a", "session-run-1"); }));
  REQUIRE(f.events.WaitFor(
      [&] { return f.runtime->Status("Session", "team-a/run-1").message.empty(); }));
}

TEST_CASE(
    "kube runtime: Purge deletes the identity Secret and with it the volumes, Stop keeps them") {
  Fixture f(TempDir());
  REQUIRE(f.runtime->Start(Agent()).ok());
  REQUIRE(f.client.Has("PersistentVolumeClaim", "team-a", "agent-worker-data"));
  REQUIRE(f.runtime->Stop("Agent", "team-a/worker").ok());
  CHECK_FALSE(f.client.Has("Deployment", "team-a", "agent-worker"));
  CHECK(f.client.Has("PersistentVolumeClaim", "team-a", "agent-worker-data"));
  CHECK(f.client.Has("Secret", "team-a", "agent-worker-identity"));
  REQUIRE(f.runtime->Start(Agent()).ok());  // started again after a Stop: applied again
  CHECK(f.client.Has("Deployment", "team-a", "agent-worker"));
  f.runtime->Purge("Agent", "team-a/worker", Agent().uid);
  CHECK_FALSE(f.client.Has("PersistentVolumeClaim", "team-a", "agent-worker-data"));
  CHECK_FALSE(f.client.Has("Deployment", "team-a", "agent-worker"));
  CHECK_FALSE(f.client.Has("Secret", "team-a", "agent-worker-identity"));
}

TEST_CASE(
    "gateway publisher: a changed file is applied at once, a deleted Secret comes back at the "
    "resync") {
  const std::string dir = TempDir();
  FakeClient client;
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name, std::ios::trunc) << text;
  };
  write("platform.yaml", "kind: Agent\n");
  write("tokens.json", "{\"tokens\": []}");
  auto now = std::chrono::steady_clock::time_point{};
  PublishOptions o;
  o.client = &client;
  o.config_file = dir + "/platform.yaml";
  o.tokens_file = dir + "/tokens.json";
  o.ns = "pai";
  o.config_secret = "gw-config";
  o.tokens_secret = "gw-tokens";
  o.resync = 60s;
  o.now = [&now] { return now; };
  GatewayPublisher publisher(std::move(o));
  REQUIRE(publisher.PublishOnce().ok());
  CHECK(client.Applied() == std::vector<std::string>{"Secret/gw-config", "Secret/gw-tokens"});
  CHECK(At(client.Object("Secret", "pai", "gw-config"), {"data", "platform.yaml"}) ==
        "a2luZDogQWdlbnQK");  // base64 of the file
  REQUIRE(publisher.PublishOnce().ok());
  CHECK(client.Applied().size() == 2);  // unchanged: nothing sent
  write("tokens.json", "{\"tokens\": [1]}");
  REQUIRE(publisher.PublishOnce().ok());
  CHECK(client.Applied().size() == 3);
  CHECK(client.Applied().back() == "Secret/gw-tokens");
  // Deleted by hand: back at the resync, not before.
  REQUIRE(
      client.Delete(*KnownKind("v1", "Secret"), "pai", "gw-config", Propagation::kBackground).ok());
  now += 59s;
  REQUIRE(publisher.PublishOnce().ok());
  CHECK_FALSE(client.Has("Secret", "pai", "gw-config"));
  now += 2s;
  REQUIRE(publisher.PublishOnce().ok());
  CHECK(client.Has("Secret", "pai", "gw-config"));
  // An API server that refuses: the error is returned, and the next call tries again.
  write("platform.yaml", "kind: Agent\nmetadata: {name: b}\n");
  client.Fail(absl::UnavailableError("connection refused"));
  CHECK(absl::IsUnavailable(publisher.PublishOnce()));
  client.Fail(absl::OkStatus());
  REQUIRE(publisher.PublishOnce().ok());
  CHECK(At(client.Object("Secret", "pai", "gw-config"), {"data", "platform.yaml"}) ==
        "a2luZDogQWdlbnQKbWV0YWRhdGE6IHtuYW1lOiBifQo=");
}

}  // namespace
}  // namespace pai::kube
