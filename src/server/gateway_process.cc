#include "server/gateway_process.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "common/json_util.h"
#include "common/log.h"
#include "common/strings.h"

namespace pai::server {

namespace {

// Alive(): the process exists and is not a zombie (an adopted gateway is reaped by whoever
// inherited it; until then kill(pid, 0) still succeeds).
bool Alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::FILE* f = std::fopen(pai::StrCat("/proc/", pid, "/stat").c_str(), "r");
  if (!f) return false;
  char buf[512];
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');  // "pid (comm) S ..."
  return !(paren && paren[1] == ' ' && paren[2] == 'Z');
}

}  // namespace

absl::StatusOr<std::string> LoadOrCreateAdminToken(const std::string& path) {
  {
    std::ifstream in(path);
    std::string token;
    if (in && std::getline(in, token) && token.size() >= 16) return token;
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return absl::InternalError("RAND_bytes failed");
  const std::string token = HexEncode(raw, sizeof raw);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(pai::StrCat("cannot create ", tmp));
  const std::string line = token + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(pai::StrCat("cannot write ", path));
  }
  return token;
}

absl::Status GatewayProcess::Spawn() {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  std::vector<std::string> argv_s{options_.binary};
  argv_s.insert(argv_s.end(), options_.args.begin(), options_.args.end());
  std::vector<char*> argv;
  argv.reserve(argv_s.size() + 1);
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  // posix_spawn(3): the child runs no code of ours before exec, so no handler or lock of this
  // process can run in it. Its own session (a terminal's Ctrl-C reaches it through the server),
  // no signal blocked (the server blocks SIGTERM for sigwait()), every disposition the default
  // (SIGPIPE is ignored here), stderr the pipe the supervisor relays. No PR_SET_PDEATHSIG: the
  // gateway keeps serving if the server crashes.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDERR_FILENO);
  // Nothing else of the server's: Asio opens sockets without O_CLOEXEC, and a gateway that
  // outlives the server must not hold its listening socket.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  int err = 0;
  pid_t pid = -1;
  {
    // Under mu_, so that Stop() either sees this child's pid or keeps it from being started:
    // a child started after Stop() read the pid would never be signalled.
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_.load()) {
      err = ECANCELED;
    } else {
      err = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
      if (err == 0) pid_.store(pid);
    }
  }
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipefd[1]);
  if (err != 0) {
    ::close(pipefd[0]);
    if (err == ECANCELED) return absl::CancelledError("the server is stopping");
    return absl::InternalError(
        pai::StrCat("cannot execute ", options_.binary, ": ", std::strerror(err)));
  }
  stderr_fd_ = pipefd[0];
  return absl::OkStatus();
}

void GatewayProcess::Listening(const std::string& listen, const std::string& admin) {
  // A child started just before Stop() may still report: its addresses are of no use then,
  // and the callback's targets may be going away with the server.
  if (stopping_.load()) return;
  if (options_.on_listening) options_.on_listening(listen, admin);
  if (!options_.state_file.empty()) {
    const std::string tmp = options_.state_file + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    if (f) {
      const std::string text = boost::json::serialize(
          boost::json::object{{"pid", pid_.load()}, {"listen", listen}, {"admin_listen", admin}});
      std::fwrite(text.data(), 1, text.size(), f);
      std::fclose(f);
      std::rename(tmp.c_str(), options_.state_file.c_str());
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  listening_ = true;
  cv_.notify_all();
}

bool GatewayProcess::IsOurGateway(pid_t pid) const {
  char exe[4096];
  const ssize_t n = ::readlink(pai::StrCat("/proc/", pid, "/exe").c_str(), exe, sizeof exe - 1);
  if (n <= 0) return false;
  const std::string_view path(exe, static_cast<size_t>(n));
  if (path.size() < 11 || path.substr(path.size() - 11) != "pai-gateway") return false;
  // The same state directory as the gateway this server would start (its --state-dir), by
  // identity: either may be spelled relative to its own working directory.
  const auto flag = std::find(options_.args.begin(), options_.args.end(), "--state-dir");
  if (flag == options_.args.end() || flag + 1 == options_.args.end()) return true;
  std::ifstream in(pai::StrCat("/proc/", pid, "/cmdline"), std::ios::binary);
  std::string arg;
  bool next_is_dir = false;
  while (std::getline(in, arg, '\0')) {
    if (next_is_dir) {
      if (arg.empty()) return false;
      const std::string theirs = arg[0] == '/' ? arg : pai::StrCat("/proc/", pid, "/cwd/", arg);
      struct stat a {};
      struct stat b {};
      return ::stat(theirs.c_str(), &a) == 0 && ::stat((flag + 1)->c_str(), &b) == 0 &&
             a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    }
    next_is_dir = arg == "--state-dir";
  }
  return false;
}

// Adopt(): takes over the gateway a previous server started, when it still runs.
bool GatewayProcess::Adopt() {
  if (options_.state_file.empty()) return false;
  std::FILE* f = std::fopen(options_.state_file.c_str(), "r");
  if (!f) return false;
  std::string text(4096, '\0');
  text.resize(std::fread(text.data(), 1, text.size(), f));
  std::fclose(f);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return false;
  const auto* pid = v.as_object().if_contains("pid");
  const auto* l = v.as_object().if_contains("listen");
  const auto* a = v.as_object().if_contains("admin_listen");
  if (!pid || !pid->is_int64() || !l || !a || !l->is_string() || !a->is_string()) return false;
  const pid_t p = static_cast<pid_t>(pid->as_int64());
  if (p <= 0) return false;
  // The pidfd is taken first: once the checks below pass and the process still runs, it names
  // that process, whatever happens to the pid later (it is not our child: init reaps it).
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, p, 0));
  if (fd < 0) return false;
  if (!IsOurGateway(p) || ::syscall(SYS_pidfd_send_signal, fd, 0, nullptr, 0) != 0) {
    ::close(fd);
    return false;
  }
  adopted_fd_ = fd;
  pid_.store(p);
  log::Info("adopted the running pai-gateway", {{"pid", p}, {"listen", l->as_string()}});
  Listening(std::string(l->as_string()), std::string(a->as_string()));
  return true;
}

absl::Status GatewayProcess::Start() {
  if (Adopt()) {
    thread_ = std::thread([this] { Supervise(); });
    return absl::OkStatus();
  }
  if (::access(options_.binary.c_str(), X_OK) != 0) {
    return absl::InternalError(
        pai::StrCat("pai-gateway not found at ", options_.binary, " (use --gateway-bin)"));
  }
  if (absl::Status s = Spawn(); !s.ok()) return s;
  thread_ = std::thread([this] { Supervise(); });
  return absl::OkStatus();
}

void GatewayProcess::Supervise() {
  absl::Status started = absl::OkStatus();  // Start() spawned the first child
  if (adopted_fd_ >= 0) {                   // set by Adopt() before this thread started
    // Not our child: watch its pidfd until it exits (every 500 ms, whether Stop() has begun),
    // then start our own.
    pollfd pfd{adopted_fd_, POLLIN, 0};
    while (!stopping_.load() && ::poll(&pfd, 1, 500) <= 0) {
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_.load()) return;  // Stop() signals it through adopted_fd_
      pid_.store(-1);
      ::close(adopted_fd_);
      adopted_fd_ = -1;
    }
    started = Spawn();
  }
  int backoff_ms = 200;
  for (;;) {
    if (absl::IsCancelled(started)) return;
    if (started.ok()) {
      RelayLog();
      const int status = Reap();
      if (stopping_.load()) return;
      log::Error("pai-gateway exited; restarting",
                 {{"status", status}, {"backoff_ms", backoff_ms}});
    } else {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!listening_) exited_ = true;
        cv_.notify_all();
      }
      log::Error("cannot start pai-gateway; retrying",
                 {{"error", std::string(started.message())}, {"backoff_ms", backoff_ms}});
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_.load(); });
    if (stopping_.load()) return;
    lock.unlock();
    backoff_ms = std::min(backoff_ms * 2, 10'000);
    if (options_.before_restart) options_.before_restart();
    started = Spawn();
  }
}

void GatewayProcess::RelayLog() {
  std::FILE* in = ::fdopen(stderr_fd_, "r");
  if (!in) {
    ::close(stderr_fd_);
    return;
  }
  char* line = nullptr;
  size_t cap = 0;
  ssize_t n;
  while ((n = ::getline(&line, &cap, in)) > 0) {
    std::fwrite(line, 1, static_cast<size_t>(n), stderr);
    if (!std::strstr(line, "\"msg\":\"listening\"")) continue;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(std::string_view(line, static_cast<size_t>(n)), ec);
    const auto* l = !ec && v.is_object() ? v.as_object().if_contains("listen") : nullptr;
    const auto* a = !ec && v.is_object() ? v.as_object().if_contains("admin_listen") : nullptr;
    if (l && a && l->is_string() && a->is_string()) {
      Listening(std::string(l->as_string()), std::string(a->as_string()));
    }
  }
  std::free(line);
  std::fclose(in);
}

int GatewayProcess::Reap() {
  const pid_t pid = pid_.load();
  int status = 0;
  // Wait for the exit without reaping, then reap and forget the pid under mu_: Stop() takes
  // the pid under mu_, so it never signals a pid that was reaped (and could be reused).
  siginfo_t info{};
  while (pid > 0 && ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0 &&
         errno == EINTR) {
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (pid > 0) ::waitpid(pid, &status, 0);
  pid_.store(-1);
  if (!listening_) exited_ = true;
  cv_.notify_all();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

bool GatewayProcess::WaitListening(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return listening_ || exited_; });
  return listening_;
}

void GatewayProcess::Stop() {
  int pidfd = -1;
  {
    // With Spawn() and the supervisor's reaping under the same lock: the pid read here is the
    // current child's (alive or not yet reaped), or -1 and no child is started after this. The
    // pidfd taken here names that process even once it is reaped and its pid reused.
    std::unique_lock<std::mutex> lock(mu_);
    const bool already = stopping_.exchange(true);
    const pid_t pid = already ? -1 : pid_.load();
    if (pid > 0) {
      pidfd = adopted_fd_ >= 0 ? ::fcntl(adopted_fd_, F_DUPFD_CLOEXEC, 0)
                               : static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    }
    if (pidfd >= 0) {
      ::syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, nullptr, 0);
    } else if (pid > 0) {
      // No pidfd (Linux < 5.3, or no descriptor left): our child is reaped only under mu_, so
      // while pid_ still names it the pid is its own.
      ::kill(pid, SIGTERM);
      cv_.notify_all();
      for (int i = 0; i < 350 && pid_.load() == pid && Alive(pid); ++i) {
        cv_.wait_for(lock, std::chrono::milliseconds(100));
      }
      if (pid_.load() == pid && Alive(pid)) ::kill(pid, SIGKILL);
    }
    cv_.notify_all();
  }
  if (pidfd >= 0) {
    // The gateway drains (bounded by its own --drain-timeout-ms, 30 s); then SIGKILL.
    pollfd pfd{pidfd, POLLIN, 0};
    int ready;
    do {
      ready = ::poll(&pfd, 1, 35'000);
    } while (ready < 0 && errno == EINTR);
    if (ready == 0) ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    ::close(pidfd);
  }
  if (thread_.joinable()) thread_.join();
  if (adopted_fd_ >= 0) {
    ::close(adopted_fd_);
    adopted_fd_ = -1;
  }
}

}  // namespace pai::server
