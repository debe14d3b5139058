#include "runtime/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include "boost/json.hpp"
#include "common/status_macros.h"
#include "runtime/cgroups.h"
#include "runtime/frames.h"
#include "runtime/landlock.h"

namespace pai::runtime {
namespace {

namespace json = boost::json;

constexpr char kInitInside[] = "/opt/pai/bin/pai-sandbox-init";
constexpr int kFileTimeoutMs = 30000;
constexpr size_t kStdinChunk = 64u << 10;
constexpr size_t kMaxIdLength = 200;  // "pai-<id>" stays a valid cgroup (file) name

std::string ErrnoText(int err) { return std::strerror(err); }

// ---- Host detection -------------------------------------------------------------------------

std::string FindBwrap() {
  for (const char* path : {"/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

// UserNamespaces(): whether unprivileged users may create user namespaces.
bool UserNamespaces() {
  for (const char* knob :
       {"/proc/sys/user/max_user_namespaces", "/proc/sys/kernel/unprivileged_userns_clone"}) {
    std::ifstream in(knob);
    long value = 1;
    if (in >> value && value == 0) return false;
  }
  return true;
}

HostSupport Detect() {
  HostSupport host;
  host.bwrap = FindBwrap();
  host.landlock_abi = LandlockAbi();
  bool writable = false;
  CgroupMode mode = DetectCgroupMode(&writable);
  host.cgroup_v2 = mode == CgroupMode::kV2;
  host.cgroup_writable = writable;
  host.user_namespaces = UserNamespaces();
  const char* cgroups = mode == CgroupMode::kV2         ? "cgroup v2"
                        : mode == CgroupMode::kHybridV1 ? "cgroup v1 (hybrid)"
                                                        : "no cgroups";
  host.summary = std::string("bwrap ") + (host.bwrap.empty() ? "missing" : host.bwrap) +
                 (host.user_namespaces ? "" : " (user namespaces disabled)") + ", Landlock " +
                 (host.landlock_abi ? "ABI " + std::to_string(host.landlock_abi)
                                    : std::string("unavailable (writes not confined)")) +
                 ", " + cgroups + (writable ? "" : " (not writable: no limits)");
  return host;
}

// ---- The fork thread ------------------------------------------------------------------------

// bwrap --die-with-parent uses PR_SET_PDEATHSIG, which fires when the *thread* that forked exits;
// forking from one thread that lives as long as the process ties sandboxes to the process.
class Launcher {
 public:
  static Launcher& Get() {
    static Launcher* launcher = new Launcher();  // never destroyed: its thread never ends
    return *launcher;
  }

  void Run(const std::function<void()>& task) {
    std::unique_lock lock(mu_);
    queue_.push_back(&task);
    cv_.notify_all();
    done_cv_.wait(lock,
                  [&] { return std::find(done_.begin(), done_.end(), &task) != done_.end(); });
    std::erase(done_, &task);
  }

 private:
  Launcher() {
    std::thread([this] { Loop(); }).detach();
  }

  void Loop() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return !queue_.empty(); });
      const std::function<void()>* task = queue_.front();
      queue_.erase(queue_.begin());
      lock.unlock();
      (*task)();
      lock.lock();
      done_.push_back(task);
      done_cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<const std::function<void()>*> queue_, done_;
};

// ---- The bwrap child ------------------------------------------------------------------------

// Everything the forked child needs, prepared before fork() (the child only makes syscalls).
struct ChildPlan {
  std::string bwrap;
  std::vector<std::string> args;
  std::vector<char*> argv;
  std::vector<std::string> procs_files;
  int fds[7] = {-1, -1, -1, -1, -1, -1, -1};  // sources for fds 0..6 (4: bwrap's --args)
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t parent = 0;
};

struct ChildError {
  int step;
  int err;
};

constexpr const char* kSteps[] = {"dup2",   "join cgroup", "setgroups", "setgid",
                                  "setuid", "prctl",       "exec bwrap"};

[[noreturn]] void ChildFail(int step) {
  ChildError e{step, errno};
  (void)!write(6, &e, sizeof e);
  _exit(127);
}

[[noreturn]] void RunChild(const ChildPlan& plan) {
  int tmp[7];
  for (int i = 0; i < 7; ++i) tmp[i] = plan.fds[i] >= 0 ? fcntl(plan.fds[i], F_DUPFD, 16) : -1;
  for (int i = 0; i < 7; ++i) {
    if (tmp[i] >= 0 && dup2(tmp[i], i) < 0) _exit(127);
  }
  syscall(SYS_close_range, 7, ~0u, 0);
  if (plan.fds[4] < 0) close(4);
  fcntl(6, F_SETFD, FD_CLOEXEC);
  for (const std::string& procs : plan.procs_files) {
    int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) ChildFail(1);
    close(fd);
  }
  if (syscall(SYS_setgroups, 0, nullptr) != 0) ChildFail(2);
  if (syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0) ChildFail(3);
  if (syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) ChildFail(4);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(5);
  if (getppid() != plan.parent) _exit(127);
  umask(022);  // the workload's files as a shell would make them (not pai-server's 077)
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  }
  char* envp[] = {nullptr};
  execve(plan.bwrap.c_str(), plan.argv.data(), envp);
  ChildFail(6);
}

// Forks and execs bwrap; returns its pid once exec succeeded.
absl::StatusOr<pid_t> LaunchChild(ChildPlan& plan) {
  for (auto& a : plan.args) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return absl::InternalError("pipe: " + ErrnoText(errno));
  plan.fds[6] = err_pipe[1];
  pid_t pid = -1;
  int fork_errno = 0;
  Launcher::Get().Run([&] {
    plan.parent = getpid();
    pid = fork();
    if (pid == 0) RunChild(plan);
    fork_errno = errno;
  });
  close(err_pipe[1]);
  if (pid < 0) {
    close(err_pipe[0]);
    return absl::InternalError("fork: " + ErrnoText(fork_errno));
  }
  ChildError e{};
  ssize_t n;
  do {
    n = read(err_pipe[0], &e, sizeof e);
  } while (n < 0 && errno == EINTR);
  close(err_pipe[0]);
  if (n == 0) return pid;
  int status;
  waitpid(pid, &status, 0);
  if (n != sizeof e) return absl::InternalError("sandbox child failed before exec");
  return absl::InternalError(std::string("sandbox child: ") + kSteps[e.step] + ": " +
                             ErrnoText(e.err));
}

// ---- bwrap arguments ------------------------------------------------------------------------

// HostPathOf(): the host path behind a sandbox path, through the mounts (last one wins).
std::optional<std::string> HostPathOf(const SandboxSpec& spec, const std::string& path) {
  std::optional<std::string> found;
  for (const Mount& m : spec.mounts) {
    const std::string& t = m.target;
    if (path == t)
      found = m.source;
    else if (path.size() > t.size() && path.compare(0, t.size(), t) == 0 &&
             (t.back() == '/' || path[t.size()] == '/')) {
      found = m.source + path.substr(t.size());
    }
  }
  return found;
}

std::vector<std::string> BwrapArgs(const SandboxSpec& spec) {
  std::vector<std::string> a = {"bwrap",
                                "--unshare-all",
                                "--die-with-parent",
                                "--new-session",
                                "--uid",
                                std::to_string(spec.uid),
                                "--gid",
                                std::to_string(spec.gid),
                                "--hostname",
                                spec.hostname,
                                "--ro-bind",
                                "/usr",
                                "/usr"};
  for (const char* dir : {"/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin"}) {
    struct stat st;
    if (lstat(dir, &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char target[256];
      ssize_t n = readlink(dir, target, sizeof target - 1);
      if (n <= 0) continue;
      a.insert(a.end(), {"--symlink", std::string(target, n), dir});
    } else if (S_ISDIR(st.st_mode)) {
      a.insert(a.end(), {"--ro-bind", dir, dir});
    }
  }
  a.insert(a.end(),
           {"--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"});
  for (const Mount& m : spec.mounts) {
    a.insert(a.end(), {m.read_only ? "--ro-bind" : "--bind", m.source, m.target});
  }
  for (const std::string& path : spec.read_only_paths) {
    if (auto host = HostPathOf(spec, path); host && access(host->c_str(), F_OK) == 0) {
      a.insert(a.end(), {"--ro-bind", *host, path});
    }
  }
  a.insert(a.end(), {"--ro-bind", spec.init_path, kInitInside, "--chdir", spec.cwd, "--clearenv"});
  // The environment (the gateway token, secretRef values) never appears in bwrap's argv, which
  // every host user can read in /proc: bwrap reads it from fd 4 (EnvArgs()) and closes it.
  if (!spec.env.empty()) a.insert(a.end(), {"--args", "4"});
  a.push_back(kInitInside);
  for (const PortForward& f : spec.forwards) {
    a.insert(a.end(), {"--forward", std::to_string(f.port) + "=" + f.unix_socket});
  }
  for (const std::string& path : spec.writable_paths) a.insert(a.end(), {"--writable", path});
  for (int port : spec.allowed_tcp_ports) {
    a.insert(a.end(), {"--connect-port", std::to_string(port)});
  }
  // Without --no-landlock the init detects the ABI itself and, when the kernel has none, says so
  // in the workload's stderr (the run's log).
  if (!spec.landlock) a.push_back("--no-landlock");
  a.push_back("--");
  a.insert(a.end(), spec.argv.begin(), spec.argv.end());
  return a;
}

// EnvArgs(): a sealed-off memfd holding "--setenv\0NAME\0VALUE\0..." for bwrap's --args.
absl::StatusOr<int> EnvArgs(const SandboxSpec& spec) {
  std::string blob;
  for (const auto& [name, value] : spec.env) {
    blob.append("--setenv").push_back('\0');
    blob.append(name).push_back('\0');
    blob.append(value).push_back('\0');
  }
  const int fd = static_cast<int>(syscall(SYS_memfd_create, "pai-bwrap-env", MFD_CLOEXEC));
  if (fd < 0) return absl::InternalError("memfd_create");
  for (size_t off = 0; off < blob.size();) {
    const ssize_t n = write(fd, blob.data() + off, blob.size() - off);
    if (n <= 0) {
      close(fd);
      return absl::InternalError("cannot write the sandbox environment");
    }
    off += static_cast<size_t>(n);
  }
  lseek(fd, 0, SEEK_SET);
  return fd;
}

absl::Status Validate(const SandboxSpec& spec) {
  if (spec.uid == 0) return absl::FailedPreconditionError("runAsUser 0 (root) is not allowed");
  if (spec.gid == 0) return absl::FailedPreconditionError("runAsGroup 0 (root) is not allowed");
  if (spec.id.empty() || spec.id.size() > kMaxIdLength ||
      spec.id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos) {
    return absl::InvalidArgumentError("sandbox id must be 1-" + std::to_string(kMaxIdLength) +
                                      " of [a-z0-9.-]: \"" + spec.id + "\"");
  }
  if (spec.argv.empty()) return absl::InvalidArgumentError("sandbox argv is empty");
  if (spec.init_path.empty() || access(spec.init_path.c_str(), X_OK) != 0) {
    return absl::InvalidArgumentError("pai-sandbox-init not found at \"" + spec.init_path + "\"");
  }
  for (const Mount& m : spec.mounts) {
    if (access(m.source.c_str(), F_OK) != 0) {
      return absl::InvalidArgumentError("mount source " + m.source + ": " + ErrnoText(errno));
    }
    if (m.target.empty() || m.target[0] != '/') {
      return absl::InvalidArgumentError("mount target must be absolute: \"" + m.target + "\"");
    }
  }
  if (DetectHost().bwrap.empty()) {
    return absl::FailedPreconditionError("bubblewrap (bwrap) is not installed");
  }
  if (!DetectHost().user_namespaces) {
    return absl::FailedPreconditionError("unprivileged user namespaces are disabled on this host");
  }
  return absl::OkStatus();
}

// ---- The control socket ---------------------------------------------------------------------

struct ControlSocket {
  std::string dir, path;
  int listen_fd = -1;
};

absl::StatusOr<ControlSocket> MakeControlSocket(const SandboxSpec& spec) {
  ControlSocket c;
  std::string tmpl =
      (spec.state_dir.empty() ? std::string("/tmp") : spec.state_dir) + "/pai-sbx-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError("control socket dir " + tmpl + ": " + ErrnoText(errno));
  }
  c.dir = tmpl;
  c.path = c.dir + "/control.sock";
  sockaddr_un addr{};
  if (c.path.size() >= sizeof addr.sun_path) {
    rmdir(c.dir.c_str());
    return absl::InvalidArgumentError("control socket path too long: " + c.path);
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, c.path.c_str(), c.path.size() + 1);
  c.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c.listen_fd < 0 || bind(c.listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(c.listen_fd, 64) != 0) {
    int err = errno;
    if (c.listen_fd >= 0) close(c.listen_fd);
    unlink(c.path.c_str());
    rmdir(c.dir.c_str());
    return absl::InternalError("control socket " + c.path + ": " + ErrnoText(err));
  }
  return c;
}

// IsInit(): whether `pid` is pid 2 of a nested pid namespace (bwrap is 1, the init 2).
bool IsInit(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("NSpid:", 0) != 0) continue;
    std::istringstream ids(line.substr(6));
    std::vector<long> v;
    for (long id; ids >> id;) v.push_back(id);
    return v.size() >= 2 && v.back() == 2;
  }
  return false;
}

// FindInit(): the init among the descendants of bwrap (outer bwrap → bwrap as pid 1 → init).
pid_t FindInit(pid_t pid, int depth) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  for (pid_t child; in >> child;) {
    if (IsInit(child)) return child;
    if (depth < 2) {
      if (pid_t found = FindInit(child, depth + 1); found > 0) return found;
    }
  }
  return -1;
}

std::string MiB(int64_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

// Status frame → absl code for file operations ("NotFound: ..." and so on).
absl::Status FileStatus(const std::string& message) {
  auto starts = [&](const char* p) { return message.rfind(p, 0) == 0; };
  if (starts("NotFound")) return absl::NotFoundError(message);
  if (starts("PermissionDenied")) return absl::PermissionDeniedError(message);
  if (starts("IsADirectory") || starts("NotRegular")) {
    return absl::FailedPreconditionError(message);
  }
  return absl::InternalError(message);
}

// ---- The sandbox ----------------------------------------------------------------------------

struct Reply {
  bool success = false;
  int exit_code = 0;
  std::string message;
  std::string out, err;
};

class SandboxImpl final : public Sandbox {
 public:
  SandboxImpl(pid_t pid, std::unique_ptr<CgroupSet> cgroups, ControlSocket control,
              int64_t memory_limit)
      : pid_(pid),
        pidfd_(static_cast<int>(syscall(SYS_pidfd_open, pid, 0))),
        cgroups_(std::move(cgroups)),
        control_(std::move(control)),
        memory_limit_(memory_limit) {}

  ~SandboxImpl() override {
    Kill();
    if (pidfd_ >= 0) close(pidfd_);
    unlink(control_.path.c_str());
    rmdir(control_.dir.c_str());
  }

  pid_t pid() const override { return pid_; }

  std::optional<ExitInfo> TryWait() override {
    std::lock_guard lock(mu_);
    if (exit_ || reaping_) return exit_;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) exit_ = MakeExit(status);
    return exit_;
  }

  ExitInfo Wait() override {
    std::unique_lock lock(mu_);
    while (!exit_) {
      if (reaping_) {
        cv_.wait(lock);
        continue;
      }
      reaping_ = true;
      lock.unlock();
      int status = 0;
      pid_t r;
      do {
        r = waitpid(pid_, &status, 0);
      } while (r < 0 && errno == EINTR);
      lock.lock();
      reaping_ = false;
      exit_ = r == pid_ ? MakeExit(status) : LostExit();
      cv_.notify_all();
    }
    return *exit_;
  }

  void Kill() override {
    std::lock_guard kill_lock(kill_mu_);
    if (removed_) return;
    {
      std::lock_guard lock(mu_);
      if (!exit_) killed_ = true;
    }
    if (!TryWait()) {
      cgroups_->Kill();
      if (pidfd_ >= 0) syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0);
    }
    Wait();
    (void)cgroups_->Remove();
    removed_ = true;
  }

  absl::Status Terminate() override {
    if (TryWait()) return absl::UnavailableError("the sandbox has exited");
    pid_t init = FindInit(pid_, 0);
    int fd = init > 0 ? static_cast<int>(syscall(SYS_pidfd_open, init, 0)) : -1;
    // Checked again through the pidfd: the pid cannot be reused behind it.
    bool sent =
        fd >= 0 && IsInit(init) && syscall(SYS_pidfd_send_signal, fd, SIGTERM, nullptr, 0) == 0;
    if (fd >= 0) close(fd);
    if (!sent) return absl::UnavailableError("the sandbox's init is not running");
    return absl::OkStatus();
  }

  std::vector<std::string> CgroupDirs() const override {
    std::lock_guard kill_lock(kill_mu_);
    return cgroups_->Dirs();
  }

  absl::StatusOr<ExecResult> Exec(const std::vector<std::string>& argv,
                                  const std::string& stdin_data, int timeout_ms,
                                  size_t max_output) override {
    json::object req;
    req["op"] = "exec";
    json::array args;
    for (const auto& a : argv) args.emplace_back(a);
    req["argv"] = std::move(args);
    req["tty"] = false;
    PAI_ASSIGN_OR_RETURN(Reply reply, Request(req, &stdin_data, timeout_ms, max_output));
    if (!reply.success && reply.exit_code == 0) return absl::InternalError(reply.message);
    return ExecResult{reply.exit_code, std::move(reply.out), std::move(reply.err)};
  }

  absl::StatusOr<int> OpenControl() override {
    if (TryWait()) return absl::UnavailableError("the sandbox has exited");
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, control_.path.c_str(), control_.path.size() + 1);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      int err = errno;
      if (fd >= 0) close(fd);
      return absl::UnavailableError("sandbox control socket: " + ErrnoText(err));
    }
    return fd;
  }

  absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes) override {
    json::object req{{"op", "read"}, {"path", path}, {"maxBytes", max_bytes + 1}};
    PAI_ASSIGN_OR_RETURN(Reply reply, Request(req, nullptr, kFileTimeoutMs, max_bytes + 1));
    if (!reply.success) return FileStatus(reply.message);
    if (reply.out.size() > max_bytes) {
      return absl::ResourceExhaustedError(path + " is larger than " + std::to_string(max_bytes) +
                                          " bytes");
    }
    return std::move(reply.out);
  }

  absl::Status WriteFile(const std::string& path, const std::string& content, int mode) override {
    json::object req{{"op", "write"}, {"path", path}, {"mode", mode}};
    PAI_ASSIGN_OR_RETURN(Reply reply, Request(req, &content, kFileTimeoutMs, 1 << 16));
    if (!reply.success) return FileStatus(reply.message);
    return absl::OkStatus();
  }

 private:
  ExitInfo MakeExit(int status) {
    ExitInfo info;
    if (WIFEXITED(status)) info.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) info.exit_code = 128 + WTERMSIG(status);
    info.oom_killed = cgroups_->OomKills() > 0;
    if (info.oom_killed) {
      info.message = "out of memory (limit " + MiB(memory_limit_) + ")";
    } else if (killed_) {
      info.message = "killed";
    } else if (info.exit_code > 128) {
      info.message = "killed by signal " + std::to_string(info.exit_code - 128);
    } else if (info.exit_code != 0) {
      info.message = "exited with code " + std::to_string(info.exit_code);
    }
    return info;
  }

  // LostExit(): bwrap was reaped by someone else (waitpid(-1) elsewhere in this process).
  static ExitInfo LostExit() {
    ExitInfo info;
    info.exit_code = 255;
    info.message = "exit status unavailable (the process was reaped elsewhere)";
    return info;
  }

  // Request(): one control connection: the request, optional stdin (then EOF), frames until the
  // status. Output beyond `max_output` per stream is read and dropped.
  absl::StatusOr<Reply> Request(const json::object& req, const std::string* stdin_data,
                                int timeout_ms, size_t max_output) {
    PAI_ASSIGN_OR_RETURN(int fd, OpenControl());
    std::string outbound = EncodeFrame(Channel::kRequest, json::serialize(req));
    if (stdin_data) {
      for (size_t off = 0; off < stdin_data->size(); off += kStdinChunk) {
        outbound +=
            EncodeFrame(Channel::kStdin, std::string_view(*stdin_data).substr(off, kStdinChunk));
      }
      outbound += EncodeFrame(Channel::kStdin, "");
    }
    absl::StatusOr<Reply> result = Converse(fd, std::move(outbound), timeout_ms, max_output);
    close(fd);  // before the reply is done: the init kills the process
    return result;
  }

  static absl::StatusOr<Reply> Converse(int fd, std::string outbound, int timeout_ms,
                                        size_t max_output) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    FrameDecoder decoder;
    Reply reply;
    size_t sent = 0;
    char buf[64 << 10];
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) {
        return absl::DeadlineExceededError("sandbox request timed out after " +
                                           std::to_string(timeout_ms) + " ms");
      }
      pollfd p{fd, static_cast<short>(POLLIN | (sent < outbound.size() ? POLLOUT : 0)), 0};
      if (poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) {
        return absl::InternalError("poll: " + ErrnoText(errno));
      }
      if ((p.revents & POLLOUT) && sent < outbound.size()) {
        ssize_t n =
            send(fd, outbound.data() + sent, outbound.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0)
          sent += static_cast<size_t>(n);
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
          sent = outbound.size();  // peer done
      }
      if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) return absl::UnavailableError("the sandbox closed the control connection");
      decoder.Feed(std::string_view(buf, static_cast<size_t>(n)));
      while (true) {
        PAI_ASSIGN_OR_RETURN(std::optional<Frame> frame, decoder.Next());
        if (!frame) break;
        if (frame->channel == Channel::kStdout || frame->channel == Channel::kStderr) {
          std::string& sink = frame->channel == Channel::kStdout ? reply.out : reply.err;
          if (sink.size() < max_output) {
            sink.append(frame->payload, 0, max_output - sink.size());
          }
        } else if (frame->channel == Channel::kStatus) {
          return ParseStatus(frame->payload, std::move(reply));
        }
      }
    }
  }

  static absl::StatusOr<Reply> ParseStatus(const std::string& payload, Reply reply) {
    boost::system::error_code ec;
    json::value v = json::parse(payload, ec);
    if (ec || !v.is_object()) return absl::InternalError("malformed status frame: " + payload);
    const json::object& o = v.as_object();
    if (auto* s = o.if_contains("status"); s && s->is_string()) reply.success = *s == "Success";
    if (auto* c = o.if_contains("exitCode"); c && c->is_int64()) {
      reply.exit_code = static_cast<int>(c->as_int64());
    }
    if (auto* m = o.if_contains("message"); m && m->is_string()) reply.message = m->as_string();
    return reply;
  }

  const pid_t pid_;
  const int pidfd_;
  std::unique_ptr<CgroupSet> cgroups_;
  ControlSocket control_;
  const int64_t memory_limit_;
  std::mutex mu_;  // exit_, reaping_, killed_
  std::condition_variable cv_;
  std::optional<ExitInfo> exit_;
  bool reaping_ = false;
  bool killed_ = false;
  mutable std::mutex kill_mu_;  // removed_ and the cgroups' teardown
  bool removed_ = false;
};

}  // namespace

const HostSupport& DetectHost() {
  static const HostSupport host = Detect();
  return host;
}

absl::StatusOr<std::unique_ptr<Sandbox>> Sandbox::Start(const SandboxSpec& spec) {
  PAI_RETURN_IF_ERROR(Validate(spec));
  PAI_ASSIGN_OR_RETURN(std::unique_ptr<CgroupSet> cgroups, CgroupSet::Create(spec.id, spec.limits));
  PAI_ASSIGN_OR_RETURN(ControlSocket control, MakeControlSocket(spec));
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  ChildPlan plan;
  plan.bwrap = DetectHost().bwrap;
  plan.args = BwrapArgs(spec);
  plan.procs_files = cgroups->ProcsFiles();
  plan.uid = spec.uid;
  plan.gid = spec.gid;
  int sources[4] = {spec.stdin_fd, spec.stdout_fd, spec.stderr_fd, spec.events_fd};
  for (int i = 0; i < 4; ++i) plan.fds[i] = sources[i] >= 0 ? sources[i] : devnull;
  plan.fds[5] = control.listen_fd;
  int env_fd = -1;
  if (!spec.env.empty()) {
    absl::StatusOr<int> fd = EnvArgs(spec);
    if (!fd.ok()) {
      close(devnull);
      close(control.listen_fd);
      unlink(control.path.c_str());
      rmdir(control.dir.c_str());
      return fd.status();
    }
    env_fd = *fd;
    plan.fds[4] = env_fd;
  }
  absl::StatusOr<pid_t> pid = LaunchChild(plan);
  if (env_fd >= 0) close(env_fd);
  close(devnull);
  close(control.listen_fd);  // the init holds it now
  control.listen_fd = -1;
  if (!pid.ok()) {
    unlink(control.path.c_str());
    rmdir(control.dir.c_str());
    return pid.status();
  }
  return std::unique_ptr<Sandbox>(
      new SandboxImpl(*pid, std::move(cgroups), std::move(control), spec.limits.memory_bytes));
}

}  // namespace pai::runtime
