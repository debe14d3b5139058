#include "runtime/cgroups.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/status_macros.h"

namespace pai::runtime {
namespace {

constexpr char kRoot[] = "/sys/fs/cgroup";
constexpr char kUnified[] = "/sys/fs/cgroup/unified";
constexpr int64_t kCpuPeriodUs = 100000;

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

std::string ErrnoText(int err) { return std::strerror(err); }

// OwnGroup(): this process's group in the v1 hierarchy holding `controller`, or in cgroup2
// when `controller` is empty ("0::/path"). "/" when not listed.
std::string OwnGroup(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find(':');
    size_t b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string list = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    if (controller.empty()) {
      if (line.compare(0, a, "0") == 0 && list.empty()) return path;
      continue;
    }
    std::stringstream names(list);
    std::string name;
    while (std::getline(names, name, ',')) {
      if (name == controller) return path;
    }
  }
  return "/";
}

std::string Join(const std::string& base, const std::string& group) {
  if (group == "/" || group.empty()) return base;
  return base + group;
}

absl::Status WriteFile(const std::string& path, const std::string& value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError("cgroup: open " + path + ": " + ErrnoText(errno));
  ssize_t n = write(fd, value.data(), value.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return absl::InternalError("cgroup: write " + value + " to " + path + ": " + ErrnoText(err));
  }
  return absl::OkStatus();
}

// ReadCounter(): the value of `key` in a "key value" per line file, 0 when absent.
int64_t ReadCounter(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string name;
  int64_t value = 0;
  while (in >> name >> value) {
    if (name == key) return value;
  }
  return 0;
}

std::vector<pid_t> ReadPids(const std::string& procs) {
  std::ifstream in(procs);
  std::vector<pid_t> pids;
  pid_t pid;
  while (in >> pid) pids.push_back(pid);
  return pids;
}

bool HasLimits(const Limits& l) { return l.memory_bytes > 0 || l.cpus > 0 || l.pids > 0; }

int64_t CpuQuotaUs(double cpus) {
  return std::max<int64_t>(1000, std::llround(cpus * static_cast<double>(kCpuPeriodUs)));
}

// CheckV2Controllers(): a limit needs its controller enabled in the parent's subtree_control,
// which the kernel refuses while the parent holds processes (systemd services do).
absl::Status CheckV2Controllers(const std::string& base, const std::string& dir,
                                const Limits& limits) {
  std::pair<bool, const char*> needs[] = {{limits.memory_bytes > 0, "memory.max"},
                                          {limits.cpus > 0, "cpu.max"},
                                          {limits.pids > 0, "pids.max"}};
  for (const auto& [needed, file] : needs) {
    if (needed && !Exists(dir + "/" + file)) {
      return absl::FailedPreconditionError(
          std::string("cgroup v2: no ") + file + " (controller not enabled in " + base +
          "/cgroup.subtree_control; run pai-server in a leaf group with delegated controllers)");
    }
  }
  return absl::OkStatus();
}

}  // namespace

CgroupMode DetectCgroupMode(bool* writable) {
  *writable = false;
  if (Exists(std::string(kRoot) + "/cgroup.controllers")) {
    *writable = access(Join(kRoot, OwnGroup("")).c_str(), W_OK) == 0;
    return CgroupMode::kV2;
  }
  if (Exists(std::string(kRoot) + "/memory/memory.limit_in_bytes")) {
    *writable = access(Join(std::string(kRoot) + "/memory", OwnGroup("memory")).c_str(), W_OK) == 0;
    return CgroupMode::kHybridV1;
  }
  return CgroupMode::kNone;
}

absl::Status CgroupSet::Make(const std::string& dir) {
  if (mkdir(dir.c_str(), 0755) != 0) {
    // A leftover of an earlier run with the same name: reuse only when it can be removed.
    if (errno != EEXIST || rmdir(dir.c_str()) != 0 || mkdir(dir.c_str(), 0755) != 0) {
      return absl::InternalError("cgroup: mkdir " + dir + ": " + ErrnoText(errno));
    }
  }
  dirs_.push_back(dir);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CgroupSet>> CgroupSet::Create(const std::string& name,
                                                             const Limits& limits) {
  std::unique_ptr<CgroupSet> set(new CgroupSet());
  bool writable = false;
  CgroupMode mode = DetectCgroupMode(&writable);
  if (mode == CgroupMode::kNone || !writable) {
    if (HasLimits(limits)) {
      return absl::FailedPreconditionError("resource limits need a writable cgroup hierarchy");
    }
    return set;
  }
  const std::string leaf = "/pai-" + name;
  absl::Status status;
  if (mode == CgroupMode::kHybridV1) {
    for (const char* controller : {"memory", "cpu", "pids"}) {
      std::string base = std::string(kRoot) + "/" + controller;
      if (!Exists(base + "/cgroup.procs")) continue;
      std::string dir = Join(base, OwnGroup(controller)) + leaf;
      status = set->Make(dir);
      if (!status.ok()) break;
      set->procs_files_.push_back(dir + "/cgroup.procs");
      std::string c = controller;
      if (c == "memory") {
        set->memory_dir_ = dir;
        if (limits.memory_bytes > 0) {
          std::string bytes = std::to_string(limits.memory_bytes);
          status = WriteFile(dir + "/memory.limit_in_bytes", bytes);
          if (status.ok() && Exists(dir + "/memory.memsw.limit_in_bytes")) {
            status = WriteFile(dir + "/memory.memsw.limit_in_bytes", bytes);
          }
        }
      } else if (c == "cpu" && limits.cpus > 0) {
        status = WriteFile(dir + "/cpu.cfs_period_us", std::to_string(kCpuPeriodUs));
        if (status.ok()) {
          status = WriteFile(dir + "/cpu.cfs_quota_us", std::to_string(CpuQuotaUs(limits.cpus)));
        }
      } else if (c == "pids" && limits.pids > 0) {
        status = WriteFile(dir + "/pids.max", std::to_string(limits.pids));
      }
      if (!status.ok()) break;
    }
    // The cgroup2 group only serves cgroup.kill: best effort.
    if (status.ok() && Exists(std::string(kUnified) + "/cgroup.procs")) {
      std::string dir = Join(kUnified, OwnGroup("")) + leaf;
      if (set->Make(dir).ok()) {
        set->procs_files_.push_back(dir + "/cgroup.procs");
        if (Exists(dir + "/cgroup.kill")) set->kill_dir_ = dir;
      }
    }
  } else {
    set->v2_ = true;
    std::string base = Join(kRoot, OwnGroup(""));
    for (const char* enable : {"+memory", "+cpu", "+pids"}) {
      (void)WriteFile(base + "/cgroup.subtree_control", enable);  // checked through the files
    }
    std::string dir = base + leaf;
    status = set->Make(dir);
    if (status.ok()) {
      set->procs_files_.push_back(dir + "/cgroup.procs");
      set->memory_dir_ = dir;
      if (Exists(dir + "/cgroup.kill")) set->kill_dir_ = dir;
      status = CheckV2Controllers(base, dir, limits);
      if (status.ok() && limits.memory_bytes > 0) {
        status = WriteFile(dir + "/memory.max", std::to_string(limits.memory_bytes));
        if (status.ok() && Exists(dir + "/memory.swap.max")) {
          status = WriteFile(dir + "/memory.swap.max", "0");
        }
      }
      if (status.ok() && limits.cpus > 0) {
        status = WriteFile(dir + "/cpu.max", std::to_string(CpuQuotaUs(limits.cpus)) + " " +
                                                 std::to_string(kCpuPeriodUs));
      }
      if (status.ok() && limits.pids > 0) {
        status = WriteFile(dir + "/pids.max", std::to_string(limits.pids));
      }
    }
  }
  if (!status.ok()) {
    (void)set->Remove();
    return status;
  }
  return set;
}

CgroupSet::~CgroupSet() { (void)Remove(); }

int64_t CgroupSet::OomKills() const {
  if (memory_dir_.empty()) return 0;
  if (v2_) return ReadCounter(memory_dir_ + "/memory.events", "oom_kill");
  return ReadCounter(memory_dir_ + "/memory.oom_control", "oom_kill");
}

void CgroupSet::Kill() {
  if (!kill_dir_.empty() && WriteFile(kill_dir_ + "/cgroup.kill", "1").ok()) return;
  // No cgroup.kill: kill what is listed until nothing is left (forks race with the loop).
  for (int round = 0; round < 200; ++round) {
    bool any = false;
    for (const std::string& procs : procs_files_) {
      for (pid_t pid : ReadPids(procs)) {
        if (pid > 0 && kill(pid, SIGKILL) == 0) any = true;
      }
    }
    if (!any) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

absl::Status CgroupSet::Remove() {
  absl::Status result;
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    auto delay = std::chrono::milliseconds(1);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (rmdir(it->c_str()) != 0 && errno != ENOENT) {
      if (errno != EBUSY || std::chrono::steady_clock::now() > deadline) {
        result = absl::InternalError("cgroup: rmdir " + *it + ": " + ErrnoText(errno));
        break;
      }
      std::this_thread::sleep_for(delay);
      delay = std::min(delay * 2, std::chrono::milliseconds(100));
    }
  }
  dirs_.clear();
  procs_files_.clear();
  return result;
}

}  // namespace pai::runtime
