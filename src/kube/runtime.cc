#include "kube/runtime.h"

#include <sys/stat.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "server/json_access.h"

namespace pai::kube {
namespace {

namespace json = boost::json;
using server::Arr;
using server::Int;
using server::Obj;
using server::Str;
using server::WorkloadStatus;

constexpr char kManagedSelector[] = "app.kubernetes.io/managed-by=pai";
constexpr int64_t kLogBytesPerPod = 10 << 20;

// K(): one of the kinds Pai manages (client.h's table).
Kind K(const char* api_version, const char* kind) { return *KnownKind(api_version, kind); }

// Label(): the label `key` of a listed object ("" when absent).
std::string Label(const json::object& obj, const char* key) {
  return Str(Obj(Obj(&obj, "metadata"), "labels"), key);
}

// Condition(): status.conditions[type == `type`], or null.
const json::object* Condition(const json::object& obj, std::string_view type) {
  const json::array* cs = Arr(Obj(&obj, "status"), "conditions");
  if (!cs) return nullptr;
  for (const json::value& c : *cs) {
    if (c.is_object() && Str(&c.as_object(), "type") == type) return &c.as_object();
  }
  return nullptr;
}

// WorkloadKey(): "Session/ns/name" or "Agent/ns/name" from a managed object's labels.
std::string WorkloadKey(const json::object& obj) {
  const json::object* meta = Obj(&obj, "metadata");
  const json::object* labels = Obj(meta, "labels");
  const std::string ns = Str(meta, "namespace");
  if (std::string s = Str(labels, "pai.io/session"); !s.empty()) {
    return pai::StrCat("Session/", ns, "/", s);
  }
  if (std::string a = Str(labels, "pai.io/agent"); !a.empty()) {
    return pai::StrCat("Agent/", ns, "/", a);
  }
  return "";
}

// PodProblem(): why a pod is not running ("" when nothing is wrong): a container waiting on
// something other than its start, or the scheduler's refusal.
std::string PodProblem(const json::object& pod) {
  const json::object* st = Obj(&pod, "status");
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    const json::array* cs = Arr(st, list);
    if (!cs) continue;
    for (const json::value& c : *cs) {
      const json::object* waiting = Obj(Obj(c.if_object(), "state"), "waiting");
      const std::string reason = Str(waiting, "reason");
      if (reason.empty() || reason == "ContainerCreating" || reason == "PodInitializing") continue;
      const std::string message = Str(waiting, "message");
      return pai::StrCat("container ", Str(c.if_object(), "name"), ": ", reason,
                         message.empty() ? "" : ": " + message);
    }
  }
  if (const json::object* s = Condition(pod, "PodScheduled"); s && Str(s, "status") == "False") {
    return pai::StrCat(Str(s, "reason"), ": ", Str(s, "message"));
  }
  return "";
}

struct Snapshot {
  std::map<std::string, WorkloadStatus> status;          // by workload key
  std::map<std::string, std::vector<std::string>> pods;  // by workload key
  std::map<std::string, std::string> uid;                // by workload key: pai.io/uid
};

// Build(): the snapshot of the listed objects; pods of `purged` resources (uids) are left out.
Snapshot Build(const std::vector<json::object>& jobs, const std::vector<json::object>& deployments,
               const std::vector<json::object>& pods, const std::set<std::string>& purged) {
  Snapshot s;
  std::map<std::string, std::string> problems;
  std::map<std::string, bool> running;
  for (const json::object& p : pods) {
    const std::string key = WorkloadKey(p);
    if (key.empty() || purged.contains(Label(p, "pai.io/uid"))) continue;
    s.pods[key].push_back(Str(Obj(&p, "metadata"), "name"));
    if (Str(Obj(&p, "status"), "phase") == "Running") running[key] = true;
    if (std::string why = PodProblem(p); !why.empty()) problems.emplace(key, why);
  }
  // What Jobs (Sessions) and Deployments (Agents) share: the key, the uid, the first pod.
  auto record = [&](const json::object& obj, std::string_view kind, auto&& fill) {
    const std::string key = WorkloadKey(obj);
    if (key.rfind(kind, 0) != 0) return;
    WorkloadStatus w;
    w.known = true;
    auto problem = problems.find(key);
    fill(w, running[key], problem == problems.end() ? std::string() : problem->second);
    if (auto it = s.pods.find(key); it != s.pods.end() && !it->second.empty()) {
      w.pod_name = it->second.front();
    }
    s.uid[key] = Label(obj, "pai.io/uid");
    s.status[key] = std::move(w);
  };
  for (const json::object& j : jobs) {
    record(j, "Session/", [&j](WorkloadStatus& w, bool pod_running, const std::string& problem) {
      const json::object* st = Obj(&j, "status");
      w.job_name = Str(Obj(&j, "metadata"), "name");
      w.started_at = Str(st, "startTime");
      const json::object* failed = Condition(j, "Failed");
      if (Int(st, "succeeded") > 0) {
        w.phase = "Complete";
        w.completed_at = Str(st, "completionTime");
      } else if (Int(st, "failed") > 0 || (failed && Str(failed, "status") == "True")) {
        w.phase = "Error";
        w.message = failed ? Str(failed, "message") : "the session's pod failed";
        if (w.message.empty()) w.message = failed ? Str(failed, "reason") : "";
        w.completed_at = failed ? Str(failed, "lastTransitionTime") : "";
      } else if (pod_running) {
        w.phase = "Running";
        w.replicas_running = 1;
      } else {
        w.phase = "Pending";
        w.message = problem;
      }
    });
  }
  for (const json::object& d : deployments) {
    record(d, "Agent/", [&d](WorkloadStatus& w, bool, const std::string& problem) {
      w.replicas_running = static_cast<int>(Int(Obj(&d, "status"), "readyReplicas"));
      const json::object* progressing = Condition(d, "Progressing");
      if (w.replicas_running > 0) {
        w.phase = "Running";
      } else if (progressing && Str(progressing, "status") == "False") {
        w.phase = "Failed";
        w.message = Str(progressing, "message");
      } else {
        w.phase = "Creating";
      }
      if (!problem.empty()) w.message = problem;
    });
  }
  return s;
}

bool Terminal(const std::string& phase) { return phase == "Complete" || phase == "Error"; }

class KubeRuntime final : public server::Runtime {
 public:
  explicit KubeRuntime(KubeRuntimeOptions o) : o_(std::move(o)) {
    poller_ = std::thread([this] { Poll(); });
  }
  ~KubeRuntime() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    poller_.join();
    std::map<std::string, std::unique_ptr<Follower>> followers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      followers.swap(followers_);
    }
    for (auto& [uid, f] : followers) f->stop.store(true);
    for (auto& [uid, f] : followers) f->thread.join();
  }
  KubeRuntime(const KubeRuntime&) = delete;
  KubeRuntime& operator=(const KubeRuntime&) = delete;

  absl::Status Start(const server::Workload& w) override {
    std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
    const std::string key = pai::StrCat(w.kind, "/", w.ns, "/", w.name);
    absl::Status st = Apply(key, w);
    if (absl::IsNotFound(st)) namespaces_.erase(w.ns);  // deleted behind our back: ensure again
    std::unique_lock<std::mutex> lock(mu_);
    if (st.ok()) {
      retry_.erase(key);
      return st;
    }
    // The workload's own fault (the API server refused an object): Failed / Error until its
    // spec changes. Anything else (the API server unreachable, a token or RBAC problem) is
    // retried by the poller; the workload is Pending meanwhile.
    const bool permanent = absl::IsInvalidArgument(st) || absl::IsAlreadyExists(st);
    auto before = retry_.find(key);
    if (before != retry_.end() && !permanent && before->second.message == st.message()) {
      return absl::OkStatus();  // the same failure again: said already
    }
    log::Warn("kubernetes: workload not applied",
              {{"workload", key}, {"error", std::string(st.message())}, {"retry", !permanent}});
    if (permanent) {
      retry_.erase(key);
      applied_[key] = Applied{w.uid, last_hash_, std::string(st.message())};
    } else {
      retry_[key] = Retry{w, std::string(st.message())};
    }
    lock.unlock();
    if (o_.events) o_.events->Changed();
    return absl::OkStatus();  // the failure is the workload's status
  }

  absl::Status Stop(const std::string& kind, const std::string& key) override {
    std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
    return StopLocked(kind, key);
  }

  absl::Status End(const std::string& key, const std::string& reason) override {
    std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
    const std::string full = "Session/" + key;
    WorkloadStatus ended = Status("Session", key);
    absl::Status st = StopLocked("Session", key);
    ended.known = true;
    ended.ending = true;
    if (!Terminal(ended.phase)) {
      ended.phase = "Complete";
      ended.message = reason;
      ended.completed_at = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ended_[full] = ended;
    }
    if (o_.events) o_.events->Changed();
    return st;
  }

  WorkloadStatus Status(const std::string& kind, const std::string& key) override {
    const std::string full = pai::StrCat(kind, "/", key);
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = ended_.find(full); it != ended_.end()) return it->second;
    auto applied = applied_.find(full);
    if (applied != applied_.end() && !applied->second.error.empty()) {
      WorkloadStatus w;
      w.known = true;
      w.phase = kind == "Session" ? "Error" : "Failed";
      w.message = applied->second.error;
      return w;
    }
    if (auto it = snapshot_.status.find(full); it != snapshot_.status.end()) {
      // Unless the listed objects are a previous resource's of the same name (not deleted yet).
      auto uid = snapshot_.uid.find(full);
      if (applied == applied_.end() || uid == snapshot_.uid.end() ||
          uid->second == applied->second.uid) {
        return it->second;
      }
    }
    WorkloadStatus w;
    if (auto it = retry_.find(full); it != retry_.end()) {
      w.known = true;
      w.phase = kind == "Session" ? "Pending" : "Creating";
      w.message = "waiting for the Kubernetes API: " + it->second.message;
      return w;
    }
    if (applied != applied_.end() || !synced_) {
      w.known = true;
      w.phase = kind == "Session" ? "Pending" : "Creating";
      w.message = synced_ ? "created; waiting for the cluster to report it"
                          : "waiting for the Kubernetes API: " + sync_error_;
    }
    return w;
  }

  std::vector<std::string> Keys() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::set<std::string> keys;
    for (const auto& [k, s] : snapshot_.status) keys.insert(k);
    for (const auto& [k, a] : applied_) keys.insert(k);
    for (const auto& [k, r] : retry_) keys.insert(k);
    return {keys.begin(), keys.end()};
  }

  absl::Status Deliver(const std::string&, const boost::json::object&) override {
    return NotBuilt("delivering events to a harness");
  }
  absl::StatusOr<server::ExecResult> Exec(const std::string&, const std::string&,
                                          const std::vector<std::string>&, const std::string&,
                                          int) override {
    return NotBuilt("exec");
  }
  absl::StatusOr<int> OpenControl(const std::string&, const std::string&) override {
    return NotBuilt("exec");
  }
  absl::StatusOr<std::string> ReadFile(const std::string&, const std::string&,
                                       const std::string&) override {
    return NotBuilt("copying files");
  }
  absl::Status WriteFile(const std::string&, const std::string&, const std::string&,
                         const std::string&) override {
    return NotBuilt("copying files");
  }

  absl::StatusOr<std::string> LogPath(const std::string& kind, const std::string& key,
                                      const std::string& uid) override {
    const std::string path = LogFile(uid);
    SaveLogs(pai::StrCat(kind, "/", key), path, false);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return absl::NotFoundError(pai::StrCat(kind, " ", key, " has no log yet"));
    }
    return path;
  }

  void Purge(const std::string& kind, const std::string& key, const std::string& uid) override {
    std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
    StopFollower(uid);
    (void)StopLocked(kind, key);
    const auto [ns, name] = Split(key);
    server::Workload w;
    w.kind = kind;
    w.name = name;
    absl::Status st = o_.client->Delete(K("v1", "Secret"), ns, BaseName(w) + "-identity",
                                        Propagation::kBackground);
    if (!st.ok() && !absl::IsNotFound(st)) {
      log::Warn("kubernetes: purge failed",
                {{"workload", key}, {"error", std::string(st.message())}});
    }
    std::lock_guard<std::mutex> saving(logs_mu_);  // before mu_, as in SaveLogs()
    events_seen_.erase(uid);
    logs_final_.erase(LogFile(uid));
    std::lock_guard<std::mutex> lock(mu_);
    const std::string full = pai::StrCat(kind, "/", key);
    ended_.erase(full);
    snapshot_.pods.erase(full);
    snapshot_.uid.erase(full);
    if (!uid.empty()) purged_.insert(uid);
    std::error_code ec;
    std::filesystem::remove(LogFile(uid), ec);
  }

  absl::StatusOr<std::vector<std::string>> EgressRecords(const std::string&, size_t) override {
    return std::vector<std::string>{};
  }

 private:
  struct Applied {
    std::string uid;
    std::string hash;   // of the rendering
    std::string error;  // the API server refused it
  };
  struct Retry {
    server::Workload workload;
    std::string message;
  };

  static absl::Status NotBuilt(std::string_view what) {
    return absl::FailedPreconditionError(pai::StrCat(
        what, " is not built on the Kubernetes runtime yet (use kubectl; docs/kubernetes.md)"));
  }

  static std::pair<std::string, std::string> Split(const std::string& key) {
    const size_t slash = key.find('/');
    if (slash == std::string::npos) return {"", key};
    return {key.substr(0, slash), key.substr(slash + 1)};
  }

  std::string LogFile(const std::string& uid) const {
    return pai::StrCat(o_.state_dir, "/", uid.empty() ? "unknown" : uid, ".log");
  }

  // Apply(): renders and applies `w` unless the same rendering of the same uid was applied
  // (or refused) already. Sets last_hash_. Called under lifecycle_mu_.
  absl::Status Apply(const std::string& key, const server::Workload& w) {
    const std::string identity = BaseName(w) + "-identity";
    RenderOptions ro = o_.render;
    ro.owner = Owner{"v1", "Secret", identity, ""};
    ro.secrets_in_identity = true;
    auto objects = RenderWorkload(w, ro);
    if (!objects.ok()) return objects.status();
    std::string rendering;
    for (const json::value& v : *objects) rendering += json::serialize(v);
    last_hash_ = pai::Sha256Hex(rendering);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = applied_.find(key);
      if (it != applied_.end() && it->second.uid == w.uid && it->second.hash == last_hash_) {
        return absl::OkStatus();
      }
    }
    if (!namespaces_.contains(w.ns)) {
      const json::object ns{
          {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", json::object{{"name", w.ns}}}};
      auto got = o_.client->Get(K("v1", "Namespace"), "", w.ns);
      if (!got.ok() && absl::IsNotFound(got.status())) got = o_.client->Apply(ns);
      if (!got.ok()) return got.status();
      namespaces_.insert(w.ns);
    }
    auto secret = o_.client->Apply((*objects)[0].as_object());
    if (!secret.ok()) {
      return absl::Status(secret.status().code(),
                          pai::StrCat("Secret ", identity, ": ", secret.status().message()));
    }
    ro.owner->uid = Str(Obj(&*secret, "metadata"), "uid");
    objects = RenderWorkload(w, ro);
    if (!objects.ok()) return objects.status();
    for (size_t i = 1; i < objects->size(); ++i) {
      auto applied = o_.client->Apply((*objects)[i].as_object());
      if (!applied.ok()) {
        const json::object& obj = (*objects)[i].as_object();
        return absl::Status(applied.status().code(),
                            pai::StrCat(Str(&obj, "kind"), " ", Str(Obj(&obj, "metadata"), "name"),
                                        ": ", applied.status().message()));
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      applied_[key] = Applied{w.uid, last_hash_, ""};
      ended_.erase(key);
    }
    cv_.notify_all();  // an early poll shows the new objects
    return absl::OkStatus();
  }

  // SaveLogs(): the logs of the workload's pods (when it has any) into `path`. In a pod,
  // pai-harness writes its events to stdout (--events-fd 1) as JSON lines: those of a Session
  // go to the store (each once: `events_seen_` counts them per uid), the rest to the log.
  // `final`: the workload has ended, so the saved log is complete and is not fetched again.
  void SaveLogs(const std::string& full_key, const std::string& path, bool final) {
    std::lock_guard<std::mutex> saving(logs_mu_);
    if (logs_final_.contains(path)) return;
    std::vector<std::string> pods;
    std::string uid;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = snapshot_.pods.find(full_key); it != snapshot_.pods.end()) pods = it->second;
      if (auto it = snapshot_.uid.find(full_key); it != snapshot_.uid.end()) uid = it->second;
    }
    if (pods.empty()) return;
    const std::string ns = Split(full_key.substr(full_key.find('/') + 1)).first;
    std::string all;
    for (const std::string& pod : pods) {
      auto logs = o_.client->PodLogs(ns, pod, "agent", kLogBytesPerPod);
      if (logs.ok()) all += *logs;
    }
    if (all.empty()) return;
    const bool session = full_key.rfind("Session/", 0) == 0;
    std::string text;
    std::vector<json::object> events;
    for (std::string_view rest = all; !rest.empty();) {
      const size_t nl = rest.find('\n');
      const std::string_view line =
          rest.substr(0, nl == std::string_view::npos ? rest.size() : nl + 1);
      rest.remove_prefix(line.size());
      if (session) {
        std::string_view bare = line;
        if (!bare.empty() && bare.back() == '\n') bare.remove_suffix(1);
        if (std::optional<json::object> e = HarnessEvent(bare)) {
          events.push_back(std::move(*e));
          continue;
        }
      }
      text.append(line);
    }
    if (session && o_.events && !uid.empty()) AppendHarnessEvents(full_key, uid, events);
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(text.data(), static_cast<std::streamsize>(text.size()));
      if (!out) return;
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (!ec && final) logs_final_.insert(path);
  }

  // Forwarded(): a harness event line the runtime passes on, as the local runtime does: no
  // user.* (a harness cannot speak as a user), no control lines, no session.status_* (the
  // runtime reports the phase from the Job).
  static bool Forwarded(const json::object& e) {
    const std::string type = Str(&e, "type");
    return !type.empty() && !e.contains("control") && type.rfind("user.", 0) != 0 &&
           type.rfind("session.status_", 0) != 0;
  }

  // HarnessEvent(): a JSON line of the harness (an event or a control line), or nullopt.
  static std::optional<json::object> HarnessEvent(std::string_view line) {
    if (line.empty() || line.front() != '{') return std::nullopt;
    json::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) return std::nullopt;
    if (!v.as_object().contains("type") && !v.as_object().contains("control")) return std::nullopt;
    return std::move(v.as_object());
  }

  // AppendHarnessEvents(): the harness's events not appended yet (`events_seen_` counts the
  // event lines of the log already passed on, by uid). Called under logs_mu_.
  void AppendHarnessEvents(const std::string& full_key, const std::string& uid,
                           const std::vector<json::object>& events) {
    size_t& seen = events_seen_[uid];
    if (events.size() <= seen) return;
    std::vector<json::object> fresh;
    for (size_t i = seen; i < events.size(); ++i) {
      if (Forwarded(events[i])) fresh.push_back(events[i]);
    }
    seen = events.size();
    if (fresh.empty()) return;
    const auto [ns, name] = Split(full_key.substr(8));
    (void)o_.events->Append(ns, name, std::move(fresh));
  }

  // Follower: a thread following a running Session pod's log, so that its events reach the
  // Session as they are written (pai run, pai logs -f), not at its end.
  struct Follower {
    std::atomic<bool> stop{false};
    std::thread thread;
  };

  // Follow(): the follower's loop. The log is read from its start on each (re)connection; the
  // n-th event line is passed on only when events_seen_ says n lines were (so neither a
  // reconnection nor the final SaveLogs() passes one on twice).
  void Follow(const std::string& full_key, const std::string& uid, const std::string& ns,
              const std::string& pod, Follower* f) {
    while (!f->stop.load()) {
      size_t n = 0;
      absl::Status s =
          o_.client->FollowPodLog(ns, pod, "agent", f->stop, [&](std::string_view line) {
            std::optional<json::object> e = HarnessEvent(line);
            if (!e) return true;
            std::lock_guard<std::mutex> saving(logs_mu_);
            size_t& seen = events_seen_[uid];
            if (seen == n) {
              if (Forwarded(*e)) {
                const auto [sns, name] = Split(full_key.substr(8));
                (void)o_.events->Append(sns, name, {std::move(*e)});
              }
              seen = n + 1;
            }
            ++n;
            return true;
          });
      if (s.ok() || f->stop.load()) return;  // the container ended, or the Session did
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || f->stop.load(); });
    }
  }

  // StartFollowers(): a follower for each running Session pod that has none.
  void StartFollowers() {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || !o_.events) return;
    for (const auto& [key, st] : snapshot_.status) {
      if (key.rfind("Session/", 0) != 0 || st.phase != "Running") continue;
      auto uid = snapshot_.uid.find(key);
      auto pods = snapshot_.pods.find(key);
      if (uid == snapshot_.uid.end() || uid->second.empty() || purged_.contains(uid->second) ||
          pods == snapshot_.pods.end() || pods->second.empty() ||
          followers_.contains(uid->second)) {
        continue;
      }
      auto f = std::make_unique<Follower>();
      Follower* raw = f.get();
      const std::string ns = Split(key.substr(8)).first;
      // (A structured binding is not captured by name: clang 14 refuses it.)
      f->thread = std::thread([this, k = key, u = uid->second, ns, pod = pods->second.front(),
                               raw] { Follow(k, u, ns, pod, raw); });
      followers_[uid->second] = std::move(f);
    }
  }

  // StopFollower(): ends and joins the follower of `uid`, if any. Not under mu_ or logs_mu_.
  void StopFollower(const std::string& uid) {
    std::unique_ptr<Follower> f;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = followers_.find(uid);
      if (it == followers_.end()) return;
      f = std::move(it->second);
      followers_.erase(it);
    }
    f->stop.store(true);
    cv_.notify_all();
    f->thread.join();
  }

  absl::Status StopLocked(const std::string& kind, const std::string& key) {
    const std::string full = pai::StrCat(kind, "/", key);
    std::string uid;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = applied_.find(full); it != applied_.end()) uid = it->second.uid;
      if (auto it = snapshot_.uid.find(full); uid.empty() && it != snapshot_.uid.end()) {
        uid = it->second;
      }
    }
    StopFollower(uid);
    if (!uid.empty()) SaveLogs(full, LogFile(uid), kind == "Session");  // an Agent may start again
    const auto [ns, name] = Split(key);
    server::Workload w;
    w.kind = kind;
    w.name = name;
    const std::string base = BaseName(w);
    absl::Status first;
    const Kind workload = kind == "Session" ? K("batch/v1", "Job") : K("apps/v1", "Deployment");
    for (const auto& [k, n] : std::vector<std::pair<Kind, std::string>>{
             {workload, base},
             {K("v1", "Service"), base},
             {K("networking.k8s.io/v1", "NetworkPolicy"), base},
             {K("v1", "ConfigMap"), base + "-files"}}) {
      absl::Status st = o_.client->Delete(k, ns, n, Propagation::kBackground);
      if (!st.ok() && !absl::IsNotFound(st) && first.ok()) first = st;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      applied_.erase(full);
      retry_.erase(full);
      snapshot_.status.erase(full);
    }
    if (!first.ok()) {
      log::Warn("kubernetes: stop failed",
                {{"workload", full}, {"error", std::string(first.message())}});
    }
    return first;
  }

  void Poll() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      std::vector<server::Workload> retry;
      for (const auto& [k, r] : retry_) retry.push_back(r.workload);
      lock.unlock();
      for (const server::Workload& w : retry) (void)Start(w);
      Refresh();
      StartFollowers();
      lock.lock();
      cv_.wait_for(lock, o_.poll_interval, [this] { return stopping_; });
    }
  }

  void Refresh() {
    auto jobs = o_.client->List(K("batch/v1", "Job"), "", kManagedSelector);
    auto deployments = jobs.ok() ? o_.client->List(K("apps/v1", "Deployment"), "", kManagedSelector)
                                 : absl::StatusOr<ObjectList>(jobs.status());
    auto pods = deployments.ok() ? o_.client->List(K("v1", "Pod"), "", kManagedSelector)
                                 : absl::StatusOr<ObjectList>(deployments.status());
    if (!pods.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (sync_error_.empty() || synced_) {
        log::Warn("kubernetes: cannot list workloads",
                  {{"error", std::string(pods.status().message())}});
      }
      sync_error_ = std::string(pods.status().message());
      return;
    }
    std::vector<std::pair<std::string, WorkloadStatus>> transitions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // A purged resource's pods may still be terminating: not a log source any more.
      std::set<std::string> listed;
      for (const json::object& p : pods->items) {
        listed.insert(Label(p, "pai.io/uid"));
      }
      std::erase_if(purged_, [&](const std::string& uid) { return !listed.contains(uid); });
      Snapshot next = Build(jobs->items, deployments->items, pods->items, purged_);
      for (const auto& [key, st] : next.status) {
        auto old = snapshot_.status.find(key);
        if (old == snapshot_.status.end() || old->second.phase != st.phase) {
          transitions.emplace_back(key, st);
        }
      }
      const bool vanished = [&] {
        for (const auto& [key, st] : snapshot_.status) {
          if (!next.status.contains(key)) return true;
        }
        return false;
      }();
      snapshot_ = std::move(next);
      const bool first = !synced_;
      synced_ = true;
      sync_error_.clear();
      if (transitions.empty() && !vanished && !first) return;
    }
    for (const auto& [key, st] : transitions) {
      if (!o_.events || key.rfind("Session/", 0) != 0) continue;
      const auto [ns, name] = Split(key.substr(8));
      if (st.phase == "Running") {
        (void)o_.events->Append(ns, name, {json::object{{"type", "session.status_running"}}});
      } else if (Terminal(st.phase)) {
        // The harness's last events (from its pod's log) come before the end.
        std::string uid;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (auto it = snapshot_.uid.find(key); it != snapshot_.uid.end()) uid = it->second;
        }
        StopFollower(uid);
        if (!uid.empty()) SaveLogs(key, LogFile(uid), true);
        json::object e{{"type", "session.status_terminated"}, {"phase", st.phase}};
        if (!st.message.empty()) e["reason"] = st.message;
        (void)o_.events->Append(ns, name, {std::move(e)});
      }
    }
    if (o_.events) o_.events->Changed();
  }

  KubeRuntimeOptions o_;
  std::mutex lifecycle_mu_;                    // Start / Stop / End / Purge
  std::set<std::string> namespaces_;           // ensured (lifecycle_mu_)
  std::string last_hash_;                      // of Apply()'s rendering (lifecycle_mu_)
  std::mutex logs_mu_;                         // SaveLogs() (taken before mu_), and:
  std::map<std::string, size_t> events_seen_;  // harness events appended, by uid
  std::set<std::string> logs_final_;           // saved logs of ended workloads (paths)
  std::mutex mu_;                              // everything below
  std::condition_variable cv_;
  bool stopping_ = false;
  bool synced_ = false;
  std::string sync_error_ = "not listed yet";
  Snapshot snapshot_;
  std::map<std::string, Applied> applied_;       // by workload key
  std::map<std::string, WorkloadStatus> ended_;  // End(): until Purge or a new Start
  std::map<std::string, Retry> retry_;           // to apply again (poller)
  std::set<std::string> purged_;                 // uids purged while their pods may still be listed
  std::map<std::string, std::unique_ptr<Follower>> followers_;  // running Sessions' logs, by uid
  std::thread poller_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<server::Runtime>> NewKubeRuntime(KubeRuntimeOptions options) {
  if (!options.client) return absl::InvalidArgumentError("kubernetes runtime: no client");
  std::error_code ec;
  std::filesystem::create_directories(options.state_dir, ec);
  if (ec || ::chmod(options.state_dir.c_str(), 0700) != 0) {
    return absl::InternalError(pai::StrCat("cannot create ", options.state_dir));
  }
  return std::unique_ptr<server::Runtime>(std::make_unique<KubeRuntime>(std::move(options)));
}

}  // namespace pai::kube
