#include "auth/token_store.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/json_util.h"
#include "common/sha256.h"
#include "common/strings.h"

namespace pai::auth {
namespace {

constexpr std::string_view kPrefix = "pai_";
constexpr size_t kIdHexLen = 12;
constexpr size_t kSecretBytes = 32;

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::InternalError(pai::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::StatusOr<std::vector<TokenRecord>> ReadRecords(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::vector<TokenRecord>{};
  std::ostringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(ss.str(), ec);
  if (ec || !doc.is_object()) {
    return absl::DataLossError(pai::StrCat(path, ": not a token file (", ec.message(), ")"));
  }
  std::vector<TokenRecord> out;
  const auto* tokens = doc.as_object().if_contains("tokens");
  if (!tokens) return out;
  if (!tokens->is_array()) return absl::DataLossError(pai::StrCat(path, ": tokens is not a list"));
  for (const auto& v : tokens->as_array()) {
    const auto* o = v.if_object();
    if (!o) return absl::DataLossError(pai::StrCat(path, ": token entry is not an object"));
    TokenRecord r;
    auto str = [&](std::string_view k) -> std::string {
      const auto* f = o->if_contains(k);
      return f && f->is_string() ? std::string(f->as_string()) : std::string();
    };
    r.id = str("id");
    r.agent = str("agent");
    r.session = str("session");  // optional: absent in files written before sessions
    r.created = str("created");
    r.revoked = str("revoked");
    const std::string hex = str("sha256");
    const std::string raw = absl::HexStringToBytes(hex);
    if (r.id.empty() || r.agent.empty() || hex.size() != 64 || raw.size() != 32) {
      return absl::DataLossError(pai::StrCat(path, ": malformed token entry"));
    }
    std::memcpy(r.sha256.data(), raw.data(), 32);
    out.push_back(std::move(r));
  }
  return out;
}

absl::Status WriteRecords(const std::string& state_dir, const std::vector<TokenRecord>& records) {
  boost::json::array arr;
  for (const TokenRecord& r : records) {
    boost::json::object o;
    o["id"] = r.id;
    o["agent"] = r.agent;
    if (!r.session.empty()) o["session"] = r.session;
    o["sha256"] = HexEncode(r.sha256.data(), r.sha256.size());
    o["created"] = r.created;
    if (!r.revoked.empty()) o["revoked"] = r.revoked;
    arr.push_back(std::move(o));
  }
  boost::json::object doc;
  doc["tokens"] = std::move(arr);
  const std::string text = boost::json::serialize(doc) + "\n";
  const std::string path = TokenFilePath(state_dir);
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("open", tmp);
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return Errno("write", tmp);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return Errno("fsync", tmp);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename", tmp);
  int dfd = ::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

// FileLock: exclusive flock on "<state_dir>/tokens.lock" for read-modify-write of the file.
class FileLock {
 public:
  static absl::StatusOr<FileLock> Acquire(const std::string& state_dir) {
    std::error_code ec;
    std::filesystem::create_directories(state_dir, ec);
    if (ec) return absl::InternalError(pai::StrCat("create ", state_dir, ": ", ec.message()));
    const std::string path = state_dir + "/tokens.lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Errno("open", path);
    if (::flock(fd, LOCK_EX) != 0) {
      ::close(fd);
      return Errno("flock", path);
    }
    return FileLock(fd);
  }
  FileLock(FileLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
  }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

std::string NowRfc3339() { return FormatRfc3339Millis(absl::Now()); }

}  // namespace

std::string TokenFilePath(const std::string& state_dir) { return state_dir + "/tokens.json"; }

absl::StatusOr<std::shared_ptr<const TokenStore>> TokenStore::Load(const std::string& state_dir) {
  return LoadFile(TokenFilePath(state_dir));
}

absl::StatusOr<std::shared_ptr<const TokenStore>> TokenStore::LoadFile(const std::string& path) {
  auto records = ReadRecords(path);
  if (!records.ok()) return records.status();
  auto store = std::make_shared<TokenStore>();
  store->records_ = std::move(*records);
  for (size_t i = 0; i < store->records_.size(); ++i) {
    store->by_id_[store->records_[i].id] = i;
  }
  return std::shared_ptr<const TokenStore>(std::move(store));
}

absl::StatusOr<std::string> TokenStore::Authenticate(std::string_view presented) const {
  auto who = AuthenticateIdentity(presented);
  if (!who.ok()) return who.status();
  return std::move(who->agent);
}

absl::StatusOr<Identity> TokenStore::AuthenticateIdentity(std::string_view presented) const {
  const auto fail = [] { return absl::UnauthenticatedError("invalid agent token"); };
  if (presented.size() < kPrefix.size() + kIdHexLen + 2 || presented.substr(0, 4) != kPrefix ||
      presented[kPrefix.size() + kIdHexLen] != '_') {
    return fail();
  }
  const std::string id(presented.substr(kPrefix.size(), kIdHexLen));
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return fail();
  const TokenRecord& r = records_[it->second];
  const auto digest = Sha256(presented);
  if (CRYPTO_memcmp(digest.data(), r.sha256.data(), digest.size()) != 0) return fail();
  if (!r.revoked.empty()) return absl::UnauthenticatedError("agent token revoked");
  return Identity{r.agent, r.session, r.id};
}

absl::StatusOr<MintedToken> MintToken(const std::string& state_dir, const std::string& agent,
                                      const std::string& session_in) {
  std::string session = session_in;
  if (const size_t slash = agent.find('/');
      slash != std::string::npos && session.size() > slash + 1 &&
      session.compare(0, slash + 1, agent, 0, slash + 1) == 0) {
    session.erase(0, slash + 1);  // "ns/name" of the agent's own namespace
  }
  for (const char c : session) {
    if (c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(pai::StrCat(
          "session \"", session_in, "\" is not a Session name in the namespace of ", agent));
    }
  }
  auto lock = FileLock::Acquire(state_dir);
  if (!lock.ok()) return lock.status();
  auto records = ReadRecords(TokenFilePath(state_dir));
  if (!records.ok()) return records.status();

  uint8_t id_bytes[kIdHexLen / 2];
  uint8_t secret[kSecretBytes];
  if (RAND_bytes(id_bytes, sizeof(id_bytes)) != 1 || RAND_bytes(secret, sizeof(secret)) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  std::string secret_b64;
  absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(secret), sizeof(secret)), &secret_b64);
  MintedToken minted;
  minted.id = HexEncode(id_bytes, sizeof(id_bytes));
  minted.token = pai::StrCat(kPrefix, minted.id, "_", secret_b64);

  TokenRecord r;
  r.id = minted.id;
  r.agent = agent;
  r.session = std::move(session);
  r.sha256 = Sha256(minted.token);
  r.created = NowRfc3339();
  records->push_back(std::move(r));
  absl::Status s = WriteRecords(state_dir, *records);
  if (!s.ok()) return s;
  return minted;
}

absl::Status RevokeToken(const std::string& state_dir, const std::string& id) {
  auto lock = FileLock::Acquire(state_dir);
  if (!lock.ok()) return lock.status();
  auto records = ReadRecords(TokenFilePath(state_dir));
  if (!records.ok()) return records.status();
  bool found = false;
  for (TokenRecord& r : *records) {
    if (r.id == id) {
      found = true;
      if (r.revoked.empty()) r.revoked = NowRfc3339();
    }
  }
  if (!found) return absl::NotFoundError(pai::StrCat("no token with id ", id));
  return WriteRecords(state_dir, *records);
}

}  // namespace pai::auth
