#include "runtime/landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <utility>

namespace pai::runtime {
namespace {

// Syscall numbers (x86-64 and the generic table agree) and uapi constants up to ABI 7.
constexpr long kSysCreateRuleset = 444;
constexpr long kSysAddRule = 445;
constexpr long kSysRestrictSelf = 446;
constexpr uint32_t kCreateRulesetVersion = 1u << 0;
constexpr int kRulePathBeneath = 1;
constexpr int kRuleNetPort = 2;

constexpr uint64_t kFsExecute = 1ull << 0;
constexpr uint64_t kFsWriteFile = 1ull << 1;
constexpr uint64_t kFsReadFile = 1ull << 2;
constexpr uint64_t kFsRemoveDir = 1ull << 4;
constexpr uint64_t kFsRemoveFile = 1ull << 5;
constexpr uint64_t kFsMakeChar = 1ull << 6;
constexpr uint64_t kFsMakeDir = 1ull << 7;
constexpr uint64_t kFsMakeReg = 1ull << 8;
constexpr uint64_t kFsMakeSock = 1ull << 9;
constexpr uint64_t kFsMakeFifo = 1ull << 10;
constexpr uint64_t kFsMakeBlock = 1ull << 11;
constexpr uint64_t kFsMakeSym = 1ull << 12;
constexpr uint64_t kFsRefer = 1ull << 13;           // ABI 2
constexpr uint64_t kFsTruncate = 1ull << 14;        // ABI 3
constexpr uint64_t kNetBindTcp = 1ull << 0;         // ABI 4
constexpr uint64_t kNetConnectTcp = 1ull << 1;      // ABI 4
constexpr uint64_t kScopeAbstractUnix = 1ull << 0;  // ABI 6
constexpr uint64_t kScopeSignal = 1ull << 1;        // ABI 6

// Rights that make sense on a non-directory (others make add_rule fail with EINVAL).
constexpr uint64_t kFileRights = kFsExecute | kFsWriteFile | kFsReadFile | kFsTruncate;

struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};

struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
};

struct NetPortAttr {
  uint64_t allowed_access;
  uint64_t port;
};

uint64_t HandledFs(int abi) {
  uint64_t fs = kFsWriteFile | kFsRemoveDir | kFsRemoveFile | kFsMakeChar | kFsMakeDir |
                kFsMakeReg | kFsMakeSock | kFsMakeFifo | kFsMakeBlock | kFsMakeSym;
  if (abi >= 2) fs |= kFsRefer;
  if (abi >= 3) fs |= kFsTruncate;
  return fs;
}

// Allows every handled right beneath `path` (file rights only when it is not a directory).
int AllowBeneath(int ruleset, const char* path, uint64_t handled) {
  int fd = open(path, O_PATH | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : -errno;
  struct stat st;
  uint64_t allowed = handled;
  if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) allowed &= kFileRights;
  PathBeneathAttr attr{allowed, fd};
  long r = syscall(kSysAddRule, ruleset, kRulePathBeneath, &attr, 0);
  int err = r < 0 ? -errno : 0;
  close(fd);
  return err;
}

}  // namespace

int LandlockAbi() {
  long abi = syscall(kSysCreateRuleset, nullptr, 0, kCreateRulesetVersion);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

LandlockPlan::LandlockPlan(LandlockRules rules, int abi) : rules_(std::move(rules)), abi_(abi) {}

int LandlockPlan::Apply() const noexcept {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
  if (abi_ <= 0) return 0;
  RulesetAttr attr{HandledFs(abi_), 0, 0};
  if (abi_ >= 4) attr.handled_access_net = kNetBindTcp | kNetConnectTcp;
  if (abi_ >= 6) attr.scoped = kScopeAbstractUnix | kScopeSignal;
  // Older kernels accept only the fields they know.
  size_t size = abi_ >= 6 ? sizeof(RulesetAttr) : abi_ >= 4 ? 16 : 8;
  long ruleset = syscall(kSysCreateRuleset, &attr, size, 0);
  if (ruleset < 0) return -errno;
  int fd = static_cast<int>(ruleset);
  int err = 0;
  for (const char* always : {"/tmp", "/dev"}) {
    if (err == 0) err = AllowBeneath(fd, always, attr.handled_access_fs);
  }
  for (const std::string& path : rules_.writable_paths) {
    if (err == 0) err = AllowBeneath(fd, path.c_str(), attr.handled_access_fs);
  }
  if (abi_ >= 4) {
    for (int port : rules_.connect_tcp_ports) {
      NetPortAttr net{kNetConnectTcp, static_cast<uint64_t>(port)};
      if (err == 0 && syscall(kSysAddRule, fd, kRuleNetPort, &net, 0) < 0) err = -errno;
    }
  }
  if (err == 0 && syscall(kSysRestrictSelf, fd, 0) < 0) err = -errno;
  close(fd);
  return err;
}

}  // namespace pai::runtime
