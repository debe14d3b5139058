// GatewayProcess: the supervision of pai-gateway, with a shell script in its place that records
// its pid, reports "listening" the way the gateway does, and then waits or exits. Every process
// the supervisor started must be gone once Stop() returns, including one it restarted.
#include "server/gateway_process.h"

#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <condition_variable>
#include <fstream>
#include <mutex>

#include "test_util.h"

namespace pai::server {
namespace {

using testing::TempDir;
namespace json = boost::json;

// FakeGateway: an executable script standing in for pai-gateway. `then` is what it does after
// its "listening" line: "exec sleep 1000" (keeps its pid, ended by SIGTERM) or "exit 3".
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

// Gone(): no such process (our children are reaped by the supervisor, so not even a zombie).
bool Gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

TEST_CASE("GatewayProcess: reports the addresses, restarts a killed gateway, stops the new one") {
  FakeGateway fake("exec sleep 1000");
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
  CHECK_FALSE(Gone(pids[1]));

  gw.Stop();
  for (pid_t p : pids) CHECK(Gone(p));
}

TEST_CASE("GatewayProcess: a gateway that keeps exiting is restarted until Stop(), none after") {
  // Each child exits right after its "listening" line; the supervisor restarts it after a
  // back-off (200 ms, then 400 ms). Stop() lands while the supervisor waits or restarts.
  FakeGateway fake("exit 3");
  GatewayProcess gw(fake.Options());
  REQUIRE(gw.Start().ok());
  REQUIRE(fake.WaitListening(2));
  gw.Stop();
  const std::vector<pid_t> pids = fake.Pids();
  REQUIRE(pids.size() >= 2);
  for (pid_t p : pids) CHECK(Gone(p));
}

TEST_CASE("GatewayProcess: Stop() before the first line and Stop() twice are safe") {
  FakeGateway fake("exec sleep 1000");
  GatewayProcess gw(fake.Options());
  REQUIRE(gw.Start().ok());
  gw.Stop();
  gw.Stop();
  for (pid_t p : fake.Pids()) CHECK(Gone(p));
}

TEST_CASE("GatewayProcess: a missing binary is an error naming the flag") {
  GatewayProcessOptions o;
  o.binary = "/nonexistent/pai-gateway";
  GatewayProcess gw(std::move(o));
  const absl::Status s = gw.Start();
  CHECK(absl::IsInternal(s));
  CHECK(s.message().find("--gateway-bin") != std::string::npos);
}

}  // namespace
}  // namespace pai::server
