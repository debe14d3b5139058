#include "runtime/local.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "resource/resource.h"
#include "runtime/egress.h"
#include "runtime/sandbox.h"
#include "server/json_access.h"

namespace pai::runtime {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using server::ExecResult;
using server::Workload;
using server::WorkloadStatus;

constexpr int kGatewayPort = 4000;
constexpr int kEgressPort = 3128;
constexpr size_t kEgressKept = 1000;

using server::Arr;
using server::Obj;
using server::Str;

// Quantity(): an int-or-string member (Kubernetes quantities: 512Mi, 500m, 64) as text.
std::string Quantity(const json::object* o, const char* k) {
  const json::value* v = o ? o->if_contains(k) : nullptr;
  if (!v) return "";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_int64()) return std::to_string(v->as_int64());
  if (v->is_uint64()) return std::to_string(v->as_uint64());
  if (v->is_double()) return std::to_string(v->as_double());
  return "";
}
int64_t Int(const json::object* o, const char* k, int64_t dflt) {
  const json::value* v = o ? o->if_contains(k) : nullptr;
  if (v && v->is_int64()) return v->as_int64();
  if (v && v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return dflt;
}

// MakeDir(): creates `path` (missing parents root-owned 0711: traversable by the sandbox user,
// not listable) and gives the leaf `uid` and `mode`.
absl::Status MakeDir(const std::string& path, uid_t uid, mode_t mode) {
  fs::path p;
  for (const auto& part : fs::path(path)) {
    p /= part;
    if (::mkdir(p.c_str(), 0711) == 0) {
      (void)::chmod(p.c_str(), 0711);  // not narrowed by pai-server's umask 077
    } else if (errno != EEXIST) {
      return absl::InternalError(
          pai::StrCat("cannot create ", p.string(), ": ", std::strerror(errno)));
    }
  }
  if (::chown(path.c_str(), uid, uid) != 0 || ::chmod(path.c_str(), mode) != 0) {
    return absl::InternalError(pai::StrCat("cannot set owner of ", path));
  }
  return absl::OkStatus();
}

// CheckReachable(): whether a process running as `uid`:`gid` (a sandbox user: never root) can
// search every directory from / down to `path` — bwrap runs as that user and binds paths below
// the state directory, so a state directory under a 0700 home (/root) fails every run with
// bwrap's "Can't find source path … Permission denied". FailedPrecondition naming the first
// directory that stops it and the two ways out.
absl::Status CheckReachable(const std::string& path, uid_t uid, gid_t gid) {
  std::error_code ec;
  const fs::path full = fs::absolute(path, ec);  // a relative --state-dir: from the cwd's root
  if (ec) return absl::OkStatus();               // no cwd to resolve against: nothing to say
  fs::path p;
  for (const auto& part : full) {
    p /= part;
    struct stat st;
    if (::stat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;  // made later, 0711
    const mode_t need = st.st_uid == uid ? S_IXUSR : st.st_gid == gid ? S_IXGRP : S_IXOTH;
    if ((st.st_mode & need) == 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return absl::FailedPreconditionError(pai::StrCat(
          "the sandbox user (uid ", uid, ") cannot reach the state directory ", full.string(), ": ",
          p.string(), " is mode ", mode,
          " and gives it no search permission; start pai-server "
          "with --state-dir in a directory every user can traverse (for example /var/lib/pai), "
          "or allow traversal with: chmod o+x ",
          p.string()));
    }
  }
  return absl::OkStatus();
}

void WriteAll(int fd, const std::string& s);

// WriteRootFile(): a file in a directory only root writes (the run's own files): parents made
// 0711, the file replaced without following a link, then given to `uid` with `mode`.
absl::Status WriteRootFile(const std::string& path, const std::string& content, uid_t uid,
                           mode_t mode) {
  PAI_RETURN_IF_ERROR(MakeDir(fs::path(path).parent_path().string(), 0, 0711));
  (void)::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(pai::StrCat("cannot write ", path));
  WriteAll(fd, content);
  const bool ok = ::fchown(fd, uid, uid) == 0 && ::fchmod(fd, mode) == 0;
  ::close(fd);
  if (!ok) return absl::InternalError(pai::StrCat("cannot set owner of ", path));
  return absl::OkStatus();
}

// WriteAsUser(): a file in a tree the sandbox can change (its workspace, a volume), written by
// a child running as `uid`, so that a link planted there reaches nothing the sandbox user could
// not write anyway. `no_clobber`: an existing entry (a link too) is left alone.
absl::Status WriteAsUser(const std::string& path, const std::string& content, uid_t uid,
                         mode_t mode, bool no_clobber) {
  // Everything the child needs is prepared before fork (no allocation after it).
  std::vector<std::string> parents;
  for (fs::path d = fs::path(path).parent_path(); d.has_relative_path(); d = d.parent_path()) {
    parents.insert(parents.begin(), d.string());
  }
  std::vector<const char*> dirs;
  dirs.reserve(parents.size());
  for (const auto& d : parents) dirs.push_back(d.c_str());
  const char* file = path.c_str();
  const char* data = content.data();
  const size_t size = content.size();
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork");
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(uid, uid, uid) != 0 ||
        ::setresuid(uid, uid, uid) != 0) {
      ::_exit(120);
    }
    ::umask(022);
    for (const char* d : dirs) (void)::mkdir(d, 0755);
    const int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (no_clobber ? O_EXCL : O_TRUNC);
    const int fd = ::open(file, flags, mode);
    if (fd < 0) ::_exit(no_clobber && errno == EEXIST ? 0 : 121);
    for (size_t off = 0; off < size;) {
      const ssize_t n = ::write(fd, data + off, size - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) ::_exit(122);
      off += static_cast<size_t>(n);
    }
    ::_exit(::close(fd) == 0 ? 0 : 122);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::PermissionDeniedError(pai::StrCat("cannot write ", path, " as uid ", uid));
  }
  return absl::OkStatus();
}

// IsBeneath(): `path` equals `dir` or lies inside it (both absolute, normalised).
bool IsBeneath(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

std::string Normal(const std::string& p) {
  std::string n = fs::path(p).lexically_normal().string();
  while (n.size() > 1 && n.back() == '/') n.pop_back();
  return n;
}

// Pipe(): {read, write}, both close-on-exec (the sandbox dups what it needs).
absl::StatusOr<std::pair<int, int>> Pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe");
  return std::make_pair(fds[0], fds[1]);
}

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// WriteLine(): `line` to a non-blocking pipe, waiting at most `wait_ms` for room; false when the
// reader does not take it (a stopped or stuck harness never blocks the server).
bool WriteLine(int fd, const std::string& line, int wait_ms) {
  size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(fd, line.data() + off, line.size() - off);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      struct pollfd pfd {
        fd, POLLOUT, 0
      };
      if (::poll(&pfd, 1, wait_ms) <= 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

// One sandboxed process of a workload (a Session's harness, or one replica of an Agent).
struct Proc {
  std::unique_ptr<Sandbox> sandbox;
  std::mutex write_mu;  // guards stdin_w (writes and close); never held with Run::mu
  int stdin_w = -1;     // the harness's input (Sessions), non-blocking
  std::thread reader;

  // Send(): one JSON line to the harness. FailedPrecondition once its input is closed;
  // Unavailable when it does not read (its pipe stays full for 2 s).
  absl::Status Send(const std::string& line) {
    std::lock_guard<std::mutex> lock(write_mu);
    if (stdin_w < 0) return absl::FailedPreconditionError("the Session's input is closed");
    if (!WriteLine(stdin_w, line, 2000)) {
      return absl::UnavailableError("the Session's harness is not reading its input");
    }
    return absl::OkStatus();
  }
  void CloseInput() {
    std::lock_guard<std::mutex> lock(write_mu);
    if (stdin_w >= 0) ::close(stdin_w);
    stdin_w = -1;
  }

  // The last reference may be the reader's own (a replica that exited and was replaced).
  ~Proc() {
    if (!reader.joinable()) return;
    if (reader.get_id() == std::this_thread::get_id()) {
      reader.detach();
    } else {
      reader.join();
    }
  }
};

// Run: one workload known to the runtime.
struct Run {
  std::string kind, ns, name, uid, key, agent;
  std::string dir;   // runs/{Kind}/{ns}/{name}-{uid8}
  SandboxSpec spec;  // for (re)starting replicas
  int replicas = 1;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::shared_ptr<Proc>> procs;  // Sessions: one; Agents: `replicas`
  std::string phase = "Pending";
  std::string message;
  std::string started_at, completed_at, idle_since, last_error;
  std::string warning;  // a standing limitation of this run (no Landlock on this kernel)
  int64_t tokens = 0;
  bool ending = false;              // End() asked the harness to finish
  std::set<std::string> delivered;  // user event ids handed to the harness
  bool stopped = false;             // Stop(): no restarts, no more events
  bool finished = false;
  std::deque<std::string> egress;
  std::thread supervisor;  // Agents: restarts replicas
};

class LocalRuntime final : public server::Runtime {
 public:
  LocalRuntime(LocalRuntimeOptions o, std::unique_ptr<EgressService> egress)
      : o_(std::move(o)), egress_(std::move(egress)) {}

  ~LocalRuntime() override {
    std::vector<std::shared_ptr<Run>> runs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [k, r] : runs_) runs.push_back(r);
    }
    for (auto& r : runs) Shutdown(*r);
    egress_->Stop();
  }

  void SetGateway(const std::string& hp) { egress_->SetGatewayAddress(hp); }

  absl::Status Start(const Workload& w) override {
    // Start, Stop and Purge of workloads are serialised: a Stop never meets a half-started run.
    std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
    const std::string key = pai::StrCat(w.kind, "/", w.ns, "/", w.name);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = runs_.find(key); it != runs_.end()) {
        if (it->second->uid == w.uid) return absl::OkStatus();
      }
    }
    // A different uid under the same name: the old one is gone.
    StopLocked(w.kind, pai::StrCat(w.ns, "/", w.name));
    auto run = std::make_shared<Run>();
    run->kind = w.kind;
    run->ns = w.ns;
    run->name = w.name;
    run->uid = w.uid;
    run->key = key;
    run->agent = w.kind == "Session" ? w.agent : w.name;
    run->replicas = w.kind == "Session"
                        ? 1
                        : static_cast<int>(std::max<int64_t>(1, Int(&w.spec, "replicas", 1)));
    run->procs.resize(static_cast<size_t>(run->replicas));  // before the run is visible
    run->dir = RunDir(w.kind, pai::StrCat(w.ns, "/", w.name), w.uid);
    {
      std::lock_guard<std::mutex> lock(mu_);
      runs_[key] = run;
    }
    absl::Status st = Prepare(w, *run);
    if (st.ok()) st = w.kind == "Session" ? StartSession(run, w) : StartAgent(run, w);
    if (!st.ok()) {
      std::lock_guard<std::mutex> lock(run->mu);
      run->phase = w.kind == "Session" ? "Error" : "Failed";
      run->message = std::string(st.message());
      run->completed_at = Now();
      run->finished = true;
      if (w.kind == "Session") {
        Emit(*run, {{{"type", "session.error"},
                     {"error", {{"type", "sandbox_error"}, {"message", run->message}}}},
                    {{"type", "session.status_terminated"},
                     {"phase", "Error"},
                     {"reason", run->message}}});
      }
      log::Warn("workload failed to start", {{"workload", key}, {"error", run->message}});
    }
    return absl::OkStatus();
  }

  absl::Status Stop(const std::string& kind, const std::string& key) override {
    std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
    StopLocked(kind, key);
    return absl::OkStatus();
  }

  void StopLocked(const std::string& kind, const std::string& key) {
    std::shared_ptr<Run> run;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = runs_.find(pai::StrCat(kind, "/", key));
      if (it == runs_.end()) return;
      run = it->second;
      runs_.erase(it);
    }
    Shutdown(*run);
  }

  absl::Status End(const std::string& key, const std::string& reason) override {
    auto run = Find("Session", key);
    if (!run) return absl::NotFoundError(pai::StrCat("no running Session ", key));
    std::shared_ptr<Proc> p;
    {
      std::lock_guard<std::mutex> lock(run->mu);
      if (run->finished || run->ending) return absl::OkStatus();
      run->ending = true;
      run->message = reason;
      if (!run->procs.empty()) p = run->procs[0];
    }
    if (p) p->CloseInput();  // EOF: the harness finishes its turn and exits 0
    // A harness that does not finish within 30 s is killed (its turn is lost; it still ends
    // Complete: the user or the idle timeout asked for the end).
    std::thread([run, p] {
      std::unique_lock<std::mutex> lock(run->mu);
      if (!run->cv.wait_for(lock, std::chrono::seconds(30), [&] { return run->finished; }) && p &&
          p->sandbox) {
        lock.unlock();
        p->sandbox->Kill();
      }
    }).detach();
    return absl::OkStatus();
  }

  WorkloadStatus Status(const std::string& kind, const std::string& key) override {
    WorkloadStatus s;
    auto run = Find(kind, key);
    if (!run) {
      s.phase = "Pending";
      return s;
    }
    std::lock_guard<std::mutex> lock(run->mu);
    s.known = true;
    s.ending = run->ending;
    s.phase = run->phase;
    s.message = run->message;
    if (!run->warning.empty() && !run->finished) {
      s.message = s.message.empty() ? run->warning : pai::StrCat(s.message, "; ", run->warning);
    }
    s.started_at = run->started_at;
    s.completed_at = run->completed_at;
    s.idle_since = run->phase == "Idle" ? run->idle_since : "";
    s.tokens_used = run->tokens;
    s.job_name = pai::StrCat(run->ns, ".", run->name, ".", run->uid.substr(0, 8));
    for (const auto& p : run->procs) {
      if (p && p->sandbox && !run->finished) {
        ++s.replicas_running;
        if (s.pod_name.empty()) s.pod_name = pai::StrCat("local/", p->sandbox->pid());
      }
    }
    return s;
  }

  std::vector<std::string> Keys() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [k, r] : runs_) out.push_back(k);
    return out;
  }

  absl::Status Deliver(const std::string& key, const json::object& event) override {
    auto run = Find("Session", key);
    if (!run) return absl::UnavailableError("the Session has not started: the event is queued");
    std::shared_ptr<Proc> proc;
    {
      std::lock_guard<std::mutex> lock(run->mu);
      if (run->finished || run->ending) {
        return absl::FailedPreconditionError("the Session is ending");
      }
      if (run->procs.empty() || !run->procs[0]) {
        return absl::UnavailableError("the Session has not started: the event is queued");
      }
      const std::string id = Str(&event, "id");
      if (!id.empty() && !run->delivered.insert(id).second) return absl::OkStatus();  // once
      proc = run->procs[0];
    }
    return proc->Send(json::serialize(event) + "\n");
  }

  absl::StatusOr<ExecResult> Exec(const std::string& kind, const std::string& key,
                                  const std::vector<std::string>& argv,
                                  const std::string& stdin_data, int timeout_ms) override {
    auto proc = Running(kind, key);
    if (!proc.ok()) return proc.status();
    auto r = (*proc)->sandbox->Exec(argv, stdin_data, timeout_ms);
    if (!r.ok()) return r.status();
    return ExecResult{r->exit_code, std::move(r->stdout_data), std::move(r->stderr_data)};
  }

  absl::StatusOr<int> OpenControl(const std::string& kind, const std::string& key) override {
    auto proc = Running(kind, key);
    if (!proc.ok()) return proc.status();
    return (*proc)->sandbox->OpenControl();
  }

  absl::StatusOr<std::string> ReadFile(const std::string& kind, const std::string& key,
                                       const std::string& path) override {
    auto proc = Running(kind, key);
    if (!proc.ok()) return proc.status();
    return (*proc)->sandbox->ReadFile(path, 64u << 20);
  }

  absl::Status WriteFile(const std::string& kind, const std::string& key, const std::string& path,
                         const std::string& content) override {
    auto proc = Running(kind, key);
    if (!proc.ok()) return proc.status();
    return (*proc)->sandbox->WriteFile(path, content, 0644);
  }

  absl::StatusOr<std::string> LogPath(const std::string& kind, const std::string& key,
                                      const std::string& uid) override {
    const std::string path = RunDir(kind, key, uid) + "/log";
    if (!fs::exists(path)) return absl::NotFoundError(pai::StrCat("no logs for ", kind, " ", key));
    return path;
  }

  void Purge(const std::string& kind, const std::string& key, const std::string& uid) override {
    std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
    StopLocked(kind, key);
    std::error_code ec;
    fs::remove_all(RunDir(kind, key, uid), ec);
    const size_t slash = key.find('/');
    fs::remove_all(Workspace(kind, key.substr(0, slash), key.substr(slash + 1)), ec);
  }

  absl::StatusOr<std::vector<std::string>> EgressRecords(const std::string& key,
                                                         size_t limit) override {
    auto run = Find("Session", key);
    if (!run) return absl::NotFoundError(pai::StrCat("no Session ", key, " in the runtime"));
    std::lock_guard<std::mutex> lock(run->mu);
    std::vector<std::string> out;
    const size_t from = run->egress.size() > limit ? run->egress.size() - limit : 0;
    for (size_t i = from; i < run->egress.size(); ++i) out.push_back(run->egress[i]);
    return out;
  }

  void OnEgress(const EgressRecord& r) {
    // The key is "Kind/ns/name".
    auto run = [&]() -> std::shared_ptr<Run> {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = runs_.find(r.sandbox);
      return it == runs_.end() ? nullptr : it->second;
    }();
    if (!run) return;
    json::object o{{"time", r.time},        {"method", r.method},       {"host", r.host},
                   {"port", r.port},        {"path", r.path},           {"address", r.address},
                   {"allowed", r.allowed},  {"status", r.status},       {"reason", r.reason},
                   {"bytesUp", r.bytes_up}, {"bytesDown", r.bytes_down}};
    const std::string line = json::serialize(o);
    std::lock_guard<std::mutex> lock(run->mu);
    run->egress.push_back(line);
    if (run->egress.size() > kEgressKept) run->egress.pop_front();
    std::ofstream(run->dir + "/egress.jsonl", std::ios::app) << line << "\n";
  }

 private:
  std::string Now() const { return server::Rfc3339(o_.clock->Now()); }

  // Workspace(): workspaces/{sessions|agents}/{ns}/{name} (Session and Agent names never meet).
  std::string Workspace(const std::string& kind, const std::string& ns,
                        const std::string& name) const {
    return pai::StrCat(o_.state_dir, "/workspaces/", kind == "Session" ? "sessions" : "agents", "/",
                       ns, "/", name);
  }

  // RunDir(): runs/{Kind}/{ns}/{name}-{uid8}.
  std::string RunDir(const std::string& kind, const std::string& key,
                     const std::string& uid) const {
    return pai::StrCat(o_.state_dir, "/runs/", kind, "/", key, "-", uid.substr(0, 8));
  }

  std::shared_ptr<Run> Find(const std::string& kind, const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(pai::StrCat(kind, "/", key));
    return it == runs_.end() ? nullptr : it->second;
  }

  // Running(): the first live sandbox of the workload, kept alive by the caller's reference.
  absl::StatusOr<std::shared_ptr<Proc>> Running(const std::string& kind, const std::string& key) {
    auto run = Find(kind, key);
    if (!run) return absl::FailedPreconditionError(pai::StrCat(kind, " ", key, " is not running"));
    std::lock_guard<std::mutex> lock(run->mu);
    for (const auto& p : run->procs) {
      if (p && p->sandbox && !run->finished) return p;
    }
    return absl::FailedPreconditionError(pai::StrCat(kind, " ", key, " is not running"));
  }

  void Emit(Run& run, std::vector<json::object> events) {
    if (run.kind != "Session") return;
    if (absl::Status s = o_.events->Append(run.ns, run.name, std::move(events)); !s.ok()) {
      log::Warn("cannot store session events",
                {{"session", run.key}, {"error", std::string(s.message())}});
    }
  }

  // Prepare(): directories, files, mounts, environment and limits of the sandbox spec.
  absl::Status Prepare(const Workload& w, Run& run) {
    const json::object& spec = w.spec;
    const int64_t uid = Int(&spec, "runAsUser", 65532);
    if (uid <= 0) return absl::FailedPreconditionError("runAsUser 0 (root) is not allowed");
    PAI_RETURN_IF_ERROR(
        CheckReachable(o_.state_dir, static_cast<uid_t>(uid), static_cast<gid_t>(uid)));
    SandboxSpec& sb = run.spec;
    sb.id =
        pai::StrCat(w.kind == "Session" ? "s-" : "a-", w.ns, ".", w.name, ".", w.uid.substr(0, 8));
    sb.uid = static_cast<uid_t>(uid);
    sb.gid = static_cast<gid_t>(uid);
    sb.hostname = w.name.substr(0, 63);
    sb.init_path = o_.init_bin;
    sb.state_dir = o_.state_dir + "/ctl";  // control sockets: never mounted into a sandbox
    PAI_RETURN_IF_ERROR(MakeDir(run.dir, 0, 0711));
    PAI_RETURN_IF_ERROR(MakeDir(run.dir + "/run", 0, 0755));
    PAI_RETURN_IF_ERROR(MakeDir(run.dir + "/files", 0, 0755));
    // The log: appended by the sandbox, read by `pai logs`.
    { std::ofstream touch(run.dir + "/log", std::ios::app); }
    std::vector<std::string> writable = {"/tmp"};
    // Volumes: shared by every run of the Agent.
    bool workspace_is_volume = false;
    if (const json::array* vols = Arr(&spec, "volumes")) {
      for (const json::value& v : *vols) {
        if (!v.is_object()) continue;
        const std::string vname = Str(&v.as_object(), "name");
        const std::string mount = Normal(Str(&v.as_object(), "mountPath"));
        if (!resource::IsDns1123Label(vname)) {
          return absl::InvalidArgumentError(
              pai::StrCat("volumes: \"", vname, "\" is not a volume name (a DNS-1123 label)"));
        }
        if (mount.empty() || mount[0] != '/') continue;
        const std::string host =
            pai::StrCat(o_.state_dir, "/volumes/", w.ns, "/", run.agent, "/", vname);
        PAI_RETURN_IF_ERROR(MakeDir(host, sb.uid, 0700));
        sb.mounts.push_back({host, mount, false});
        writable.push_back(mount);
        if (mount == "/workspace") workspace_is_volume = true;
      }
    }
    if (!workspace_is_volume) {
      const std::string ws = Workspace(w.kind, w.ns, w.name);
      PAI_RETURN_IF_ERROR(MakeDir(ws, sb.uid, 0700));
      sb.mounts.push_back({ws, "/workspace", false});
      writable.push_back("/workspace");
    }
    if (const json::object* fsys = Obj(&spec, "filesystem")) {
      if (const json::array* ws = Arr(fsys, "writablePaths")) {
        for (const json::value& p : *ws) {
          if (!p.is_string()) continue;
          const std::string path = Normal(std::string(p.as_string()));
          if (path.empty() || path[0] != '/') continue;
          bool covered = false;
          for (const auto& m : sb.mounts) covered = covered || IsBeneath(path, m.target);
          if (!covered) {
            // A writable directory of this run (the host root is read-only in the sandbox).
            const std::string host = pai::StrCat(run.dir, "/writable", path);
            PAI_RETURN_IF_ERROR(MakeDir(host, sb.uid, 0700));
            sb.mounts.push_back({host, path, false});
          }
          writable.push_back(path);
        }
      }
      if (const json::array* ro = Arr(fsys, "readOnlyPaths")) {
        for (const json::value& p : *ro) {
          if (p.is_string()) sb.read_only_paths.push_back(Normal(std::string(p.as_string())));
        }
      }
    }
    // Files: skills, PaiFile versions, configFiles.
    int n = 0;
    for (const server::WorkloadFile& f : w.files) {
      const std::string target = Normal(f.path);
      if (target.empty() || target[0] != '/') continue;
      const server::WorkloadFile* file = &f;
      // Beneath a writable mount: copied there (configFiles never overwrite what exists).
      const Mount* host_mount = nullptr;
      for (const auto& m : sb.mounts) {
        if (!m.read_only && IsBeneath(target, m.target)) host_mount = &m;
      }
      if (host_mount && !file->read_only) {
        const std::string host = host_mount->source + target.substr(host_mount->target.size());
        PAI_RETURN_IF_ERROR(WriteAsUser(host, file->content, sb.uid, 0644, file->no_clobber));
        continue;
      }
      const std::string host = pai::StrCat(run.dir, "/files/", n++);
      PAI_RETURN_IF_ERROR(
          WriteRootFile(host, file->content, sb.uid, file->read_only ? 0444 : 0644));
      sb.mounts.push_back({host, target, file->read_only});
      if (!file->read_only) writable.push_back(target);
    }
    sb.writable_paths = writable;
    if (DetectHost().landlock_abi == 0) {
      run.warning =
          "filesystem rules not enforced: this kernel has no Landlock (5.13 or later); "
          "only the mount view limits writes";
    }
    // /run/pai: the sockets and session.json (read-only inside).
    sb.mounts.push_back({run.dir + "/run", "/run/pai", true});
    sb.forwards = {{kGatewayPort, "/run/pai/gateway.sock"}, {kEgressPort, "/run/pai/egress.sock"}};
    sb.allowed_tcp_ports = {kGatewayPort, kEgressPort};
    // Limits.
    if (const json::object* lim = Obj(Obj(&spec, "resources"), "limits")) {
      if (std::string m = Quantity(lim, "memory"); !m.empty()) {
        auto b = ParseMemoryQuantity(m);
        if (!b.ok()) return b.status();
        sb.limits.memory_bytes = *b;
      }
      if (std::string c = Quantity(lim, "cpu"); !c.empty()) {
        auto cores = ParseCpuQuantity(c);
        if (!cores.ok()) return cores.status();
        sb.limits.cpus = *cores;
      }
      if (std::string p = Quantity(lim, "pids"); !p.empty()) {
        (void)absl::SimpleAtoi(p, &sb.limits.pids);
      }
    }
    if (sb.limits.pids == 0) sb.limits.pids = 512;  // fork bombs stop here by default
    // Environment: the Agent's env and the creator's, then what Pai owns (never overridden).
    sb.env = w.env;
    const std::string proxy = pai::StrCat("http://127.0.0.1:", kEgressPort);
    for (auto [k, v] : std::initializer_list<std::pair<const char*, std::string>>{
             {"OPENAI_BASE_URL", pai::StrCat("http://127.0.0.1:", kGatewayPort, "/v1")},
             {"OPENAI_API_KEY", w.gateway_token},
             {"PAI_GATEWAY_URL", pai::StrCat("http://127.0.0.1:", kGatewayPort)},
             {"HTTP_PROXY", proxy},
             {"HTTPS_PROXY", proxy},
             {"http_proxy", proxy},
             {"https_proxy", proxy},
             {"NO_PROXY", "127.0.0.1,localhost"},
             {"no_proxy", "127.0.0.1,localhost"},
             {"HOME", "/workspace"},
             {"PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"},
             {"LANG", "C.UTF-8"},
             {"PAI_NAMESPACE", w.ns},
             {"PAI_AGENT", run.agent}}) {
      sb.env[k] = v;
    }
    if (w.kind == "Session") sb.env["PAI_SESSION"] = w.name;
    sb.cwd = "/workspace";
    // Egress: the two sockets in run/.
    EgressPolicy policy;
    policy.allow = o_.egress_allow;
    return egress_->AddSandbox(run.key, run.dir + "/run", policy);
  }

  absl::Status StartSession(const std::shared_ptr<Run>& run, const Workload& w) {
    SandboxSpec sb = run->spec;
    PAI_RETURN_IF_ERROR(
        WriteRootFile(run->dir + "/run/session.json", json::serialize(w.session), 0, 0644));
    sb.mounts.push_back({o_.harness_bin, "/opt/pai/bin/pai-harness", true});
    std::vector<std::string> setup = PackageSetup(w.spec, sb.env);
    if (setup.empty()) {
      sb.argv = {"/opt/pai/bin/pai-harness"};
    } else {
      sb.argv = {"/bin/sh", "-c",
                 pai::StrCat(absl::StrJoin(setup, "\n"), "\nexec /opt/pai/bin/pai-harness")};
    }
    PAI_RETURN_IF_ERROR(Launch(run, sb, /*replica=*/0));
    // Events posted before the harness existed (Pending): delivered now, in order, once.
    for (const json::object& e : o_.events->Undelivered(run->ns, run->name)) {
      (void)Deliver(pai::StrCat(run->ns, "/", run->name), e);
    }
    return absl::OkStatus();
  }

  // PackageSetup(): shell lines installing `packages.pip` / `packages.npm` into the workspace
  // through the egress proxy before the harness starts; a failure is reported as the Session's
  // error. (apt, go, gem, cargo: the controller reports them as unsupported here.)
  static std::vector<std::string> PackageSetup(const json::object& spec,
                                               std::map<std::string, std::string>& env) {
    std::vector<std::string> lines;
    const json::object* pk = Obj(&spec, "packages");
    auto quoted = [](const json::array& a) {
      std::string out;
      for (const json::value& v : a) {
        if (!v.is_string()) continue;
        std::string q = "'";
        for (char c : std::string(v.as_string()))
          q += c == '\'' ? std::string("'\\''") : std::string(1, c);
        out += " " + q + "'";
      }
      return out;
    };
    auto fail = [](const char* what) {
      return pai::StrCat(
          " || { echo '{\"type\":\"session.error\",\"error\":{\"type\":"
          "\"harness_error\",\"message\":\"",
          what, " failed (see pai logs)\"}}' >&3; exit 5; }");
    };
    if (const json::array* pip = Arr(pk, "pip"); pip && !pip->empty()) {
      lines.push_back(
          pai::StrCat("python3 -m pip install --quiet --no-cache-dir --target "
                      "/workspace/.pai/pip",
                      quoted(*pip), fail("pip install")));
      env["PYTHONPATH"] = "/workspace/.pai/pip";
    }
    if (const json::array* npm = Arr(pk, "npm"); npm && !npm->empty()) {
      lines.push_back(
          pai::StrCat("npm install --silent --no-audit --no-fund --prefix "
                      "/workspace/.pai/npm",
                      quoted(*npm), fail("npm install")));
      env["NODE_PATH"] = "/workspace/.pai/npm/node_modules";
    }
    return lines;
  }

  absl::Status StartAgent(const std::shared_ptr<Run>& run, const Workload& w) {
    std::vector<std::string> argv;
    if (const json::array* cmd = Arr(&w.spec, "command")) {
      for (const json::value& a : *cmd) {
        if (a.is_string()) argv.emplace_back(a.as_string());
      }
    }
    if (argv.empty()) {
      const std::string image = Str(&w.spec, "image");
      return absl::FailedPreconditionError(
          image.empty() ? "no command to run"
                        : pai::StrCat("image \"", image,
                                      "\" needs an OCI runtime; the local runtime runs `command` "
                                      "only (set spec.command)"));
    }
    run->spec.argv = argv;
    if (const std::string image = Str(&w.spec, "image"); !image.empty()) {
      run->warning = pai::StrCat("image \"", image,
                                 "\" is not run: the local runtime has no OCI "
                                 "runtime; `command` runs on the host's system files");
    }
    for (int i = 0; i < run->replicas; ++i) {
      SandboxSpec sb = run->spec;
      sb.id = pai::StrCat(run->spec.id, ".", i);
      PAI_RETURN_IF_ERROR(Launch(run, sb, i));
    }
    run->supervisor = std::thread([this, run] { Supervise(run); });
    return absl::OkStatus();
  }

  // Launch(): starts one sandbox of `run` and its reader thread.
  absl::Status Launch(const std::shared_ptr<Run>& run, SandboxSpec sb, int replica) {
    const bool session = run->kind == "Session";
    const int log_fd =
        ::open((run->dir + "/log").c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (log_fd < 0) return absl::InternalError("cannot open the log");
    auto in = Pipe();
    auto ev = Pipe();
    if (!in.ok() || !ev.ok()) {
      ::close(log_fd);
      for (auto* p : {&in, &ev}) {
        if (p->ok()) {
          ::close((*p)->first);
          ::close((*p)->second);
        }
      }
      return absl::InternalError("cannot create pipes");
    }
    sb.stdin_fd = in->first;
    sb.stdout_fd = log_fd;
    sb.stderr_fd = log_fd;
    sb.events_fd = ev->second;
    auto started = Sandbox::Start(sb);
    ::close(in->first);
    ::close(ev->second);
    ::close(log_fd);
    if (!started.ok()) {
      ::close(in->second);
      ::close(ev->first);
      return started.status();
    }
    auto proc = std::make_shared<Proc>();
    proc->sandbox = std::move(*started);
    proc->stdin_w = session ? in->second : -1;
    if (session) (void)::fcntl(in->second, F_SETFL, O_NONBLOCK);
    if (!session) ::close(in->second);
    {
      std::lock_guard<std::mutex> lock(run->mu);
      if (run->stopped) {  // stopped while it started: nobody else will kill it
        proc->sandbox->Kill();
        ::close(ev->first);
        return absl::AbortedError("the workload was stopped while starting");
      }
      if (run->started_at.empty()) run->started_at = Now();
      if (!session) run->phase = "Running";
      run->procs[static_cast<size_t>(replica)] = proc;
    }
    const int events_r = ev->first;
    proc->reader = std::thread([this, run, proc, events_r] { Read(run, proc, events_r); });
    return absl::OkStatus();
  }

  // Read(): the sandbox's fd 3 until EOF, then its exit.
  void Read(const std::shared_ptr<Run>& run, const std::shared_ptr<Proc>& proc, int fd) {
    std::string buf;
    char chunk[65536];
    for (;;) {
      ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buf.append(chunk, static_cast<size_t>(n));
      size_t start = 0;
      for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
        OnLine(*run, *proc, buf.substr(start, nl - start));
      }
      buf.erase(0, start);
      if (buf.size() > (4u << 20)) buf.clear();  // a line this long is not an event
    }
    ::close(fd);
    ExitInfo exit = proc->sandbox->Wait();
    OnExit(run, proc, exit);
  }

  void OnLine(Run& run, Proc& proc, const std::string& line) {
    if (run.kind != "Session") return;
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) return;
    json::object& e = v.as_object();
    const std::string control = Str(&e, "control");
    if (control == "processed") {
      o_.events->MarkProcessed(run.ns, run.name, Str(&e, "event_id"));
      return;
    }
    if (control == "register_file") {
      RegisterFile(run, proc, e);
      return;
    }
    if (!control.empty()) return;
    {
      std::lock_guard<std::mutex> lock(run.mu);
      if (run.stopped) return;  // deleted: its events must not outlive it
    }
    const std::string type = Str(&e, "type");
    if (type.empty() || type.rfind("user.", 0) == 0) return;  // a harness cannot speak as a user
    bool changed = false;
    {
      std::lock_guard<std::mutex> lock(run.mu);
      if (type == "session.status_running" && run.phase != "Running") {
        run.phase = "Running";
        run.idle_since.clear();
        changed = true;
      } else if (type == "session.status_idle" && run.phase != "Idle") {
        run.phase = "Idle";
        run.idle_since = Now();
        changed = true;
      } else if (type == "span.model_request_end") {
        run.tokens += Int(Obj(&e, "usage"), "total_tokens", 0);
      } else if (type == "session.error") {
        run.last_error = Str(Obj(&e, "error"), "message");
      }
    }
    if (type == "session.status_terminated") return;  // the runtime says when it ends
    Emit(run, {std::move(e)});
    if (changed) o_.events->Changed();
  }

  void RegisterFile(Run& run, Proc& proc, const json::object& e) {
    json::object reply{{"control", "register_file_result"}, {"request_id", Str(&e, "request_id")}};
    auto content = proc.sandbox->ReadFile(Str(&e, "path"), 16u << 20);
    if (!content.ok()) {
      reply["error"] = std::string(content.status().message());
    } else if (auto v = o_.events->RegisterFile(run.ns, Str(&e, "file"), *content); !v.ok()) {
      reply["error"] = std::string(v.status().message());
    } else {
      reply["version"] = *v;
    }
    (void)proc.Send(json::serialize(reply) + "\n");
  }

  void OnExit(const std::shared_ptr<Run>& run, const std::shared_ptr<Proc>& proc,
              const ExitInfo& exit) {
    std::vector<json::object> events;
    proc->CloseInput();
    {
      std::lock_guard<std::mutex> lock(run->mu);
      if (run->kind != "Session") {
        // A replica ended: the supervisor restarts it (unless stopped).
        for (auto& p : run->procs) {
          if (p == proc) p.reset();
        }
        run->message = pai::StrCat("a replica exited (", ExitText(exit), "); restarting");
        run->cv.notify_all();
        return;
      }
      if (run->stopped) {
        run->finished = true;
        run->cv.notify_all();
        return;
      }
      // Ended on request (idle timeout, the user): Complete even if the harness had to be killed.
      const bool ok = (exit.exit_code == 0 || run->ending) && !exit.oom_killed;
      run->phase = ok ? "Complete" : "Error";
      if (exit.oom_killed) {
        run->message = exit.message.empty() ? "out of memory" : exit.message;
        events.push_back({{"type", "session.error"},
                          {"error", {{"type", "oom_killed"}, {"message", run->message}}}});
      } else if (!ok) {
        run->message = !run->last_error.empty() ? run->last_error : ExitText(exit);
      } else if (run->message.empty()) {
        run->message = "finished";
      }
      run->completed_at = Now();
      run->finished = true;
      events.push_back(
          {{"type", "session.status_terminated"}, {"phase", run->phase}, {"reason", run->message}});
      run->cv.notify_all();
    }
    Emit(*run, std::move(events));
    egress_->RemoveSandbox(run->key);
    o_.events->Changed();
  }

  static std::string ExitText(const ExitInfo& e) {
    if (e.oom_killed) return e.message.empty() ? "out of memory" : e.message;
    if (!e.message.empty()) return e.message;
    return pai::StrCat("exit code ", e.exit_code);
  }

  // Supervise(): restarts exited replicas of a long-running Agent with a doubling backoff.
  void Supervise(std::shared_ptr<Run> run) {
    int backoff = o_.replica_restart_backoff_ms;
    std::unique_lock<std::mutex> lock(run->mu);
    while (!run->stopped) {
      bool missing = false;
      for (const auto& p : run->procs) missing = missing || !p;
      if (!missing) {
        backoff = o_.replica_restart_backoff_ms;
        run->cv.wait(lock);
        continue;
      }
      run->cv.wait_for(lock, std::chrono::milliseconds(backoff), [&] { return run->stopped; });
      if (run->stopped) break;
      for (size_t i = 0; i < run->procs.size(); ++i) {
        if (run->procs[i]) continue;
        SandboxSpec sb = run->spec;
        sb.id = pai::StrCat(run->spec.id, ".", i);
        lock.unlock();
        absl::Status s = Launch(run, sb, static_cast<int>(i));
        lock.lock();
        if (!s.ok()) run->message = std::string(s.message());
      }
      backoff = std::min(backoff * 2, 60000);
    }
  }

  void Shutdown(Run& run) {
    std::vector<std::shared_ptr<Proc>> procs;
    {
      std::lock_guard<std::mutex> lock(run.mu);
      run.stopped = true;
      procs = run.procs;
      run.cv.notify_all();
    }
    for (auto& p : procs) {
      if (p && p->sandbox) p->sandbox->Kill();
    }
    if (run.supervisor.joinable()) run.supervisor.join();
    for (auto& p : procs) {
      if (p && p->reader.joinable()) {
        if (p->reader.get_id() == std::this_thread::get_id()) {
          p->reader.detach();
        } else {
          p->reader.join();
        }
      }
    }
    // Replicas relaunched while stopping.
    std::lock_guard<std::mutex> lock(run.mu);
    for (auto& p : run.procs) {
      if (p && p->reader.joinable() && p->reader.get_id() != std::this_thread::get_id()) {
        if (p->sandbox) p->sandbox->Kill();
        p->reader.detach();
      }
    }
    egress_->RemoveSandbox(run.key);
  }

  LocalRuntimeOptions o_;
  std::unique_ptr<EgressService> egress_;
  std::mutex lifecycle_mu_;  // Start / Stop / Purge
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Run>> runs_;
};

}  // namespace

absl::StatusOr<int64_t> ParseMemoryQuantity(const std::string& q) {
  static const std::pair<const char*, int64_t> kSuffixes[] = {
      {"Ki", 1LL << 10}, {"Mi", 1LL << 20}, {"Gi", 1LL << 30}, {"Ti", 1LL << 40},     {"k", 1000},
      {"K", 1000},       {"M", 1000000},    {"G", 1000000000}, {"T", 1000000000000LL}};
  for (auto [suffix, mult] : kSuffixes) {
    const std::string s(suffix);
    if (q.size() > s.size() && q.compare(q.size() - s.size(), s.size(), s) == 0) {
      double v = 0;
      if (!absl::SimpleAtod(q.substr(0, q.size() - s.size()), &v) || v <= 0) break;
      return static_cast<int64_t>(v * static_cast<double>(mult));
    }
  }
  int64_t v = 0;
  if (absl::SimpleAtoi(q, &v) && v > 0) return v;
  return absl::InvalidArgumentError(
      pai::StrCat("resources.limits.memory: \"", q, "\" is not a quantity (e.g. 512Mi, 1Gi)"));
}

absl::StatusOr<double> ParseCpuQuantity(const std::string& q) {
  double v = 0;
  if (!q.empty() && q.back() == 'm' && absl::SimpleAtod(q.substr(0, q.size() - 1), &v) && v > 0) {
    return v / 1000.0;
  }
  if (absl::SimpleAtod(q, &v) && v > 0) return v;
  return absl::InvalidArgumentError(
      pai::StrCat("resources.limits.cpu: \"", q, "\" is not a quantity (e.g. 500m, 2)"));
}

absl::StatusOr<std::unique_ptr<server::Runtime>> NewLocalRuntime(LocalRuntimeOptions options) {
  if (!options.events || !options.clock) return absl::InvalidArgumentError("events and clock");
  if (::geteuid() != 0) {
    return absl::FailedPreconditionError(
        "the local runtime needs root: it creates cgroups and runs each sandbox as its Agent's "
        "runAsUser");
  }
  const HostSupport& host = DetectHost();
  if (host.bwrap.empty()) {
    return absl::FailedPreconditionError(
        "the local runtime needs bubblewrap (apt install bubblewrap)");
  }
  for (const std::string* bin : {&options.harness_bin, &options.init_bin}) {
    if (::access(bin->c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(pai::StrCat("cannot execute ", *bin));
    }
  }
  if (absl::Status s = MakeDir(options.state_dir, 0, 0711); !s.ok()) return s;
  // Said at start, not only when the first run fails (each run checks its own runAsUser).
  if (absl::Status s = CheckReachable(options.state_dir, 65532, 65532); !s.ok()) {
    log::Warn("sessions cannot start", {{"error", std::string(s.message())}});
  }
  // The sandbox user (unprivileged bwrap) must reach the binaries it runs, wherever the build
  // lives (a checkout under /root is 0700): private copies, world-executable.
  if (absl::Status s = MakeDir(options.state_dir + "/bin", 0, 0755); !s.ok()) return s;
  if (absl::Status s = MakeDir(options.state_dir + "/ctl", 0, 0700); !s.ok()) return s;
  for (std::string* bin : {&options.harness_bin, &options.init_bin}) {
    const std::string copy = options.state_dir + "/bin/" + fs::path(*bin).filename().string();
    const std::string tmp = copy + ".tmp";
    std::error_code ec;
    fs::copy_file(*bin, tmp, fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::rename(tmp, copy, ec);
    if (ec || ::chmod(copy.c_str(), 0755) != 0) {
      return absl::InternalError(pai::StrCat("cannot copy ", *bin, " to ", copy));
    }
    *bin = copy;
  }
  EgressOptions eo;
  eo.gateway_address = options.gateway_address;
  // Set before any sandbox exists; records arrive only from sandboxes.
  auto holder = std::make_shared<LocalRuntime*>(nullptr);
  eo.on_record = [holder](const EgressRecord& r) {
    if (*holder) (*holder)->OnEgress(r);
  };
  auto egress = EgressService::Start(std::move(eo));
  if (!egress.ok()) return egress.status();
  auto rt = std::make_unique<LocalRuntime>(std::move(options), std::move(*egress));
  *holder = rt.get();
  log::Info("local runtime ready", {{"host", host.summary}});
  return std::unique_ptr<server::Runtime>(std::move(rt));
}

void SetGatewayAddress(server::Runtime& local_runtime, const std::string& host_port) {
  if (auto* l = dynamic_cast<LocalRuntime*>(&local_runtime)) l->SetGateway(host_port);
}

}  // namespace pai::runtime
