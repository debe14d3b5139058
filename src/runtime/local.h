// The local runtime: pai-server's Runtime on one machine (docs/sessions.md; isolation model in
// docs/runtime.md). Each Session runs `pai-harness` in its own sandbox (runtime/sandbox.h);
// each long-running Agent runs its `command` as `replicas` sandboxes, restarted when they exit.
// A sandbox reaches the gateway and the egress proxy only (runtime/egress.h).
//
// Host layout under `state_dir`:
//   runs/{Kind}/{ns}/{name}-{uid8}/{run/ (mounted at /run/pai), log, egress.jsonl, files/}
//   workspaces/{sessions|agents}/{ns}/{name}/  a workload's /workspace (unless a volume is
//                                    mounted there)
//   volumes/{ns}/{agent}/{volume}/   an Agent's volumes, shared by its Sessions and replicas
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/clock.h"
#include "server/runtime.h"

namespace pai::runtime {

struct LocalRuntimeOptions {
  std::string state_dir;        // the runtime's directory (created, 0711)
  std::string harness_bin;      // host path of pai-harness
  std::string init_bin;         // host path of pai-sandbox-init
  std::string gateway_address;  // "127.0.0.1:4000": the gateway's agent listener
  // Egress allow-list applied to every sandbox (hosts, "*.suffix", CIDRs); see egress.h.
  std::vector<std::string> egress_allow;
  server::WorkloadEvents* events = nullptr;  // required
  const server::Clock* clock = nullptr;      // required
  int replica_restart_backoff_ms = 1000;     // long-running replicas: first restart delay
};

// NewLocalRuntime(): FailedPrecondition (with what is missing) when this host cannot run
// sandboxes (no bwrap, no user namespaces); the caller falls back to NoRuntime with that reason.
absl::StatusOr<std::unique_ptr<server::Runtime>> NewLocalRuntime(LocalRuntimeOptions options);

// SetGatewayAddress(): the gateway moved (it listens once started).
void SetGatewayAddress(server::Runtime& local_runtime, const std::string& host_port);

// ParseQuantity(): Kubernetes quantities: memory "512Mi", "1G", "1000000"; cpu "500m", "2".
// Returns bytes (memory) or cores (cpu). InvalidArgument on anything else.
absl::StatusOr<int64_t> ParseMemoryQuantity(const std::string& q);
absl::StatusOr<double> ParseCpuQuantity(const std::string& q);

}  // namespace pai::runtime
