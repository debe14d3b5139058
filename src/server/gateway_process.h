// GatewayProcess: pai-server's supervision of the pai-gateway it configures
// (shared/design/ARCHITECTURE.md, "Command-line contract of pai-server"). The child is
// started with the rendered configuration directory and its own state directory, restarted
// (with a growing back-off) if it exits, and stopped with SIGTERM (it drains) when the server
// stops. Its log lines are relayed to the server's stderr; the bound addresses are read from
// its "listening" line and recorded in `state_file`.
//
// The gateway outlives a server that crashes (it keeps serving its last configuration, as the
// architecture requires); a server started again on the same state directory adopts the
// gateway recorded in `state_file` when that process is still a running pai-gateway, instead
// of starting a second one.
//
// Thread safety: WaitListening() from any thread; Start() and Stop() from the owner's thread
// (Stop() joins the supervisor).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pai::server {

struct GatewayProcessOptions {
  std::string binary;  // path of pai-gateway
  std::vector<std::string> args;
  std::string state_file;  // JSON {"pid","listen","admin_listen"} of the running gateway
  // Called with (listen, admin_listen) each time a (re)started gateway reports its addresses.
  std::function<void(const std::string&, const std::string&)> on_listening;
  // Called by the supervisor after a restart's back-off, just before it starts the next child
  // (a seam for tests: a Stop() that lands there must keep that child from starting).
  std::function<void()> before_restart;
};

// LoadOrCreateAdminToken(): the bearer token of the gateway's admin listener, kept in `path`
// (created with a random 256-bit hex token, mode 0600, when absent). pai-server passes the file
// to the gateway (--admin-token-file) and sends the token on /usage and /audit.
// Errors: Internal when the file cannot be read or created.
absl::StatusOr<std::string> LoadOrCreateAdminToken(const std::string& path);

class GatewayProcess {
 public:
  explicit GatewayProcess(GatewayProcessOptions options) : options_(std::move(options)) {}
  ~GatewayProcess() { Stop(); }

  // Start(): spawns (or adopts) the gateway and starts its supervisor thread. Errors:
  // Internal when the binary cannot be started at all; Cancelled after Stop().
  absl::Status Start();
  // WaitListening(): blocks until the first "listening" line or `timeout`; false on timeout or
  // when the gateway exited before listening.
  bool WaitListening(std::chrono::milliseconds timeout);
  // Stop(): SIGTERM, wait for the drain, SIGKILL after 35 s; no child is started after it
  // begins. Call from one thread at a time (it joins the supervisor).
  void Stop();
  // stopping(): Stop() has begun.
  bool stopping() const { return stopping_.load(); }

 private:
  // Spawn(): starts the gateway, unless Stop() has begun (Cancelled). Errors: Internal when it
  // cannot be executed.
  absl::Status Spawn();
  // RelayLog(): copies the child's stderr lines to ours until it closes it; reports each
  // "listening" line's addresses.
  void RelayLog();
  // Reap(): waits for the child to exit and reaps it; its exit code, or -signal.
  int Reap();
  void Supervise();
  bool Adopt();
  // IsOurGateway(): `pid` runs a pai-gateway binary whose --state-dir is this server's gateway
  // state directory (the same directory, however either is spelled).
  bool IsOurGateway(pid_t pid) const;
  void Listening(const std::string& listen, const std::string& admin);

  GatewayProcessOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool listening_ = false;
  bool exited_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<int> pid_{-1};
  int stderr_fd_ = -1;
  int adopted_fd_ = -1;  // guarded by mu_: pidfd of the adopted gateway while it is watched
  std::thread thread_;
};

}  // namespace pai::server
