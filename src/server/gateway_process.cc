#include "server/gateway_process.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
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
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    // No PR_SET_PDEATHSIG: the gateway keeps serving if the server crashes.
    (void)parent;
    ::setsid();  // its own session: a terminal's Ctrl-C reaches it through the server
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the server blocks SIGTERM for sigwait()
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(pipefd[1], STDERR_FILENO);
    ::execv(argv[0], argv.data());
    const char msg[] = "pai-server: cannot execute pai-gateway\n";
    (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
    _exit(127);
  }
  ::close(pipefd[1]);
  stderr_fd_ = pipefd[0];
  pid_.store(pid);
  return absl::OkStatus();
}

void GatewayProcess::Listening(const std::string& listen, const std::string& admin) {
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
  char exe[4096];
  const ssize_t n = ::readlink(pai::StrCat("/proc/", p, "/exe").c_str(), exe, sizeof exe - 1);
  if (p <= 0 || n <= 0) return false;
  exe[n] = '\0';
  const std::string_view path(exe, static_cast<size_t>(n));
  if (path.size() < 11 || path.substr(path.size() - 11) != "pai-gateway") return false;
  adopted_ = true;
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
  int backoff_ms = 200;
  if (adopted_) {
    // Not our child: watch it until it exits, then start our own.
    while (!stopping_.load() && Alive(pid_.load())) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stopping_.load(); });
    }
    if (stopping_.load()) return;
    pid_.store(-1);
    if (!Spawn().ok()) return;
  }
  for (;;) {
    // Relay the child's log lines; spot its "listening" line.
    std::FILE* in = ::fdopen(stderr_fd_, "r");
    char* line = nullptr;
    size_t cap = 0;
    ssize_t n;
    while (in && (n = ::getline(&line, &cap, in)) > 0) {
      std::fwrite(line, 1, static_cast<size_t>(n), stderr);
      if (std::strstr(line, "\"msg\":\"listening\"")) {
        boost::system::error_code ec;
        boost::json::value v =
            boost::json::parse(std::string_view(line, static_cast<size_t>(n)), ec);
        const auto* l = !ec && v.is_object() ? v.as_object().if_contains("listen") : nullptr;
        const auto* a = !ec && v.is_object() ? v.as_object().if_contains("admin_listen") : nullptr;
        if (l && a && l->is_string() && a->is_string()) {
          Listening(std::string(l->as_string()), std::string(a->as_string()));
        }
      }
    }
    std::free(line);
    if (in) std::fclose(in);
    int status = 0;
    const pid_t pid = pid_.load();
    if (pid > 0) ::waitpid(pid, &status, 0);
    pid_.store(-1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!listening_) exited_ = true;
      cv_.notify_all();
    }
    if (stopping_.load()) return;
    log::Error("pai-gateway exited; restarting",
               {{"status", WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status)},
                {"backoff_ms", backoff_ms}});
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_.load(); });
    if (stopping_.load()) return;
    lock.unlock();
    backoff_ms = std::min(backoff_ms * 2, 10'000);
    if (!Spawn().ok()) return;
  }
}

bool GatewayProcess::WaitListening(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return listening_ || exited_; });
  return listening_;
}

void GatewayProcess::Stop() {
  // The pid is read before the supervisor is told to stop: it forgets the pid once it stops.
  const pid_t pid = pid_.load();
  if (stopping_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  if (pid > 0) ::kill(pid, SIGTERM);
  cv_.notify_all();
  // The gateway drains (bounded by its own --drain-timeout-ms, 30 s); then SIGKILL.
  for (int i = 0; i < 350 && pid > 0 && Alive(pid); ++i) ::usleep(100'000);
  if (pid > 0 && Alive(pid)) ::kill(pid, SIGKILL);
  if (thread_.joinable()) thread_.join();
}

}  // namespace pai::server
