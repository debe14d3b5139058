// One sandbox on this machine: bubblewrap namespaces + cgroups + Landlock around one workload
// (docs/sessions.md, "The sandbox"; shared/design/RUNTIME.md for the facts it is built on).
//
// Start() forks a child that joins the sandbox's cgroups, drops to `uid`/`gid` (never 0), and
// execs `bwrap --unshare-all --die-with-parent --new-session ... pai-sandbox-init ...`; the init
// forwards the sandbox's loopback ports to host unix sockets, applies Landlock to the workload,
// runs it, and serves exec/copy requests on a control socket that is not visible inside.
//
// Every process of the sandbox runs as `uid`, so mount sources must be reachable by that uid on
// the host (bwrap mounts them after dropping root).
//
// Thread safety: a Sandbox may be used from several threads (Exec/ReadFile/WriteFile
// concurrently with each other and with Wait/Kill). Start() is thread-safe; it forks from one
// long-lived internal thread, so the sandbox's parent-death signal (bwrap --die-with-parent) fires
// when this process exits, not when the thread that called Start() does.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pai::runtime {

struct Mount {
  std::string source;  // host path (must exist)
  std::string target;  // path inside the sandbox
  bool read_only = true;
};

// A loopback TCP port inside the sandbox forwarded to a unix socket (a path inside the sandbox).
struct PortForward {
  int port = 0;             // e.g. 4000 (gateway), 3128 (egress proxy)
  std::string unix_socket;  // e.g. "/run/pai/gateway.sock"
};

struct Limits {
  int64_t memory_bytes = 0;  // 0: no limit
  double cpus = 0;           // 0: no limit (CFS quota = cpus * period)
  int64_t pids = 0;          // 0: no limit
};

struct SandboxSpec {
  std::string id;  // unique name of this run, 1-200 of [a-z0-9.-]; names the cgroups ("pai-<id>")
  uid_t uid = 1000;
  gid_t gid = 1000;
  std::vector<std::string> argv;           // the workload, resolved inside the sandbox
  std::map<std::string, std::string> env;  // the workload's whole environment
  std::string cwd = "/workspace";
  std::string hostname = "pai";
  std::vector<Mount> mounts;                 // besides the system directories
  std::vector<std::string> read_only_paths;  // filesystem.readOnlyPaths: beneath a mount,
                                             // bound again read-only; elsewhere already so
  std::vector<std::string> writable_paths;   // Landlock: writes allowed only beneath these
                                             // (plus /tmp and /dev). The workload and
                                             // each exec child get their own Landlock
                                             // domain: with signal scoping (ABI >= 6) an
                                             // exec child cannot signal the workload
  std::vector<PortForward> forwards;
  std::vector<int> allowed_tcp_ports;  // Landlock TCP connect allow-list, in addition to
                                       // the forwards' ports (which are always allowed)
  bool landlock = true;  // false: run without Landlock. A kernel without it runs the sandbox
                         // without too: DetectHost().landlock_abi is 0 and the init says so
                         // on the workload's stderr
  Limits limits;
  // The workload's stdio: fds owned by the caller (dup'ed into the child; the caller closes its
  // copies). -1: /dev/null.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int events_fd = -1;  // becomes fd 3 of the workload
  // Host path of pai-sandbox-init, bound read-only at /opt/pai/bin/pai-sandbox-init after the
  // mounts (a mount at /opt/pai/bin must then already hold a file of that name, or be writable).
  std::string init_path;
  // Host directory (root-only) under which the control socket gets its own 0700 directory;
  // it is never mounted into the sandbox. Empty: /tmp.
  std::string state_dir;
};

struct ExitInfo {
  int exit_code = 0;        // the workload's exit status (128+signal when killed by a signal)
  bool oom_killed = false;  // the memory cgroup killed a task of this sandbox
  std::string message;      // human-readable reason when not a clean exit
};

struct ExecResult {
  int exit_code = 0;
  std::string stdout_data;
  std::string stderr_data;
};

// What this host offers; detected once (cgroup v1/v2, Landlock ABI, bwrap path, userns).
struct HostSupport {
  std::string bwrap;       // path, empty when missing
  int landlock_abi = 0;    // 0: none
  bool cgroup_v2 = false;  // pure v2 (memory.max ...) rather than hybrid v1
  bool cgroup_writable = false;
  bool user_namespaces = false;  // unprivileged user namespaces allowed (bwrap needs them)
  std::string summary;           // one line for status messages and logs
};
const HostSupport& DetectHost();

class Sandbox {
 public:
  virtual ~Sandbox() = default;
  // Start(): launches `spec` and returns once bwrap has been exec'd (the workload may not run
  // yet). Errors: InvalidArgument (bad id, empty argv, missing mount source or init);
  // FailedPrecondition when the host lacks bwrap or user namespaces, limits are asked for without
  // writable cgroups, or uid/gid is 0 ("runAsUser 0 (root) is not allowed"); Internal on
  // fork/cgroup failures. The returned Sandbox's destructor calls Kill().
  static absl::StatusOr<std::unique_ptr<Sandbox>> Start(const SandboxSpec& spec);

  virtual pid_t pid() const = 0;  // the host pid of bwrap
  // TryWait(): the exit once the workload has ended (non-blocking); Wait(): blocks. Both reap
  // bwrap (whose exit status is the init's, i.e. the workload's) and read the OOM counter, so
  // nothing else in this process may waitpid(-1).
  virtual std::optional<ExitInfo> TryWait() = 0;
  virtual ExitInfo Wait() = 0;
  // Terminate(): SIGTERM to the init, which forwards it to the workload (a graceful stop; Wait()
  // then reports how the workload ended). Errors: Unavailable when the sandbox has exited.
  virtual absl::Status Terminate() = 0;
  // Kill(): kills every process of the sandbox (cgroup.kill or SIGKILL to the tree), reaps,
  // and removes the cgroups. Idempotent; also right after a normal exit (cleanup).
  virtual void Kill() = 0;
  // CgroupDirs(): the sandbox's cgroup directories (empty once Kill() removed them).
  virtual std::vector<std::string> CgroupDirs() const = 0;
  // Exec(): runs argv inside the sandbox (same namespaces, uid, Landlock) and collects its
  // output (each stream capped at `max_output` bytes; the rest is read and dropped). A command
  // that is not found exits 127. Errors: Unavailable when not running; DeadlineExceeded after
  // `timeout_ms` (the process group is killed).
  virtual absl::StatusOr<ExecResult> Exec(const std::vector<std::string>& argv,
                                          const std::string& stdin_data, int timeout_ms,
                                          size_t max_output = 8u << 20) = 0;
  // OpenControl(): a new connected socket to the init's control socket (the caller owns it and
  // speaks the frame protocol of docs/sessions.md, as encoded by runtime/frames.h; used for
  // interactive exec). Closing it before the status frame kills the exec'd process group.
  virtual absl::StatusOr<int> OpenControl() = 0;
  // ReadFile()/WriteFile(): as the sandbox user, inside the sandbox's mount view and Landlock
  // rules (writes run in a Landlocked child). Errors: NotFound, PermissionDenied,
  // FailedPrecondition (a directory or not a regular file), ResourceExhausted (ReadFile: the
  // file is larger than `max_bytes`), Unavailable (the sandbox is not running), Internal.
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes) = 0;
  virtual absl::Status WriteFile(const std::string& path, const std::string& content,
                                 int mode = 0644) = 0;
};

}  // namespace pai::runtime
