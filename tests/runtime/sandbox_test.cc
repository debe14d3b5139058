// The sandbox against the real kernel: bubblewrap namespaces, cgroups (limits, OOM, kill) and
// Landlock, plus the init's control socket and port forwards. Runs as root (it creates cgroups
// and drops to uid 1000).
#include "runtime/sandbox.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "runtime/frames.h"

namespace pai::runtime {
namespace {

constexpr uid_t kUid = 1000;
constexpr gid_t kGid = 1000;

// A host directory (0755) removed at the end; owned by the sandbox user when asked.
class TempDir {
 public:
  explicit TempDir(bool owned_by_user = false) {
    std::string tmpl = "/tmp/pai-sbx-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
    chmod(path_.c_str(), 0755);
    if (owned_by_user) REQUIRE(chown(path_.c_str(), kUid, kGid) == 0);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string UniqueId() {
  static std::atomic<int> n{0};
  return "t" + std::to_string(getpid()) + "-" + std::to_string(++n);
}

SandboxSpec BaseSpec(const TempDir& workspace, std::vector<std::string> argv) {
  SandboxSpec spec;
  spec.id = UniqueId();
  spec.uid = kUid;
  spec.gid = kGid;
  spec.argv = std::move(argv);
  spec.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", "/workspace"}, {"LC_ALL", "C"}};
  spec.mounts = {{workspace.path(), "/workspace", false}};
  spec.writable_paths = {"/workspace"};
  spec.init_path = PAI_SANDBOX_INIT;
  return spec;
}

struct Run {
  ExitInfo exit;
  std::string out, err, events;
};

// RunToEnd(): starts `spec` with `input` on its stdin and its stdout, stderr and events (fd 3)
// on pipes, reads them to the end and waits.
Run RunToEnd(SandboxSpec spec, const std::string& input = "") {
  int in[2], out[2], err[2], ev[2];
  for (int* p : {in, out, err, ev}) REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  REQUIRE(write(in[1], input.data(), input.size()) == static_cast<ssize_t>(input.size()));
  close(in[1]);
  spec.stdin_fd = in[0];
  spec.stdout_fd = out[1];
  spec.stderr_fd = err[1];
  spec.events_fd = ev[1];
  auto sandbox = Sandbox::Start(spec);
  for (int fd : {in[0], out[1], err[1], ev[1]}) close(fd);
  REQUIRE(sandbox.ok());
  Run run;
  pollfd fds[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {ev[0], POLLIN, 0}};
  std::string* sinks[3] = {&run.out, &run.err, &run.events};
  while (fds[0].fd >= 0 || fds[1].fd >= 0 || fds[2].fd >= 0) {
    REQUIRE(poll(fds, 3, 20000) > 0);
    for (int i = 0; i < 3; ++i) {
      if (!fds[i].revents) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
      } else {
        sinks[i]->append(buf, n);
      }
    }
  }
  run.exit = (*sandbox)->Wait();
  return run;
}

std::string ReadHostFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A listening TCP socket on host 127.0.0.1, port chosen by the kernel.
int ListenLoopback(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(fd, 16) == 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

TEST_CASE("frames encode length, channel and payload") {
  CHECK(EncodeFrame(Channel::kStdin, "") == std::string("\0\0\0\1\0", 5));
  CHECK(EncodeFrame(Channel::kStatus, "ab") == std::string("\0\0\0\3\3ab", 7));
  // Fed one byte at a time, two frames come out whole and in order.
  std::string bytes = EncodeFrame(Channel::kStdout, "hello") + EncodeFrame(Channel::kStdin, "");
  FrameDecoder decoder;
  std::vector<Frame> frames;
  for (char c : bytes) {
    decoder.Feed(std::string_view(&c, 1));
    auto f = decoder.Next();
    REQUIRE(f.ok());
    if (f->has_value()) frames.push_back(**f);
  }
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].channel == Channel::kStdout);
  CHECK(frames[0].payload == "hello");
  CHECK(frames[1].channel == Channel::kStdin);
  CHECK(frames[1].payload.empty());
  CHECK(decoder.Buffered() == 0);
}

TEST_CASE("frames with a bad length are refused") {
  FrameDecoder zero;
  zero.Feed(std::string("\0\0\0\0\1", 5));
  CHECK(absl::IsInvalidArgument(zero.Next().status()));
  FrameDecoder huge;
  huge.Feed(std::string("\x7f\0\0\0\1", 5));
  CHECK(absl::IsInvalidArgument(huge.Next().status()));
}

TEST_CASE("sandbox refuses to run as root") {
  TempDir ws(true);
  SandboxSpec spec = BaseSpec(ws, {"true"});
  spec.uid = 0;
  auto sandbox = Sandbox::Start(spec);
  REQUIRE(absl::IsFailedPrecondition(sandbox.status()));
  CHECK(sandbox.status().message() == "runAsUser 0 (root) is not allowed");
  spec.uid = kUid;
  spec.gid = 0;
  CHECK(absl::IsFailedPrecondition(Sandbox::Start(spec).status()));
}

TEST_CASE("host support is detected") {
  const HostSupport& host = DetectHost();
  CHECK(host.bwrap == "/usr/bin/bwrap");
  CHECK(host.cgroup_writable);
  CHECK(host.user_namespaces);
  CHECK(!host.summary.empty());
  INFO(host.summary);
  CHECK(host.landlock_abi >= 1);
}

TEST_CASE("workload runs as the user with no capabilities") {
  TempDir ws(true);
  SandboxSpec spec =
      BaseSpec(ws, {"sh", "-c",
                    "id -u; id -g; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; hostname; pwd;"
                    "echo \"$GREETING\"; read line; echo \"in:$line\"; echo event >&3; exit 4"});
  spec.hostname = "agent-box";
  spec.env["GREETING"] = "hello from env";
  Run run = RunToEnd(spec, "user message\n");
  CHECK(run.exit.exit_code == 4);
  CHECK(run.exit.message == "exited with code 4");
  CHECK(!run.exit.oom_killed);
  CHECK(run.out ==
        "1000\n1000\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nagent-box\n"
        "/workspace\nhello from env\nin:user message\n");
  CHECK(run.events == "event\n");
  CHECK(run.err.empty());
}

TEST_CASE("a uid without a passwd entry works") {
  TempDir ws;
  REQUIRE(chown(ws.path().c_str(), 65532, 65532) == 0);
  SandboxSpec spec = BaseSpec(ws, {"sh", "-c", "id -u; echo x > /workspace/f"});
  spec.uid = spec.gid = 65532;
  spec.id = "s-default.a-session-name-that-is-rather-long-for-a-cgroup." + UniqueId();
  Run run = RunToEnd(spec);
  CHECK(run.exit.exit_code == 0);
  CHECK(run.out == "65532\n");
  struct stat st;
  REQUIRE(stat((ws / "f").c_str(), &st) == 0);
  CHECK(st.st_uid == 65532);
  spec.id = "Upper_case";
  CHECK(absl::IsInvalidArgument(Sandbox::Start(spec).status()));
}

TEST_CASE("workload writes only its writable paths") {
  TempDir ws(true);
  TempDir data(true);  // mounted writable, but not in writable_paths: Landlock refuses
  SandboxSpec spec = BaseSpec(ws, {"sh", "-c",
                                   "echo hi > /workspace/out.txt && echo ws-ok;"
                                   "echo t > /tmp/t && echo tmp-ok;"
                                   "echo x > /dev/null && echo null-ok;"
                                   "touch /usr/x || echo usr-refused;"
                                   "touch /etc/x || echo etc-refused;"
                                   "touch /data/x || echo data-refused;"
                                   "mkdir /data/d || echo mkdir-refused;"
                                   "touch /workspace/ro/x || echo ro-refused"});
  spec.mounts.push_back({data.path(), "/data", false});
  std::filesystem::create_directory(ws / "ro");
  chown((ws / "ro").c_str(), kUid, kGid);
  spec.read_only_paths = {"/workspace/ro"};
  Run run = RunToEnd(spec);
  CHECK(run.exit.exit_code == 0);
  CHECK(run.out ==
        "ws-ok\ntmp-ok\nnull-ok\nusr-refused\netc-refused\ndata-refused\n"
        "mkdir-refused\nro-refused\n");
  CHECK(run.err.find("/workspace/ro/x': Read-only file system") != std::string::npos);
  CHECK(run.err.find("/usr/x': Read-only file system") != std::string::npos);
  CHECK(run.err.find("/etc/x': Read-only file system") != std::string::npos);
  CHECK(run.err.find("/data/x': Permission denied") != std::string::npos);
  CHECK(ReadHostFile(ws / "out.txt") == "hi\n");
  struct stat st;
  REQUIRE(stat((ws / "out.txt").c_str(), &st) == 0);
  CHECK(st.st_uid == kUid);
  CHECK(!std::filesystem::exists(data / "x"));
  CHECK(!std::filesystem::exists(data / "d"));
}

TEST_CASE("without Landlock the same write goes through") {
  // The control for the test above: the refusal of /data comes from Landlock, not the mount.
  TempDir ws(true);
  TempDir data(true);
  SandboxSpec spec = BaseSpec(ws, {"sh", "-c", "touch /data/x && echo data-written"});
  spec.mounts.push_back({data.path(), "/data", false});
  spec.landlock = false;
  Run run = RunToEnd(spec);
  CHECK(run.exit.exit_code == 0);
  CHECK(run.out == "data-written\n");
  CHECK(std::filesystem::exists(data / "x"));
}

TEST_CASE("host files outside the mounts are not visible") {
  TempDir ws(true);
  TempDir secrets;
  std::ofstream(secrets / "provider-key") << "sk-secret-123";
  chmod((secrets / "provider-key").c_str(), 0644);  // readable by uid 1000 on the host
  // Nor is the init's control socket (pid 2: its fds are out of the workload's reach).
  SandboxSpec spec = BaseSpec(ws, {"sh", "-c",
                                   "cat " + (secrets / "provider-key") +
                                       "; ls /proc/2/fd && echo init-fds-visible; exit 1"});
  Run run = RunToEnd(spec);
  CHECK(run.exit.exit_code != 0);
  CHECK(run.out.find("sk-secret") == std::string::npos);
  CHECK(run.out.find("init-fds-visible") == std::string::npos);
  CHECK(run.err.find("provider-key: No such file or directory") != std::string::npos);
  CHECK(run.err.find("/proc/2/fd': Permission denied") != std::string::npos);
}

TEST_CASE("workload cannot reach a host TCP listener") {
  TempDir ws(true);
  int port = 0;
  int listener = ListenLoopback(&port);
  SandboxSpec spec = BaseSpec(
      ws,
      {"bash", "-c", "echo > /dev/tcp/127.0.0.1/" + std::to_string(port) + " && echo connected"});
  Run run = RunToEnd(spec);
  CHECK(run.exit.exit_code != 0);
  CHECK(run.out.empty());
  // The sandbox has ended: anything it could have connected is queued by now.
  int conn = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
  CHECK(conn < 0);
  CHECK(errno == EAGAIN);
  close(listener);
}

TEST_CASE("a fork bomb stops at the pids limit") {
  TempDir ws(true);
  SandboxSpec spec = BaseSpec(
      ws, {"sh", "-c", "i=0; while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); done; echo survived"});
  spec.limits.pids = 32;
  int err[2];
  REQUIRE(pipe2(err, O_CLOEXEC) == 0);
  spec.stderr_fd = err[1];
  auto sandbox = Sandbox::Start(spec);
  close(err[1]);
  REQUIRE(sandbox.ok());
  ExitInfo exit = (*sandbox)->Wait();
  std::string errors;
  char buf[4096];
  for (ssize_t n; (n = read(err[0], buf, sizeof buf)) > 0;) errors.append(buf, n);
  close(err[0]);
  CHECK(exit.exit_code != 0);
  CHECK(errors.find("Cannot fork") != std::string::npos);
  std::string pids_events;
  for (const std::string& dir : (*sandbox)->CgroupDirs()) {
    if (dir.find("/pids/") != std::string::npos) pids_events = ReadHostFile(dir + "/pids.events");
  }
  CHECK(pids_events.rfind("max ", 0) == 0);
  CHECK(pids_events != "max 0\n");
  // The host still forks.
  pid_t pid;
  const char* argv[] = {"/bin/true", nullptr};
  REQUIRE(posix_spawn(&pid, "/bin/true", nullptr, nullptr, const_cast<char**>(argv), environ) == 0);
  int status;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a memory hog is OOM-killed at the memory limit") {
  TempDir ws(true);
  SandboxSpec spec = BaseSpec(ws, {"python3", "-c", "b = b'x' * (512 << 20)"});
  spec.limits.memory_bytes = 64 << 20;
  Run run = RunToEnd(spec);
  CHECK(run.exit.oom_killed);
  CHECK(run.exit.exit_code == 137);
  CHECK(run.exit.message == "out of memory (limit 64 MiB)");
}

TEST_CASE("a busy loop is throttled at the cpu quota") {
  TempDir ws(true);
  SandboxSpec spec = BaseSpec(ws, {"timeout", "0.3", "sh", "-c", "while :; do :; done"});
  spec.limits.cpus = 0.1;  // 10 ms per 100 ms period
  auto sandbox = Sandbox::Start(spec);
  REQUIRE(sandbox.ok());
  ExitInfo exit = (*sandbox)->Wait();
  CHECK(exit.exit_code == 124);  // ended by timeout(1), not by the limit
  int64_t throttled = -1;
  for (const std::string& dir : (*sandbox)->CgroupDirs()) {
    std::ifstream stat(dir + "/cpu.stat");
    std::string key;
    int64_t value;
    while (stat >> key >> value) {
      if (key == "nr_throttled") throttled = value;
    }
  }
  CHECK(throttled > 0);
}

TEST_CASE("exec runs commands in a running sandbox") {
  TempDir ws(true);
  auto sandbox = Sandbox::Start(BaseSpec(ws, {"sleep", "1000"}));
  REQUIRE(sandbox.ok());
  Sandbox& sb = **sandbox;
  CHECK(!sb.TryWait());

  auto r = sb.Exec({"sh", "-c", "echo out; echo err >&2; id -u; exit 7"}, "", 10000);
  REQUIRE(r.ok());
  CHECK(r->exit_code == 7);
  CHECK(r->stdout_data == "out\n1000\n");
  CHECK(r->stderr_data == "err\n");

  r = sb.Exec({"cat"}, "piped input", 10000);
  REQUIRE(r.ok());
  CHECK(r->exit_code == 0);
  CHECK(r->stdout_data == "piped input");

  r = sb.Exec({"sh", "-c", "head -c 100000 /dev/zero"}, "", 10000, 1000);
  REQUIRE(r.ok());
  CHECK(r->stdout_data.size() == 1000);

  // Both directions at once, beyond every pipe and socket buffer.
  std::string big(3 << 20, 'z');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + i % 26);
  r = sb.Exec({"cat"}, big, 20000, 4 << 20);
  REQUIRE(r.ok());
  CHECK(r->stdout_data == big);

  // Concurrent execs.
  std::vector<std::thread> threads;
  std::atomic<int> right{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&sb, &right, i] {
      auto e = sb.Exec({"sh", "-c", "echo $0", std::to_string(i)}, "", 10000);
      if (e.ok() && e->stdout_data == std::to_string(i) + "\n") ++right;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(right == 4);

  r = sb.Exec({"sh", "-c", "touch /usr/x"}, "", 10000);
  REQUIRE(r.ok());
  CHECK(r->exit_code != 0);

  r = sb.Exec({"no-such-command"}, "", 10000);
  REQUIRE(r.ok());
  CHECK(r->exit_code == 127);

  r = sb.Exec({"sleep", "100"}, "", 300);
  CHECK(absl::IsDeadlineExceeded(r.status()));

  sb.Kill();
  CHECK(absl::IsUnavailable(sb.Exec({"true"}, "", 1000).status()));
}

TEST_CASE("files are read and written as the sandbox user") {
  TempDir ws(true);
  TempDir data(true);
  SandboxSpec spec = BaseSpec(ws, {"sleep", "1000"});
  spec.mounts.push_back({data.path(), "/data", false});
  auto sandbox = Sandbox::Start(spec);
  REQUIRE(sandbox.ok());
  Sandbox& sb = **sandbox;

  REQUIRE(sb.WriteFile("/workspace/a.txt", "hello\n", 0600).ok());
  CHECK(ReadHostFile(ws / "a.txt") == "hello\n");
  struct stat st;
  REQUIRE(stat((ws / "a.txt").c_str(), &st) == 0);
  CHECK(st.st_uid == kUid);
  CHECK((st.st_mode & 0777) == 0600);
  auto content = sb.ReadFile("/workspace/a.txt", 1 << 20);
  REQUIRE(content.ok());
  CHECK(*content == "hello\n");

  std::string big(200000, 'x');
  REQUIRE(sb.WriteFile("/workspace/big", big).ok());
  content = sb.ReadFile("/workspace/big", 1 << 20);
  REQUIRE(content.ok());
  CHECK(*content == big);
  CHECK(absl::IsResourceExhausted(sb.ReadFile("/workspace/big", 1000).status()));

  CHECK(absl::IsPermissionDenied(sb.WriteFile("/data/x", "no")));  // Landlock
  CHECK(absl::IsPermissionDenied(sb.WriteFile("/etc/x", "no")));   // read-only mount
  CHECK(!std::filesystem::exists(data / "x"));
  CHECK(absl::IsNotFound(sb.WriteFile("/workspace/missing/dir/x", "no")));
  CHECK(absl::IsNotFound(sb.ReadFile("/workspace/none", 100).status()));
  CHECK(absl::IsFailedPrecondition(sb.ReadFile("/workspace", 100).status()));
  CHECK(absl::IsFailedPrecondition(sb.WriteFile("/workspace", "x")));
}

// Reads frames until the status frame; returns stdout and the status JSON.
std::pair<std::string, std::string> ReadUntilStatus(int fd) {
  std::string out, status;
  while (status.empty()) {
    auto frame = ReadFrame(fd);
    REQUIRE(frame.ok());
    REQUIRE(frame->has_value());
    if ((*frame)->channel == Channel::kStdout) out += (*frame)->payload;
    if ((*frame)->channel == Channel::kStatus) status = (*frame)->payload;
  }
  return {out, status};
}

TEST_CASE("an interactive exec gets a terminal") {
  TempDir ws(true);
  auto sandbox = Sandbox::Start(BaseSpec(ws, {"sleep", "1000"}));
  REQUIRE(sandbox.ok());
  auto fd = (*sandbox)->OpenControl();
  REQUIRE(fd.ok());
  timeval timeout{10, 0};  // a missing frame fails the test instead of hanging it
  setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  REQUIRE(WriteFrame(*fd, Channel::kRequest,
                     R"({"op":"exec","argv":["sh","-c","tty; test -t 0 && echo is-a-tty; )"
                     R"(read line; stty size; echo got $line"],"tty":true,"cols":80,"rows":24})")
              .ok());
  REQUIRE(WriteFrame(*fd, Channel::kResize, R"({"Width":100,"Height":40})").ok());
  REQUIRE(WriteFrame(*fd, Channel::kStdin, "typed\n").ok());
  auto [out, status] = ReadUntilStatus(*fd);
  close(*fd);
  CHECK(out.find("/dev/pts/") != std::string::npos);
  CHECK(out.find("is-a-tty") != std::string::npos);
  CHECK(out.find("40 100") != std::string::npos);
  CHECK(out.find("got typed") != std::string::npos);
  CHECK(status == R"({"status":"Success","exitCode":0})");

  // A failing command, without a terminal: the status frame carries its code.
  fd = (*sandbox)->OpenControl();
  REQUIRE(fd.ok());
  setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  // The request and the end of input (an empty stdin frame) in one write: sent apart, the
  // command — which reads no input — could end, and the sandbox close the connection after its
  // status, before the second write (seen under load).
  const std::string request =
      EncodeFrame(Channel::kRequest, R"({"op":"exec","argv":["sh","-c","echo no; exit 3"]})") +
      EncodeFrame(Channel::kStdin, "");
  REQUIRE(send(*fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  auto [out2, status2] = ReadUntilStatus(*fd);
  close(*fd);
  CHECK(out2 == "no\n");
  CHECK(status2 == R"({"status":"Failure","exitCode":3,)"
                   R"("message":"command terminated with non-zero exit code: 3"})");
}

TEST_CASE("loopback ports forward to host unix sockets") {
  TempDir ws(true);
  TempDir sockets;
  std::string path = sockets / "echo.sock";
  int server = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(server, 4) == 0);
  chmod(path.c_str(), 0666);
  std::thread echo([server] {  // one connection: echo what it sends until it stops
    pollfd p{server, POLLIN, 0};
    if (poll(&p, 1, 10000) != 1) return;
    int conn = accept(server, nullptr, nullptr);
    char buf[256];
    for (ssize_t n; (n = read(conn, buf, sizeof buf)) > 0;) {
      if (write(conn, buf, n) != n) break;
    }
    close(conn);
  });
  SandboxSpec spec =
      BaseSpec(ws, {"bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/4000; echo hi >&3; head -c3 <&3"});
  spec.mounts.push_back({sockets.path(), "/run/pai", true});
  spec.forwards = {{4000, "/run/pai/echo.sock"}};
  Run run = RunToEnd(spec);
  echo.join();
  close(server);
  CHECK(run.exit.exit_code == 0);
  CHECK(run.out == "hi\n");
  CHECK(run.err.empty());
}

int OpenFds() {
  return static_cast<int>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                                        std::filesystem::directory_iterator()));
}

TEST_CASE("kill ends a running sandbox and removes its cgroups") {
  TempDir ws(true);
  int fds_before = OpenFds();
  SandboxSpec spec = BaseSpec(ws, {"sleep", "1000"});
  spec.limits = {256 << 20, 0.5, 64};
  auto sandbox = Sandbox::Start(spec);
  REQUIRE(sandbox.ok());
  Sandbox& sb = **sandbox;
  std::vector<std::string> dirs = sb.CgroupDirs();
  REQUIRE(!dirs.empty());
  int limits_seen = 0;
  for (const auto& dir : dirs) {
    CHECK(std::filesystem::exists(dir));
    // The limits as the kernel holds them (v1 on this host class, v2 elsewhere).
    for (auto [file, value] :
         std::vector<std::pair<std::string, std::string>>{{"memory.limit_in_bytes", "268435456\n"},
                                                          {"memory.max", "268435456\n"},
                                                          {"cpu.cfs_quota_us", "50000\n"},
                                                          {"cpu.max", "50000 100000\n"},
                                                          {"pids.max", "64\n"}}) {
      if (std::filesystem::exists(dir + "/" + file)) {
        CHECK(ReadHostFile(dir + "/" + file) == value);
        ++limits_seen;
      }
    }
  }
  CHECK(limits_seen == 3);
  // Proves the sandbox is up (the exec goes through the init) before it is killed.
  auto r = sb.Exec({"true"}, "", 10000);
  REQUIRE(r.ok());
  CHECK(!sb.TryWait());
  sb.Kill();
  auto exit = sb.TryWait();
  REQUIRE(exit);
  CHECK(exit->exit_code == 137);
  CHECK(exit->message == "killed");
  for (const auto& dir : dirs) CHECK(!std::filesystem::exists(dir));
  CHECK(sb.CgroupDirs().empty());
  sb.Kill();  // idempotent
  sandbox->reset();
  CHECK(OpenFds() == fds_before);
}

TEST_CASE("terminate forwards SIGTERM to the workload") {
  TempDir ws(true);
  int out[2];
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  SandboxSpec spec = BaseSpec(
      ws, {"sh", "-c", "trap 'echo got-term; exit 3' TERM; echo ready; sleep 1000 & wait"});
  spec.stdout_fd = out[1];
  auto sandbox = Sandbox::Start(spec);
  close(out[1]);
  REQUIRE(sandbox.ok());
  char buf[64];
  REQUIRE(read(out[0], buf, 6) == 6);  // "ready\n": the trap is set
  REQUIRE((*sandbox)->Terminate().ok());
  ExitInfo exit = (*sandbox)->Wait();
  std::string rest;
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) rest.append(buf, n);
  close(out[0]);
  CHECK(exit.exit_code == 3);
  CHECK(rest == "got-term\n");
  CHECK(absl::IsUnavailable((*sandbox)->Terminate()));
}

}  // namespace
}  // namespace pai::runtime
