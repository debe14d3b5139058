// The cgroups of one sandbox (shared/design/RUNTIME.md): on a hybrid host, v1 `memory`, `cpu`
// and `pids` groups named `pai-<id>` under this process's own v1 groups, plus a cgroup2 group
// (for cgroup.kill) under its own group in /sys/fs/cgroup/unified; on a pure cgroup v2 host, one
// group with memory.max, cpu.max and pids.max.
//
// Thread safety: a CgroupSet may be read from several threads; Kill() and Remove() are
// serialised by the caller (Sandbox).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/sandbox.h"

namespace pai::runtime {

enum class CgroupMode {
  kNone,      // no usable cgroup hierarchy
  kHybridV1,  // v1 controllers (+ cgroup2 at /sys/fs/cgroup/unified)
  kV2,        // pure cgroup v2 at /sys/fs/cgroup
};

// DetectCgroupMode(): which hierarchy this host has, and whether this process can create groups
// in it (`writable`).
CgroupMode DetectCgroupMode(bool* writable);

class CgroupSet {
 public:
  // Create(): makes the groups `pai-<name>` and writes `limits`. Errors: FailedPrecondition when
  // limits are asked for and the host has no usable hierarchy (or, on v2, the controller is not
  // delegated to this process's group); Internal on write failures (the groups made so far are
  // removed).
  static absl::StatusOr<std::unique_ptr<CgroupSet>> Create(const std::string& name,
                                                           const Limits& limits);
  ~CgroupSet();

  // ProcsFiles(): the cgroup.procs files a new process joins (writing "0" moves the writer).
  const std::vector<std::string>& ProcsFiles() const { return procs_files_; }
  // Dirs(): the group directories (empty after Remove()).
  std::vector<std::string> Dirs() const { return dirs_; }
  // OomKills(): how many tasks the memory controller killed (v1 memory.oom_control oom_kill, v2
  // memory.events oom_kill); 0 when unknown.
  int64_t OomKills() const;
  // Kill(): SIGKILL to every process in the groups (cgroup.kill when there is a v2 group, else
  // repeated kill() of the listed pids until the groups are empty, bounded).
  void Kill();
  // Remove(): rmdir of every group, retrying EBUSY with backoff for up to ~2 s. Idempotent.
  absl::Status Remove();

 private:
  CgroupSet() = default;
  absl::Status Make(const std::string& dir);
  std::vector<std::string> dirs_;  // creation order; removed in reverse
  std::vector<std::string> procs_files_;
  std::string memory_dir_;  // v1 memory group or the v2 group
  std::string kill_dir_;    // v2 group with cgroup.kill, may be empty
  bool v2_ = false;
};

}  // namespace pai::runtime
