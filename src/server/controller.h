// The controller: a level-triggered reconciler over the store (docs/architecture.md,
// "Controller"). Each pass recomputes, from the store alone, what should exist:
//  - the status of every Agent (ready, message, observedGeneration, toolSummary, phase),
//    ModelProvider, Provider, GuardBinding, Session, Skill and PaiFile;
//  - the gateway's configuration file (Secrets, ModelProviders, GuardBindings, Agents of every
//    namespace), written atomically only when it changed; the gateway reloads it by itself;
//  - the gateway identity of every Agent (minted when missing, revoked when its Agent is gone);
//  - the workloads the runtime should run (NoRuntime in this version).
// It is safe to restart at any point: nothing it does depends on what a previous pass did.
//
// Thread safety: ReconcileOnce() from one thread at a time; Wake() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "server/api.h"
#include "server/clock.h"
#include "server/runtime.h"
#include "server/store.h"

namespace pai::server {

struct ControllerOptions {
  // The file the gateway reads (-f); written via a temp file + rename.
  std::string gateway_config_path;
  // The gateway's --state-dir: its token file lives there.
  std::string gateway_state_dir;
  std::string gateway_url;  // "http://127.0.0.1:4000/v1", given to workloads
  std::chrono::milliseconds resync{2000};
  const Clock* clock = nullptr;  // default: the system clock
  // The API's base URL as users reach it ("http://127.0.0.1:7070"): webhook URLs start with it.
  std::string public_url;
  // Where events of Sessions the controller ends without a runtime go (may be null).
  WorkloadEvents* events = nullptr;
};

// AgentInfo: what one pass knows of an Agent, for its workloads (Sessions, replicas, triggers).
struct AgentInfo {
  Resource agent;
  boost::json::object spec;  // effective (legacy fields mapped)
  bool ready = false;
  std::string message;  // why not ready
  std::string token;    // the Agent's own gateway identity (long-running replicas)
  std::map<std::string, std::string> env;  // the Agent's env[], secretRef values resolved
  std::vector<WorkloadFile> files;         // skills, PaiFile versions, configFiles
};

// FileGatewayTokens: gateway identities in the gateway's token file (auth/token_store.h).
class FileGatewayTokens final : public GatewayTokens {
 public:
  explicit FileGatewayTokens(std::string gateway_state_dir) : dir_(std::move(gateway_state_dir)) {}
  absl::StatusOr<std::pair<std::string, std::string>> Mint(const std::string& agent,
                                                           const std::string& session) override;
  absl::Status Revoke(const std::string& id) override;

 private:
  std::string dir_;
};

class Controller {
 public:
  Controller(Store& store, Runtime& runtime, GatewayTokens& tokens, ControllerOptions options);
  ~Controller();

  // ReconcileOnce(): one full pass. Errors are logged and retried on the next pass.
  absl::Status ReconcileOnce();
  // Start(): a thread that reconciles on every store change, every Wake() and every `resync`.
  void Start();
  void Stop();
  // SetPublicUrl(): before Start() (the API's address is known once it listens).
  void SetPublicUrl(std::string url) { options_.public_url = std::move(url); }
  // Wake(): run a pass soon (a workload changed phase, the test clock moved).
  void Wake() { wakes_.fetch_add(1); }
  // WakeAndWait(): Wake(), then wait (up to `timeout`) for a whole pass that started after it.
  // Returns false on timeout. (The test clock uses it: moving time is then observable at once.)
  bool WakeAndWait(std::chrono::milliseconds timeout);

 private:
  // Sessions: start, copy runtime status, idle timeout, TTL, identities (sessions.cc).
  absl::Status ReconcileSessions(const std::map<std::string, AgentInfo>& agents);
  // Triggers: schedule ticks, webhook tokens and URLs (triggers.cc). Writes into `status`
  // of each Agent the trigger fields (cronJobName, lastRunAt, lastRunPhase, webhookURL, ...).
  void ReconcileTriggers(const std::map<std::string, AgentInfo>& agents,
                         std::map<std::string, boost::json::object>& agent_status);
  void RunSchedule(const AgentInfo& a, const std::string& expr, absl::Time now,
                   const std::vector<Resource>& sessions, boost::json::object& status,
                   boost::json::object& item);
  absl::Time Now() const;

  Store& store_;
  Runtime& runtime_;
  GatewayTokens& tokens_;
  ControllerOptions options_;
  std::string last_render_;
  std::atomic<int64_t> wakes_{0};
  std::mutex pass_mu_;
  std::condition_variable pass_cv_;
  int64_t passes_started_ = 0, passes_done_ = 0;
  // Sessions start only once Start() ran (the gateway is up by then); passes before only
  // compute statuses and the gateway's configuration.
  std::atomic<bool> started_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// RenderGatewayConfig(): the gateway manifests for a store snapshot, with a per-resource note
// of what was left out and why (missing Secret, unresolved model, missing guard binding).
// Exposed for tests. Every document it emits has passed config::ParseManifests on its own.
struct Rendered {
  std::string text;
  // "Kind/ns/name" -> reason it is not served (or why parts are not).
  std::map<std::string, std::string> notes;
};
Rendered RenderGatewayConfig(Store& store);

// CreatorEnv(): the `pai config set-env` variables of the token that created `r` (or, when
// another token last wrote its spec, of that token: a spec never runs with someone else's
// variables). A Session started by `pai run` or the API has its caller's; one started by a
// trigger has its Agent's creator's.
std::map<std::string, std::string> CreatorEnv(Store& store, const Resource& r);

}  // namespace pai::server
