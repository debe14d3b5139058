// pai-sandbox-init: the first process inside every sandbox (docs/sessions.md, "The sandbox").
//
//   pai-sandbox-init [--forward PORT=/unix/socket]... [--writable PATH]...
//                    [--connect-port PORT]... [--no-landlock] -- ARGV...
//
// Inherits fds 0-2 (the workload's stdio), 3 (events out) and 5 (the control socket's listening
// end). It listens on 127.0.0.1:PORT for each forward, starts the workload under Landlock, serves
// exec/read/write requests on fd 5, forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT to the workload and
// exits with the workload's status (128+signal when it was killed by a signal).
//
// Threads: the main thread owns signals and the workload; one thread per listener and per
// connection (both bounded). Children are forked from several threads, so everything between
// fork() and exec() is async-signal-safe (prepared beforehand).
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "boost/json.hpp"
#include "runtime/frames.h"
#include "runtime/landlock.h"

extern char** environ;

namespace pai::runtime {
namespace {

namespace json = boost::json;

constexpr int kControlFd = 5;
constexpr int kMaxConnections = 256;
constexpr int kMaxControlConnections = 64;
constexpr size_t kChunk = 64u << 10;
constexpr size_t kMaxPendingStdin = 1u << 20;

// Exit codes of the write child (mapped back to a status message).
constexpr int kWriteNotFound = 10;
constexpr int kWriteDenied = 11;
constexpr int kWriteIsDir = 12;
constexpr int kWriteFailed = 13;
constexpr int kWriteLandlock = 14;

struct Config {
  std::vector<std::pair<int, std::string>> forwards;
  LandlockRules rules;
  bool landlock = true;
  std::vector<std::string> argv;
};

const LandlockPlan* g_plan = nullptr;
std::atomic<int> g_forward_conns{0};
std::atomic<int> g_control_conns{0};

void Log(const std::string& text) {
  std::string line = "pai-sandbox-init: " + text + "\n";
  (void)!write(2, line.data(), line.size());
}

// Async-signal-safe message for forked children.
void ChildFail(const char* what, int code) {
  (void)!write(2, "pai-sandbox-init: ", 18);
  (void)!write(2, what, strlen(what));
  (void)!write(2, "\n", 1);
  _exit(code);
}

std::optional<Config> ParseArgs(int argc, char** argv) {
  Config config;
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg == "--no-landlock") {
      config.landlock = false;
      continue;
    }
    if (i + 1 >= argc) return std::nullopt;
    std::string value = argv[++i];
    if (arg == "--forward") {
      size_t eq = value.find('=');
      if (eq == std::string::npos) return std::nullopt;
      config.forwards.emplace_back(std::atoi(value.substr(0, eq).c_str()), value.substr(eq + 1));
    } else if (arg == "--writable") {
      config.rules.writable_paths.push_back(value);
    } else if (arg == "--connect-port") {
      config.rules.connect_tcp_ports.push_back(std::atoi(value.c_str()));
    } else {
      return std::nullopt;
    }
  }
  for (; i < argc; ++i) config.argv.emplace_back(argv[i]);
  if (config.argv.empty()) return std::nullopt;
  return config;
}

// ---- Children -------------------------------------------------------------------------------

// Everything a child needs, prepared before fork().
struct SpawnPlan {
  std::string path;
  std::vector<std::string> args, envs;
  std::vector<char*> argv, envp;
  std::string cwd;
  std::vector<int> fds;  // fds[i] becomes fd i of the child
  int tty = -1;          // when set: the controlling terminal (a pty slave)

  void Seal() {
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
};

// Moves fds[i] to i for every i and closes everything else (child side, async-signal-safe).
void PlaceFds(const std::vector<int>& fds) {
  int tmp[8];
  int n = static_cast<int>(fds.size());
  for (int i = 0; i < n; ++i) tmp[i] = fcntl(fds[i], F_DUPFD, 16);
  for (int i = 0; i < n; ++i) {
    if (tmp[i] < 0 || dup2(tmp[i], i) < 0) ChildFail("dup2 failed", 126);
  }
  syscall(SYS_close_range, n, ~0u, 0);
}

void ResetSignals() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
}

pid_t Spawn(const SpawnPlan& plan) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  setsid();
  if (plan.tty >= 0 && ioctl(plan.tty, TIOCSCTTY, 0) != 0) ChildFail("TIOCSCTTY failed", 126);
  PlaceFds(plan.fds);
  ResetSignals();
  if (!plan.cwd.empty() && chdir(plan.cwd.c_str()) != 0) ChildFail("chdir failed", 126);
  if (g_plan->Apply() != 0) ChildFail("landlock failed", 126);
  execve(plan.path.c_str(), plan.argv.data(), plan.envp.data());
  int err = errno;
  ChildFail(err == EACCES ? "exec: permission denied" : "exec failed", err == ENOENT ? 127 : 126);
  return -1;
}

std::string EnvValue(const std::vector<std::string>& envs, const std::string& name) {
  for (const auto& e : envs) {
    if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == '=') {
      return e.substr(name.size() + 1);
    }
  }
  return "";
}

// ResolvePath(): argv[0] through the child's PATH (like execvp, before fork).
std::optional<std::string> ResolvePath(const std::string& name, const std::string& path_env) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) return name;
  std::string path = path_env.empty() ? "/usr/local/bin:/usr/bin:/bin" : path_env;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::vector<std::string> CurrentEnv() {
  std::vector<std::string> envs;
  for (char** e = environ; e && *e; ++e) envs.emplace_back(*e);
  return envs;
}

int StatusCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

pid_t WaitChild(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return StatusCode(status);
}

// ---- Control requests -----------------------------------------------------------------------

void SendStatus(int conn, int code, const std::string& message) {
  json::object status;
  status["status"] = code == 0 ? "Success" : "Failure";
  status["exitCode"] = code;
  if (code != 0) status["message"] = message;
  (void)WriteFrame(conn, Channel::kStatus, json::serialize(status));
}

std::string ErrnoKind(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return "NotFound";
    case EACCES:
    case EPERM:
    case EROFS:
      return "PermissionDenied";
    case EISDIR:
      return "IsADirectory";
    default:
      return "Failed";
  }
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Pumps one exec child: stdin frames in, output frames out, until it exits.
class ExecPump {
 public:
  ExecPump(int conn, FrameDecoder* decoder, pid_t pid, int in, int out, int err, bool tty)
      : conn_(conn), decoder_(decoder), pid_(pid), in_(in), out_(out), err_(err), tty_(tty) {}

  // Run(): returns the exit code, or nullopt when the client went away (child killed).
  std::optional<int> Run() {
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    if (in_ >= 0) SetNonBlocking(in_);
    if (out_ >= 0) SetNonBlocking(out_);
    if (err_ >= 0) SetNonBlocking(err_);
    HandleFrames();
    bool exited = false;
    while (!exited && (pidfd >= 0 || out_ >= 0 || err_ >= 0)) {
      pollfd fds[5] = {};
      fds[0] = {conn_open_ && pending_.size() < kMaxPendingStdin ? conn_ : -1, POLLIN, 0};
      fds[1] = {!pending_.empty() && !tty_ ? in_ : -1, POLLOUT, 0};
      fds[2] = {out_, static_cast<short>(POLLIN | (tty_ && !pending_.empty() ? POLLOUT : 0)), 0};
      fds[3] = {err_, POLLIN, 0};
      fds[4] = {pidfd, POLLIN, 0};
      if (poll(fds, 5, -1) < 0 && errno != EINTR) break;
      if (fds[0].revents) ReadClient();
      if (fds[1].revents || (tty_ && (fds[2].revents & POLLOUT))) WriteStdin();
      if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) Drain(&out_, Channel::kStdout, false);
      if (fds[3].revents) Drain(&err_, Channel::kStderr, false);
      if (fds[4].revents) exited = true;
    }
    // The child is gone: forward what it wrote before exiting, not what its leftovers write.
    Drain(&out_, Channel::kStdout, true);
    Drain(&err_, Channel::kStderr, true);
    if (pidfd >= 0) close(pidfd);
    CloseIn();
    for (int* fd : {&out_, &err_}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
    int code = WaitChild(pid_);
    if (!conn_open_) return std::nullopt;
    return code;
  }

 private:
  void Abort() {
    conn_open_ = false;
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
  }

  void CloseIn() {
    if (!tty_ && in_ >= 0) close(in_);
    in_ = -1;
  }

  void ReadClient() {
    char buf[kChunk];
    ssize_t n = read(conn_, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) return Abort();
    decoder_->Feed(std::string_view(buf, static_cast<size_t>(n)));
    HandleFrames();
  }

  // Frames already received (also those that came with the request).
  void HandleFrames() {
    while (true) {
      auto frame = decoder_->Next();
      if (!frame.ok()) return Abort();
      if (!frame->has_value()) break;
      Frame& f = **frame;
      if (f.channel == Channel::kStdin) {
        if (f.payload.empty()) {
          stdin_eof_ = true;
        } else if (!stdin_eof_) {
          pending_ += f.payload;
        }
      } else if (f.channel == Channel::kResize && tty_) {
        Resize(f.payload);
      }
    }
    if (stdin_eof_ && pending_.empty()) CloseIn();
  }

  void Resize(const std::string& payload) {
    boost::system::error_code ec;
    json::value v = json::parse(payload, ec);
    if (ec || !v.is_object()) return;
    winsize ws{};
    if (auto* w = v.as_object().if_contains("Width"); w && w->is_int64()) {
      ws.ws_col = static_cast<unsigned short>(w->as_int64());
    }
    if (auto* h = v.as_object().if_contains("Height"); h && h->is_int64()) {
      ws.ws_row = static_cast<unsigned short>(h->as_int64());
    }
    ioctl(out_, TIOCSWINSZ, &ws);
  }

  void WriteStdin() {
    int fd = tty_ ? out_ : in_;
    if (fd >= 0 && !pending_.empty()) {
      ssize_t n = write(fd, pending_.data(), pending_.size());
      if (n > 0) {
        pending_.erase(0, static_cast<size_t>(n));
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        pending_.clear();
        stdin_eof_ = true;
      }
    }
    if (stdin_eof_ && pending_.empty()) CloseIn();
  }

  // Reads what `*fd` has; closes it at end of stream. `all`: until nothing is left.
  void Drain(int* fd, Channel channel, bool all) {
    char buf[kChunk];
    while (*fd >= 0) {
      ssize_t n = read(*fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) {  // end of stream; EIO on a pty whose slave is closed
        if (tty_ && *fd == out_) in_ = -1;
        close(*fd);
        *fd = -1;
        return;
      }
      if (conn_open_ && !WriteFrame(conn_, channel, std::string_view(buf, n)).ok()) Abort();
      if (!all) return;
    }
  }

  int conn_;
  FrameDecoder* decoder_;
  pid_t pid_;
  int in_, out_, err_;
  bool tty_;
  bool conn_open_ = true;
  bool stdin_eof_ = false;
  std::string pending_;
};

std::string StringField(const json::object& o, const char* name) {
  if (auto* v = o.if_contains(name); v && v->is_string()) return std::string(v->as_string());
  return "";
}

int64_t IntField(const json::object& o, const char* name, int64_t fallback) {
  if (auto* v = o.if_contains(name); v && v->is_int64()) return v->as_int64();
  if (auto* v = o.if_contains(name); v && v->is_uint64())
    return static_cast<int64_t>(v->as_uint64());
  return fallback;
}

void ServeExec(int conn, const json::object& req, FrameDecoder* decoder) {
  SpawnPlan plan;
  if (auto* a = req.if_contains("argv"); a && a->is_array()) {
    for (const auto& v : a->as_array()) {
      if (v.is_string()) plan.args.emplace_back(v.as_string());
    }
  }
  if (plan.args.empty()) return SendStatus(conn, 1, "exec: argv is empty");
  plan.envs = CurrentEnv();
  if (auto* e = req.if_contains("env"); e && e->is_object()) {
    for (const auto& [k, v] : e->as_object()) {
      if (!v.is_string()) continue;
      std::string name(k);
      std::erase_if(plan.envs, [&](const std::string& s) { return s.rfind(name + "=", 0) == 0; });
      plan.envs.push_back(name + "=" + std::string(v.as_string()));
    }
  }
  plan.cwd = StringField(req, "cwd");
  auto path = ResolvePath(plan.args[0], EnvValue(plan.envs, "PATH"));
  if (!path) return SendStatus(conn, 127, "NotFound: executable " + plan.args[0]);
  plan.path = *path;
  plan.Seal();
  bool tty = false;
  if (auto* t = req.if_contains("tty"); t && t->is_bool()) tty = t->as_bool();
  int in = -1, out = -1, err = -1;
  std::vector<int> child_ends;
  if (tty) {
    winsize ws{};
    ws.ws_col = static_cast<unsigned short>(IntField(req, "cols", 80));
    ws.ws_row = static_cast<unsigned short>(IntField(req, "rows", 24));
    int master, slave;
    if (openpty(&master, &slave, nullptr, nullptr, &ws) != 0) {
      return SendStatus(conn, 1, std::string("openpty: ") + strerror(errno));
    }
    fcntl(master, F_SETFD, FD_CLOEXEC);
    fcntl(slave, F_SETFD, FD_CLOEXEC);
    in = out = master;
    plan.fds = {slave, slave, slave};
    plan.tty = slave;
    child_ends = {slave};
  } else {
    int p[3][2];
    for (auto& pipe : p) {
      if (pipe2(pipe, O_CLOEXEC) != 0) return SendStatus(conn, 1, "pipe failed");
    }
    in = p[0][1];
    out = p[1][0];
    err = p[2][0];
    plan.fds = {p[0][0], p[1][1], p[2][1]};
    child_ends = plan.fds;
  }
  pid_t pid = Spawn(plan);
  for (int fd : child_ends) close(fd);
  if (pid < 0) {
    close(in);
    if (out != in) close(out);
    if (err >= 0) close(err);
    return SendStatus(conn, 1, "fork failed");
  }
  std::optional<int> code = ExecPump(conn, decoder, pid, in, out, err, tty).Run();
  if (code) {
    SendStatus(conn, *code,
               *code > 128
                   ? "killed by signal " + std::to_string(*code - 128)
                   : "command terminated with non-zero exit code: " + std::to_string(*code));
  }
}

void ServeRead(int conn, const json::object& req) {
  std::string path = StringField(req, "path");
  int64_t max = IntField(req, "maxBytes", -1);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return SendStatus(conn, 1, ErrnoKind(errno) + ": " + path + ": " + strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    bool dir = S_ISDIR(st.st_mode);
    close(fd);
    return SendStatus(conn, 1, dir ? "IsADirectory: " + path : "NotRegular: " + path);
  }
  char buf[kChunk];
  int64_t sent = 0;
  while (max < 0 || sent < max) {
    size_t want = sizeof buf;
    if (max >= 0) want = std::min<size_t>(want, static_cast<size_t>(max - sent));
    ssize_t n = read(fd, buf, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return SendStatus(conn, 1, ErrnoKind(e) + ": " + path + ": " + strerror(e));
    }
    if (n == 0) break;
    if (!WriteFrame(conn, Channel::kStdout, std::string_view(buf, n)).ok()) break;
    sent += n;
  }
  close(fd);
  SendStatus(conn, 0, "");
}

// The write child: Landlocked, copies fd 0 into `path`.
pid_t SpawnWriter(const std::string& path, int mode, int input) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  PlaceFds({input, 2, 2});
  ResetSignals();
  if (g_plan->Apply() != 0) _exit(kWriteLandlock);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, mode & 07777);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR) _exit(kWriteNotFound);
    if (e == EACCES || e == EPERM || e == EROFS) _exit(kWriteDenied);
    _exit(e == EISDIR ? kWriteIsDir : kWriteFailed);
  }
  fchmod(fd, mode & 07777);
  char buf[kChunk];
  while (true) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) _exit(kWriteFailed);
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(fd, buf + off, n - off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) _exit(errno == EDQUOT || errno == ENOSPC ? kWriteFailed : kWriteDenied);
      off += w;
    }
  }
  _exit(close(fd) == 0 ? 0 : kWriteFailed);
}

void ServeWrite(int conn, const json::object& req, FrameDecoder* decoder) {
  std::string path = StringField(req, "path");
  int mode = static_cast<int>(IntField(req, "mode", 0644));
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return SendStatus(conn, 1, "pipe failed");
  pid_t pid = SpawnWriter(path, mode, p[0]);
  close(p[0]);
  if (pid < 0) {
    close(p[1]);
    return SendStatus(conn, 1, "fork failed");
  }
  bool client_gone = false;
  bool writing = true;
  while (true) {
    auto frame = decoder->Next();
    if (frame.ok() && !frame->has_value()) {
      char buf[kChunk];
      ssize_t n = read(conn, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        client_gone = true;
        break;
      }
      decoder->Feed(std::string_view(buf, n));
      continue;
    }
    if (!frame.ok()) {
      client_gone = true;
      break;
    }
    Frame& f = **frame;
    if (f.channel != Channel::kStdin) continue;
    if (f.payload.empty()) break;
    for (size_t off = 0; writing && off < f.payload.size();) {
      ssize_t w = write(p[1], f.payload.data() + off, f.payload.size() - off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0)
        writing = false;  // the child gave up (its exit code says why)
      else
        off += w;
    }
    if (!writing) break;
  }
  if (client_gone) kill(pid, SIGKILL);
  close(p[1]);
  int code = WaitChild(pid);
  if (client_gone) return;
  switch (code) {
    case 0:
      return SendStatus(conn, 0, "");
    case kWriteNotFound:
      return SendStatus(conn, code, "NotFound: " + path);
    case kWriteDenied:
      return SendStatus(conn, code, "PermissionDenied: " + path);
    case kWriteIsDir:
      return SendStatus(conn, code, "IsADirectory: " + path);
    default:
      return SendStatus(conn, code, "write failed: " + path);
  }
}

void ServeControl(int conn) {
  FrameDecoder decoder;
  char buf[kChunk];
  std::optional<Frame> request;
  while (!request) {
    auto frame = decoder.Next();
    if (!frame.ok()) break;
    if (frame->has_value()) {
      request = std::move(**frame);
      break;
    }
    ssize_t n = read(conn, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    decoder.Feed(std::string_view(buf, n));
  }
  boost::system::error_code ec;
  json::value v;
  if (request && request->channel == Channel::kRequest) v = json::parse(request->payload, ec);
  if (!request || request->channel != Channel::kRequest || ec || !v.is_object()) {
    if (request) SendStatus(conn, 1, "the first frame must be a JSON request on channel 5");
  } else {
    const json::object& req = v.as_object();
    std::string op = StringField(req, "op");
    if (op == "exec") {
      ServeExec(conn, req, &decoder);
    } else if (op == "read") {
      ServeRead(conn, req);
    } else if (op == "write") {
      ServeWrite(conn, req, &decoder);
    } else {
      SendStatus(conn, 1, "unknown op \"" + op + "\"");
    }
  }
  close(conn);
  --g_control_conns;
}

void ControlLoop() {
  while (true) {
    int conn = accept4(kControlFd, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) continue;
      return;
    }
    if (++g_control_conns > kMaxControlConnections) {
      --g_control_conns;
      close(conn);
      continue;
    }
    std::thread(ServeControl, conn).detach();
  }
}

// ---- Port forwards --------------------------------------------------------------------------

void Pump(int tcp, std::string unix_path) {
  int ux = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, unix_path.c_str(), sizeof(addr.sun_path) - 1);
  if (ux >= 0 && connect(ux, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    int fds[2] = {tcp, ux};
    bool open[2] = {true, true};  // reading side still open
    char buf[kChunk];
    while (open[0] || open[1]) {
      pollfd p[2] = {{open[0] ? tcp : -1, POLLIN, 0}, {open[1] ? ux : -1, POLLIN, 0}};
      if (poll(p, 2, -1) < 0 && errno != EINTR) break;
      for (int i = 0; i < 2; ++i) {
        if (!p[i].revents) continue;
        ssize_t n = read(fds[i], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        bool ok = n > 0;
        for (ssize_t off = 0; ok && off < n;) {
          ssize_t w = send(fds[1 - i], buf + off, n - off, MSG_NOSIGNAL);
          if (w < 0 && errno == EINTR) continue;
          ok = w > 0;
          off += w;
        }
        if (!ok) {
          open[i] = false;
          shutdown(fds[1 - i], SHUT_WR);
          if (n < 0) open[0] = open[1] = false;
        }
      }
    }
  }
  if (ux >= 0) close(ux);
  close(tcp);
  --g_forward_conns;
}

int Listen(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 128) != 0) {
    Log("listen on 127.0.0.1:" + std::to_string(port) + ": " + strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

void ForwardLoop(int listener, std::string unix_path) {
  while (true) {
    int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) continue;
      return;
    }
    if (++g_forward_conns > kMaxConnections) {
      --g_forward_conns;
      close(conn);
      continue;
    }
    std::thread(Pump, conn, unix_path).detach();
  }
}

// ---- Main -----------------------------------------------------------------------------------

int Main(int argc, char** argv) {
  std::optional<Config> config = ParseArgs(argc, argv);
  if (!config) {
    Log("usage: pai-sandbox-init [--forward PORT=SOCKET]... [--writable PATH]... "
        "[--connect-port PORT]... [--no-landlock] -- ARGV...");
    return 125;
  }
  // Not dumpable: the workload (same uid) cannot ptrace the init to reach the control socket,
  // even on a kernel without Landlock (whose domains forbid that too).
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  close(4);
  syscall(SYS_close_range, kControlFd + 1, ~0u, 0);
  fcntl(kControlFd, F_SETFD, FD_CLOEXEC);
  signal(SIGPIPE, SIG_IGN);
  sigset_t handled;
  sigemptyset(&handled);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&handled, s);
  sigprocmask(SIG_BLOCK, &handled, nullptr);

  int abi = config->landlock ? LandlockAbi() : 0;
  if (config->landlock && abi == 0) Log("Landlock is unavailable: filesystem rules not enforced");
  for (const auto& [port, path] : config->forwards) config->rules.connect_tcp_ports.push_back(port);
  static const LandlockPlan plan(config->rules, abi);
  g_plan = &plan;

  std::vector<std::pair<int, std::string>> listeners;
  for (const auto& [port, path] : config->forwards) {
    int fd = Listen(port);
    if (fd >= 0) listeners.emplace_back(fd, path);
  }

  SpawnPlan workload;
  workload.args = config->argv;
  workload.envs = CurrentEnv();
  auto path = ResolvePath(workload.args[0], EnvValue(workload.envs, "PATH"));
  if (!path) {
    Log("executable not found: " + workload.args[0]);
    return 127;
  }
  workload.path = *path;
  workload.fds = {0, 1, 2, 3};
  workload.Seal();
  pid_t pid = Spawn(workload);
  if (pid < 0) {
    Log(std::string("fork: ") + strerror(errno));
    return 126;
  }
  // The init keeps only stderr for its own messages.
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd : {0, 1, 3}) dup2(devnull, fd);

  for (auto& [fd, unix_path] : listeners) std::thread(ForwardLoop, fd, unix_path).detach();
  std::thread(ControlLoop).detach();

  while (true) {
    siginfo_t info;
    int sig = sigwaitinfo(&handled, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      kill(pid, sig);
      continue;
    }
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) _exit(StatusCode(status));
  }
}

}  // namespace
}  // namespace pai::runtime

int main(int argc, char** argv) { return pai::runtime::Main(argc, argv); }
