// The runtime seam: what the controller and the API ask of whatever runs workloads
// (docs/architecture.md, "Runtime interface"; docs/sessions.md). Implementations: the local
// runtime (src/runtime/local.h: bubblewrap sandboxes, cgroups, Landlock), NoRuntime (nothing
// runs; workloads stay Pending and say why) and the Kubernetes runtime (src/kube/runtime.h).
//
// A workload is one long-running Agent (its replicas) or one Session, named by kind and key
// "ns/name". Implementations must be safe to call from the controller thread while the API
// threads call Deliver/Exec/ReadFile/WriteFile/LogPath.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/json/object.hpp"

namespace pai::server {

// A file or directory the runtime materialises in the sandbox.
struct WorkloadFile {
  std::string path;     // inside the sandbox (absolute)
  std::string content;  // bytes
  bool read_only = true;
  bool no_clobber = false;  // configFiles: never overwrite an existing file (volumes persist)
};

struct Workload {
  std::string kind;  // "Agent" (long-running) | "Session"
  std::string ns;
  std::string name;
  std::string uid;
  std::string agent;            // for a Session: its Agent's name
  boost::json::object spec;     // the Agent's effective spec (legacy fields mapped)
  boost::json::object session;  // for a Session: docs/sessions.md session.json (resolved)
  std::string gateway_url;      // the gateway's agent-facing base URL (".../v1") on the host
  std::string gateway_token;    // the identity the workload calls the gateway with
  std::map<std::string, std::string> env;  // resolved: Agent env (secretRef values) + creator's
  std::vector<WorkloadFile> files;         // skills, PaiFile versions, configFiles
};

// WorkloadStatus: what the controller copies into `status`.
struct WorkloadStatus {
  bool known = false;      // the runtime has (or had, since its start) this workload
  bool ending = false;     // End() was asked: no more user events
  std::string phase;       // Agent: Creating|Pending|Running|Failed; Session: Pending|Running|Idle|
                           // Complete|Error
  std::string message;     // why, when not Running
  std::string started_at;  // RFC 3339, "" until started
  std::string completed_at;  // RFC 3339, "" until finished
  std::string idle_since;    // RFC 3339 while Idle
  std::string job_name;
  std::string pod_name;
  int64_t tokens_used = 0;
  int replicas_running = 0;  // long-running Agents
};

struct ExecResult {
  int exit_code = 0;
  std::string stdout_data;
  std::string stderr_data;
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  // Start(): make `w` run (idempotent: a known workload is left alone).
  virtual absl::Status Start(const Workload& w) = 0;
  // Stop(): end and forget the workload; OK when it does not exist.
  virtual absl::Status Stop(const std::string& kind, const std::string& key) = 0;
  // End(): a Session ends gracefully (its harness finishes the turn and exits): Complete.
  virtual absl::Status End(const std::string& key, const std::string& reason) = 0;
  virtual WorkloadStatus Status(const std::string& kind, const std::string& key) = 0;
  // Keys(): every workload the runtime knows, as "Kind/ns/name".
  virtual std::vector<std::string> Keys() = 0;
  // Deliver(): hands a stored user event (JSON object) to the Session's harness.
  // FailedPrecondition when the Session is not running.
  virtual absl::Status Deliver(const std::string& key, const boost::json::object& event) = 0;
  virtual absl::StatusOr<ExecResult> Exec(const std::string& kind, const std::string& key,
                                          const std::vector<std::string>& argv,
                                          const std::string& stdin_data, int timeout_ms) = 0;
  // OpenControl(): a connected socket speaking the control-socket frame protocol of
  // docs/sessions.md (for interactive exec); the caller owns the fd.
  virtual absl::StatusOr<int> OpenControl(const std::string& kind, const std::string& key) = 0;
  virtual absl::StatusOr<std::string> ReadFile(const std::string& kind, const std::string& key,
                                               const std::string& path) = 0;
  virtual absl::Status WriteFile(const std::string& kind, const std::string& key,
                                 const std::string& path, const std::string& content) = 0;
  // LogPath(): the host file holding the stdout/stderr of workload `uid` (kept after it ends,
  // until Purge()); NotFound when it never started.
  virtual absl::StatusOr<std::string> LogPath(const std::string& kind, const std::string& key,
                                              const std::string& uid) = 0;
  // Purge(): the workload's record is gone: stop it and delete its files (log, workspace).
  virtual void Purge(const std::string& kind, const std::string& key, const std::string& uid) = 0;
  // EgressRecords(): the egress proxy's records of a Session (JSON lines, newest last).
  virtual absl::StatusOr<std::vector<std::string>> EgressRecords(const std::string& key,
                                                                 size_t limit) = 0;
};

// NoRuntime: nothing runs; every workload is Pending with `reason`.
class NoRuntime final : public Runtime {
 public:
  explicit NoRuntime(std::string reason = "no agent runtime on this host")
      : reason_(std::move(reason)) {}
  absl::Status Start(const Workload&) override { return absl::OkStatus(); }
  absl::Status Stop(const std::string&, const std::string&) override { return absl::OkStatus(); }
  absl::Status End(const std::string&, const std::string&) override { return absl::OkStatus(); }
  WorkloadStatus Status(const std::string&, const std::string&) override {
    WorkloadStatus s;
    s.phase = "Pending";
    s.message = reason_;
    return s;
  }
  std::vector<std::string> Keys() override { return {}; }
  absl::Status Deliver(const std::string&, const boost::json::object&) override {
    return absl::FailedPreconditionError(reason_);
  }
  absl::StatusOr<ExecResult> Exec(const std::string&, const std::string&,
                                  const std::vector<std::string>&, const std::string&,
                                  int) override {
    return absl::FailedPreconditionError(reason_);
  }
  absl::StatusOr<int> OpenControl(const std::string&, const std::string&) override {
    return absl::FailedPreconditionError(reason_);
  }
  absl::StatusOr<std::string> ReadFile(const std::string&, const std::string&,
                                       const std::string&) override {
    return absl::FailedPreconditionError(reason_);
  }
  absl::Status WriteFile(const std::string&, const std::string&, const std::string&,
                         const std::string&) override {
    return absl::FailedPreconditionError(reason_);
  }
  absl::StatusOr<std::string> LogPath(const std::string&, const std::string&,
                                      const std::string&) override {
    return absl::NotFoundError(reason_);
  }
  void Purge(const std::string&, const std::string&, const std::string&) override {}
  absl::StatusOr<std::vector<std::string>> EgressRecords(const std::string&, size_t) override {
    return std::vector<std::string>{};
  }

 private:
  std::string reason_;
};

// WorkloadEvents: how a runtime reports a Session's events and requests (implemented by the
// server over the store; docs/sessions.md "Harness protocol"). Thread safety: any thread.
class WorkloadEvents {
 public:
  virtual ~WorkloadEvents() = default;
  // Append(): stores events of Session ns/name (the server assigns id/sequence/created_at).
  virtual absl::Status Append(const std::string& ns, const std::string& session,
                              std::vector<boost::json::object> events) = 0;
  virtual void MarkProcessed(const std::string& ns, const std::string& session,
                             const std::string& event_id) = 0;
  // Undelivered(): the Session's user events not processed yet, oldest first (posted while it
  // was starting; the runtime hands them to a new harness).
  virtual std::vector<boost::json::object> Undelivered(const std::string& ns,
                                                       const std::string& session) = 0;
  // RegisterFile(): publishes `content` as the next version of PaiFile ns/file; returns it.
  virtual absl::StatusOr<int64_t> RegisterFile(const std::string& ns, const std::string& file,
                                               const std::string& content) = 0;
  // Changed(): a workload's phase changed (wakes the controller).
  virtual void Changed() = 0;
};

}  // namespace pai::server
