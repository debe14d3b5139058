// GatewayProcess: the supervision of pai-gateway, with a shell script in its place that records
// its pid, reports "listening" the way the gateway does, and then waits or exits. Once Stop()
// returns, this test process must have no child left (running or unreaped): every gateway the
// supervisor started is gone, including one it restarted or was about to restart.
#include "server/gateway_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "test_util.h"

namespace pai::server {
namespace {

using testing::TempDir;
namespace json = boost::json;

// FakeGateway: an executable script standing in for pai-gateway. `then` is what it does after
// its "listening" line: "exec sleep 60" (keeps its pid, ended by SIGTERM) or "exit 3".
struct FakeGateway {
  TempDir dir;
  std::string script = dir.path() + "/fake-gateway";
  std::string pids = dir.path() + "/pids";
  std::mutex mu;
  std::condition_variable cv;
  int listening = 0;
  std::string listen, admin;

  explicit FakeGateway(const std::string& then) {
    std::ofstream(script) << "#!/bin/sh\n"
                          << "echo $$ >> \"$1\"\n"
                          << R"(echo '{"msg":"listening","listen":"127.0.0.1:4001",)"
                          << R"("admin_listen":"127.0.0.1:4002"}' >&2)"
                          << "\n"
                          << then << "\n";
    REQUIRE(::chmod(script.c_str(), 0755) == 0);
  }

  GatewayProcessOptions Options() {
    GatewayProcessOptions o;
    o.binary = script;
    o.args = {pids};
    o.state_file = dir.path() + "/process.json";
    o.on_listening = [this](const std::string& l, const std::string& a) {
      std::lock_guard<std::mutex> lock(mu);
      ++listening;
      listen = l;
      admin = a;
      cv.notify_all();
    };
    return o;
  }

  // WaitListening(n): true once the n-th "listening" line was reported (10 s at most).
  bool WaitListening(int n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return listening >= n; });
  }

  std::vector<pid_t> Pids() {
    std::ifstream in(pids);
    std::vector<pid_t> out;
    for (pid_t p; in >> p;) out.push_back(p);
    return out;
  }
};

// NoChildren(): this process has no child, running or unreaped (the supervisor reaps its own).
bool NoChildren() { return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD; }

TEST_CASE("GatewayProcess: reports the addresses, restarts a killed gateway, stops the new one") {
  FakeGateway fake("exec sleep 60");
  GatewayProcess gw(fake.Options());
  REQUIRE(gw.Start().ok());
  REQUIRE(gw.WaitListening(std::chrono::seconds(10)));
  CHECK(fake.listen == "127.0.0.1:4001");
  CHECK(fake.admin == "127.0.0.1:4002");
  std::vector<pid_t> pids = fake.Pids();
  REQUIRE(pids.size() == 1);
  {
    std::ifstream in(fake.dir.path() + "/process.json");
    std::stringstream text;
    text << in.rdbuf();
    const json::value state = json::parse(text.str());
    CHECK(state.at("pid").as_int64() == pids[0]);
    CHECK(state.at("listen").as_string() == "127.0.0.1:4001");
  }

  REQUIRE(::kill(pids[0], SIGKILL) == 0);  // a crash: the supervisor starts another
  REQUIRE(fake.WaitListening(2));
  pids = fake.Pids();
  REQUIRE(pids.size() == 2);
  CHECK(pids[1] != pids[0]);
  CHECK(::kill(pids[1], 0) == 0);

  gw.Stop();
  CHECK(NoChildren());
}

TEST_CASE("GatewayProcess: a Stop() between the back-off and the restart keeps the child out") {
  // The first gateway is killed; the supervisor waits its back-off, and Stop() begins (on
  // another thread, as a signal handler's thread would) just before the restart: the next
  // child must not start, or it would never be signalled.
  FakeGateway fake("exec sleep 60");
  GatewayProcessOptions o = fake.Options();
  GatewayProcess* gw_ptr = nullptr;
  std::thread stopper;
  bool stop_began = false;
  o.before_restart = [&] {
    if (stopper.joinable()) return;
    stopper = std::thread([&] { gw_ptr->Stop(); });
    // Bounded: Stop() sets the flag before anything that could wait.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!gw_ptr->stopping() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    stop_began = gw_ptr->stopping();
  };
  GatewayProcess gw(std::move(o));
  gw_ptr = &gw;
  REQUIRE(gw.Start().ok());
  REQUIRE(fake.WaitListening(1));
  REQUIRE(fake.Pids().size() == 1);
  REQUIRE(::kill(fake.Pids()[0], SIGKILL) == 0);
  // The supervisor runs the seam, which starts the stopper; wait for the stopper to finish.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!stopper.joinable() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  REQUIRE(stopper.joinable());
  stopper.join();
  CHECK(stop_began);
  CHECK(fake.Pids().size() == 1);  // no second gateway was started
  CHECK(NoChildren());
}

TEST_CASE("GatewayProcess: a gateway that keeps exiting is restarted until Stop()") {
  FakeGateway fake("exit 3");
  GatewayProcess gw(fake.Options());
  REQUIRE(gw.Start().ok());
  REQUIRE(fake.WaitListening(2));  // the first exited, the second was started after 200 ms
  gw.Stop();
  CHECK(fake.Pids().size() >= 2);
  CHECK(NoChildren());
}

TEST_CASE("GatewayProcess: Stop() before the first line and Stop() twice are safe") {
  FakeGateway fake("exec sleep 60");
  GatewayProcess gw(fake.Options());
  REQUIRE(gw.Start().ok());
  gw.Stop();
  gw.Stop();
  CHECK(NoChildren());
  CHECK(absl::IsCancelled(gw.Start()));  // no gateway is started once stopped
  CHECK(NoChildren());
}

TEST_CASE("GatewayProcess: a missing binary is an error naming the flag") {
  GatewayProcessOptions o;
  o.binary = "/nonexistent/pai-gateway";
  GatewayProcess gw(std::move(o));
  const absl::Status s = gw.Start();
  CHECK(absl::IsInternal(s));
  CHECK(s.message().find("--gateway-bin") != std::string::npos);
}

// RunningGateway: a process whose executable is named pai-gateway (a copy of /bin/sh), started
// in `dir`, whose command line carries `--state-dir <state_dir>` (relative to `dir`, or
// absolute), as the gateway a crashed server left behind. The
// constructor returns once the shell runs its script (it says so on a pipe): right after
// exec, /proc/<pid>/cmdline can still be empty.
struct RunningGateway {
  pid_t pid = -1;
  RunningGateway(const std::string& dir, const std::string& state_dir) {
    const std::string exe = dir + "/pai-gateway";
    std::filesystem::copy_file("/bin/sh", exe);
    REQUIRE(::chmod(exe.c_str(), 0755) == 0);
    std::vector<std::string> args{
        exe,
        "-c",
        "echo ready; exec 0</dev/null 1>/dev/null 2>&1; while :; do sleep 1; done",
        "pai-gateway",
        "--state-dir",
        state_dir};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int ready[2];
    REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, ready[1], STDOUT_FILENO);
    posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
    const int err = ::posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(ready[1]);
    char line[8] = {};
    const ssize_t n = err == 0 ? ::read(ready[0], line, sizeof line - 1) : -1;
    ::close(ready[0]);
    REQUIRE(err == 0);
    REQUIRE(std::string_view(line, n > 0 ? static_cast<size_t>(n) : 0) == "ready\n");
  }
  // Reaped(): reaps it (this test is its parent): the signal that ended it, 0 for an exit, -1
  // when it still runs and `wait` is false.
  int Reaped(bool wait) const {
    int status = 0;
    if (::waitpid(pid, &status, wait ? 0 : WNOHANG) != pid) return -1;
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
};

void WriteState(const std::string& path, pid_t pid) {
  std::ofstream(path) << json::serialize(
      json::object{{"pid", pid}, {"listen", "127.0.0.1:4101"}, {"admin_listen", "127.0.0.1:4102"}});
}

TEST_CASE("GatewayProcess: adopts the recorded gateway of its state directory and stops it") {
  FakeGateway fake("exec sleep 60");
  const std::string state_dir = fake.dir.path() + "/gateway";
  std::filesystem::create_directory(state_dir);
  // The left-behind gateway names the directory relative to its working directory.
  RunningGateway left(fake.dir.path(), "gateway");
  GatewayProcessOptions o = fake.Options();
  o.args = {fake.pids, "--state-dir", state_dir};
  WriteState(o.state_file, left.pid);
  GatewayProcess gw(std::move(o));
  REQUIRE(gw.Start().ok());
  CHECK(fake.listen == "127.0.0.1:4101");  // the recorded addresses, reported at once
  CHECK(fake.Pids().empty());              // no gateway of its own
  gw.Stop();                               // returns once the gateway has exited
  const int signal = left.Reaped(/*wait=*/false);
  if (signal == -1) {  // not stopped: end it here, so that the test fails instead of hanging
    ::kill(left.pid, SIGKILL);
    left.Reaped(/*wait=*/true);
  }
  CHECK(signal == SIGTERM);
  CHECK(NoChildren());
}

TEST_CASE("GatewayProcess: a recorded pai-gateway of another state directory is left alone") {
  FakeGateway fake("exec sleep 60");
  std::filesystem::create_directory(fake.dir.path() + "/gateway");
  std::filesystem::create_directory(fake.dir.path() + "/elsewhere");
  RunningGateway other(fake.dir.path(), fake.dir.path() + "/elsewhere");
  GatewayProcessOptions o = fake.Options();
  o.args = {fake.pids, "--state-dir", fake.dir.path() + "/gateway"};
  WriteState(o.state_file, other.pid);
  GatewayProcess gw(std::move(o));
  REQUIRE(gw.Start().ok());
  REQUIRE(fake.WaitListening(1));
  CHECK(fake.listen == "127.0.0.1:4001");  // its own gateway's
  gw.Stop();
  CHECK(::kill(other.pid, 0) == 0);  // not signalled
  ::kill(other.pid, SIGKILL);
  CHECK(other.Reaped(/*wait=*/true) == SIGKILL);
  CHECK(NoChildren());
}

}  // namespace
}  // namespace pai::server
