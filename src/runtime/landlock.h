// Landlock for sandbox children (docs/sessions.md: applied by pai-sandbox-init to the workload
// and to every exec/copy child, never to the init itself).
//
// Debian bookworm has no Landlock library and its headers stop at ABI 2, so the syscalls
// (444/445/446) and the newer constants are spelled out in landlock.cc.
//
// Policy: writes (write_file, remove_*, make_*, refer, truncate) only beneath the writable
// paths; reading and executing everywhere; with ABI >= 4, no TCP bind and TCP connect only to
// the listed ports; with ABI >= 6, signals and abstract unix sockets scoped to the domain.
//
// Thread safety: LandlockAbi() is thread-safe. A LandlockPlan is built before fork() and
// applied in the child: Apply() only makes syscalls (no allocation, no locks), so it is safe in
// the child of a multithreaded process.
#pragma once

#include <string>
#include <vector>

namespace pai::runtime {

// LandlockAbi(): the kernel's Landlock ABI version; 0 when Landlock is unavailable.
int LandlockAbi();

struct LandlockRules {
  std::vector<std::string> writable_paths;  // absolute; missing paths are skipped
  std::vector<int> connect_tcp_ports;
};

class LandlockPlan {
 public:
  // `abi`: LandlockAbi() (0 makes Apply() set only no_new_privs).
  LandlockPlan(LandlockRules rules, int abi);

  // Apply(): sets PR_SET_NO_NEW_PRIVS and restricts the calling process (inherited by its
  // children and kept across exec). Returns 0, or -errno of the failed step.
  int Apply() const noexcept;

  int abi() const { return abi_; }

 private:
  LandlockRules rules_;
  int abi_;
};

}  // namespace pai::runtime
