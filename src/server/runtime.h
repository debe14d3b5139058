// The runtime seam: what the controller asks of whatever runs workloads (docs/architecture.md,
// "Runtime interface"). Two implementations come with the next issue — local sandboxes
// (namespaces, cgroups, Landlock; shared/design/RUNTIME.md) and Kubernetes objects. This
// version ships NoRuntime: workloads stay Pending and say why.
//
// A workload is one long-running Agent replica set or one Session. Keys are "ns/name" of the
// Agent or Session. Implementations must be safe to call from the controller thread while the
// API threads call Exec/CopyIn/CopyOut/Logs.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/json/object.hpp"

namespace pai::server {

struct Workload {
  std::string kind;  // "Agent" (long-running) | "Session"
  std::string ns;
  std::string name;
  std::string uid;
  boost::json::object spec;       // the Agent spec (legacy fields mapped) or the Session's
  boost::json::object agent_spec; // for a Session: its Agent's spec
  std::string gateway_url;        // the gateway's agent-facing base URL (".../v1")
  std::string gateway_token;      // the identity the workload calls the gateway with
  std::map<std::string, std::string> env;  // the creator's `pai config set-env` variables
};

// WorkloadStatus: what the controller copies into `status`.
struct WorkloadStatus {
  std::string phase;    // Agent: Creating|Pending|Running|Failed; Session: Pending|Running|...
  std::string message;  // why, when not Running
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  // Start(): make `w` run (idempotent: a running workload is left alone).
  virtual absl::Status Start(const Workload& w) = 0;
  // Stop(): end and remove the workload `key` ("ns/name"); OK when it does not exist.
  virtual absl::Status Stop(const std::string& kind, const std::string& key) = 0;
  virtual WorkloadStatus Status(const std::string& kind, const std::string& key) = 0;
  virtual absl::StatusOr<std::string> Exec(const std::string& key,
                                           const std::vector<std::string>& argv) = 0;
  virtual absl::Status CopyIn(const std::string& key, const std::string& path,
                              const std::string& content) = 0;
  virtual absl::StatusOr<std::string> CopyOut(const std::string& key, const std::string& path) = 0;
  virtual absl::StatusOr<std::string> Logs(const std::string& key, int tail_lines) = 0;
};

// NoRuntime: the runtime of this version — nothing runs; every workload is Pending.
class NoRuntime final : public Runtime {
 public:
  absl::Status Start(const Workload&) override { return absl::OkStatus(); }
  absl::Status Stop(const std::string&, const std::string&) override { return absl::OkStatus(); }
  WorkloadStatus Status(const std::string&, const std::string&) override {
    return {"Pending", "no agent runtime in this version of pai-server (sessions and sandboxes "
                       "arrive with the runtime)"};
  }
  absl::StatusOr<std::string> Exec(const std::string&, const std::vector<std::string>&) override {
    return absl::UnimplementedError("no agent runtime");
  }
  absl::Status CopyIn(const std::string&, const std::string&, const std::string&) override {
    return absl::UnimplementedError("no agent runtime");
  }
  absl::StatusOr<std::string> CopyOut(const std::string&, const std::string&) override {
    return absl::UnimplementedError("no agent runtime");
  }
  absl::StatusOr<std::string> Logs(const std::string&, int) override {
    return absl::UnimplementedError("no agent runtime");
  }
};

}  // namespace pai::server
