// SHA256_Init/Update/Final (Hmac below) are deprecated in OpenSSL 3 and still its implementation.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "audit/chain.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "audit/canonical.h"
#include "common/json_util.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/strings.h"

namespace pai::audit {
namespace {

constexpr char kChainFile[] = "chain.jsonl";
constexpr char kCheckpointFile[] = "checkpoints.jsonl";

std::string KeyId(const std::string& key) {
  const auto md = pai::Sha256(key);
  return HexEncode(md.data(), 4);
}

}  // namespace

// Hmac: HMAC-SHA256 (RFC 2104) under one key, keyed once: the SHA-256 states after the key's
// inner and outer pads are computed at construction, and each MAC starts from copies of them.
// OpenSSL 3's EVP_MAC re-initialisation copies its digest contexts through the provider (an
// allocation and a free per record, ~20 % of a record's MAC) and its one-shot HMAC() fetches
// the digest and keys it again on every call. The low-level SHA256_* functions are deprecated
// in OpenSSL 3 but are its same implementation (SHA-NI where the CPU has it); the verifier
// checks every MAC with HMAC() (HmacHex()), so the two cannot drift apart unnoticed. Not
// thread-safe: the chain uses it under its lock.
class Hmac {
 public:
  explicit Hmac(const std::string& key) {
    constexpr size_t kBlock = SHA256_CBLOCK;  // 64
    std::array<unsigned char, kBlock> block{};
    if (key.size() > kBlock) {
      const auto md = pai::Sha256(key);
      std::copy(md.begin(), md.end(), block.begin());
    } else {
      std::copy(key.begin(), key.end(), block.begin());
    }
    std::array<unsigned char, kBlock> pad;
    for (size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x36;
    ok_ = SHA256_Init(&inner_) == 1 && SHA256_Update(&inner_, pad.data(), kBlock) == 1;
    for (size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x5c;
    ok_ = ok_ && SHA256_Init(&outer_) == 1 && SHA256_Update(&outer_, pad.data(), kBlock) == 1;
    OPENSSL_cleanse(block.data(), block.size());
    OPENSSL_cleanse(pad.data(), pad.size());
  }
  ~Hmac() {
    OPENSSL_cleanse(&inner_, sizeof(inner_));
    OPENSSL_cleanse(&outer_, sizeof(outer_));
  }
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;

  // AppendHex() appends HMAC-SHA256(key, data) in lowercase hex to `out`; false (and nothing
  // appended) if OpenSSL failed.
  bool AppendHex(std::string_view data, std::string& out) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx = inner_;
    bool ok =
        ok_ && SHA256_Update(&ctx, data.data(), data.size()) == 1 && SHA256_Final(md, &ctx) == 1;
    ctx = outer_;
    ok = ok && SHA256_Update(&ctx, md, sizeof(md)) == 1 && SHA256_Final(md, &ctx) == 1;
    OPENSSL_cleanse(&ctx, sizeof(ctx));
    if (!ok) return false;
    pai::AppendHex(out, md, sizeof(md));
    return true;
  }

 private:
  SHA256_CTX inner_{};
  SHA256_CTX outer_{};
  bool ok_ = false;
};

namespace {

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string CanonicalCheckpoint(uint64_t seq, const std::string& head_mac, const std::string& time,
                                const std::string& key_id) {
  return pai::StrCat("{\"seq\":", seq, ",\"head_mac\":", Quoted(head_mac),
                     ",\"time\":", Quoted(time), ",\"key_id\":", Quoted(key_id), "}");
}

// AppendMac() turns a canonical encoding in `line` into its stored line: "mac" added as the
// object's last member, then a newline.
void AppendMac(std::string& line, std::string_view mac) {
  line.pop_back();  // the closing brace
  line += ",\"mac\":\"";
  line += mac;
  line += "\"}\n";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void SyncDir(const std::string& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace

std::string HmacHex(const std::string& key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return HexEncode(md, len);
}

namespace {

// AppendCanonicalMiddle(): the members of a record's canonical encoding from `type` to `key_id`
// (they do not depend on its place in the chain). AppendCanonicalHead(): its first members, up
// to `source_seq`. AppendCanonicalTail(): `prev_mac` and the closing brace. The three in a row
// are the whole encoding; appending to one reused buffer costs no allocation per record.
// `canonical_detail`, when not empty, is the detail already encoded (Event::canonical_detail)
// and `detail` is not read.
void AppendCanonicalMiddle(std::string& out, std::string_view type, std::string_view ns,
                           std::string_view agent, const boost::json::object& detail,
                           std::string_view canonical_detail, std::string_view key_id) {
  out += ",\"type\":";
  AppendJsonString(out, type);
  out += ",\"namespace\":";
  AppendJsonString(out, ns);
  out += ",\"agent\":";
  AppendJsonString(out, agent);
  out += ",\"detail\":";
  if (!canonical_detail.empty()) {
    out += canonical_detail;
  } else {
    AppendCanonical(out, detail);
  }
  out += ",\"key_id\":";
  AppendJsonString(out, key_id);
}

void AppendCanonicalHead(std::string& out, uint64_t seq, std::string_view time,
                         uint64_t source_seq) {
  out += "{\"seq\":";
  absl::StrAppend(&out, seq);
  out += ",\"time\":";
  AppendJsonString(out, time);
  out += ",\"source\":\"gateway\",\"source_seq\":";
  absl::StrAppend(&out, source_seq);
}

void AppendCanonicalTail(std::string& out, std::string_view prev_mac) {
  out += ",\"prev_mac\":";
  AppendJsonString(out, prev_mac);
  out += '}';
}

}  // namespace

std::string CanonicalRecord(uint64_t seq, const std::string& time, uint64_t source_seq,
                            const std::string& type, const std::string& ns,
                            const std::string& agent, const boost::json::object& detail,
                            const std::string& key_id, const std::string& prev_mac) {
  std::string out;
  AppendCanonicalHead(out, seq, time, source_seq);
  AppendCanonicalMiddle(out, type, ns, agent, detail, {}, key_id);
  AppendCanonicalTail(out, prev_mac);
  return out;
}

absl::StatusOr<Key> LoadKeyFile(const std::string& path) {
  std::string text = ReadFile(path);
  std::string hex(SV(absl::StripAsciiWhitespace(text)));
  hex = hex.substr(0, hex.find('\n'));
  const std::string bytes = absl::HexStringToBytes(hex);
  if (hex.size() < 64 || bytes.size() * 2 != hex.size()) {
    return absl::InvalidArgumentError(
        pai::StrCat(path, ": expected a hex key of at least 64 characters (256 bits)"));
  }
  return Key{KeyId(bytes), bytes};
}

absl::StatusOr<Key> LoadOrCreateKey(const std::string& dir) {
  const std::string path = dir + "/key";
  if (std::filesystem::exists(path)) return LoadKeyFile(path);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof(raw)) != 1) return absl::InternalError("RAND_bytes failed");
  const std::string hex = HexEncode(raw, sizeof(raw)) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(pai::StrCat(path, ": ", std::strerror(errno)));
  const bool ok = WriteAll(fd, hex) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return absl::InternalError(pai::StrCat(path, ": write failed"));
  SyncDir(dir);
  return LoadKeyFile(path);
}

absl::StatusOr<std::unique_ptr<Chain>> Chain::Open(ChainOptions options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return absl::InternalError(pai::StrCat(options.dir, ": ", ec.message()));
  std::unique_ptr<Chain> chain(new Chain(std::move(options)));
  chain->hmac_ = std::make_unique<Hmac>(chain->options_.key.bytes);
  const std::string path = chain->options_.dir + "/" + kChainFile;
  chain->fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (chain->fd_ < 0) return absl::InternalError(pai::StrCat(path, ": ", std::strerror(errno)));

  // Resume: find the last complete line; drop an incomplete one (a crash mid-write: it was
  // never wholly written, so never acknowledged).
  const std::string text = ReadFile(path);
  size_t end = text.size();
  if (end > 0 && text.back() != '\n') {
    const size_t last_nl = text.rfind('\n');
    end = last_nl == std::string::npos ? 0 : last_nl + 1;
    log::Warn("audit chain: removing an incomplete final record",
              {{"path", path}, {"bytes", static_cast<int64_t>(text.size() - end)}});
    if (::ftruncate(chain->fd_, static_cast<off_t>(end)) != 0 || ::fsync(chain->fd_) != 0) {
      return absl::InternalError(pai::StrCat(path, ": cannot truncate: ", std::strerror(errno)));
    }
  }
  if (end > 0) {
    const size_t start = text.rfind('\n', end - 2);
    const std::string_view last =
        std::string_view(text).substr(start == std::string::npos ? 0 : start + 1,
                                      end - (start == std::string::npos ? 0 : start + 1) - 1);
    boost::system::error_code jec;
    auto v = boost::json::parse(last, jec);
    const auto* o = jec ? nullptr : v.if_object();
    if (!o || !o->contains("seq") || !o->contains("mac")) {
      return absl::DataLossError(pai::StrCat(path, ": the last record cannot be parsed"));
    }
    chain->head_seq_ = o->at("seq").to_number<uint64_t>();
    chain->head_mac_ = std::string(o->at("mac").as_string());
  }
  chain->durable_seq_ = chain->head_seq_;
  chain->written_seq_ = chain->head_seq_;
  chain->written_mac_ = chain->head_mac_;
  const std::string cp_path = chain->options_.dir + "/" + kCheckpointFile;
  chain->checkpoint_fd_ = ::open(cp_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (chain->checkpoint_fd_ < 0) {
    return absl::InternalError(pai::StrCat(cp_path, ": ", std::strerror(errno)));
  }
  SyncDir(chain->options_.dir);
  // Checkpoint the recovered head: after a crash, the newest records may be covered by no
  // checkpoint (one is written at most once a second), and deleting them would go unnoticed.
  if (chain->head_seq_ > 0) {
    if (::fsync(chain->fd_) != 0) {
      return absl::InternalError(pai::StrCat(path, ": fsync: ", std::strerror(errno)));
    }
    chain->synced_seq_ = chain->head_seq_;
    if (!chain->WriteCheckpoint(chain->head_seq_, chain->head_mac_)) {
      return absl::InternalError(
          pai::StrCat(cp_path, ": cannot checkpoint the recovered head: ", std::strerror(errno)));
    }
  }
  chain->last_checkpoint_ = chain->options_.now();
  chain->syncer_ = std::thread([c = chain.get()] { c->SyncLoop(); });
  return chain;
}

Chain::Chain(ChainOptions options) : options_(std::move(options)) {}

Chain::~Chain() {
  Close();
  if (fd_ >= 0) ::close(fd_);
  if (checkpoint_fd_ >= 0) ::close(checkpoint_fd_);
}

void Chain::Close() {
  int error = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Buffered records are written (never acknowledged, but part of the chain).
    if (!buffer_.empty() && healthy_ && !WriteBufferLocked()) error = write_error_;
    closed_ = true;  // no record is appended after this: the syncer's last round covers all
  }
  if (error != 0) Fail(pai::StrCat("write: ", std::strerror(error)));
  AnswerWritten();
  {
    std::lock_guard<std::mutex> lock(sync_wait_mu_);
    sync_stop_ = true;
  }
  sync_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
}

void Chain::Emit(Event event) { EmitSeq(std::move(event)); }

uint64_t Chain::EmitSeq(Event event) { return Append(event, /*write=*/true); }

uint64_t Chain::EmitBuffered(Event event) { return Append(event, /*write=*/false); }

bool Chain::Flush() {
  bool wrote = false;
  if (!WriteBuffered(&wrote)) return false;
  if (wrote) WakeSyncer();
  return true;
}

bool Chain::FlushAndSync(uint64_t seq) {
  bool wrote = false;
  if (!WriteBuffered(&wrote)) return false;
  if (seq != 0 && seq <= durable_seq_.load()) {
    // Already acknowledged (kGroup, or another sync covered it in kStrict): what this call
    // wrote of other callers' records is the syncer's, as after Flush().
    if (wrote) WakeSyncer();
    return true;
  }
  uint64_t synced = 0;
  std::string mac;
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    if (!SyncNow(&synced, &mac)) return false;
  }
  // kGroup acknowledged it when written; kStrict by the sync just made (or an earlier one).
  return seq != 0 && seq <= durable_seq_.load();
}

bool Chain::WriteBuffered(bool* wrote) {
  int error = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!healthy_) {
      // Stopped (a failed write or sync): what is buffered is never written, so never
      // acknowledged.
      buffer_.clear();
      buffered_ = 0;
      return false;
    }
    if (buffer_.empty()) return true;
    if (!WriteBufferLocked()) error = write_error_;
  }
  if (error != 0) {
    Fail(pai::StrCat("write: ", std::strerror(error)));
    return false;
  }
  *wrote = true;
  AnswerWritten();
  return true;
}

void Chain::AnswerWritten() {
  // Group: a record is acknowledged once written; WhenDurable() registered waiters for the
  // buffered ones. durable_seq_ was stored before this lock is taken, and WhenDurable() checks
  // it under the same lock before it registers: a waiter is either answered here or never
  // registered.
  if (options_.sync != Sync::kGroup) return;
  std::vector<std::function<void(bool)>> ready;
  {
    std::lock_guard<std::mutex> lock(waiters_mu_);
    if (waiters_.empty()) return;
    auto end = waiters_.upper_bound(durable_seq_.load());
    for (auto it = waiters_.begin(); it != end; ++it) ready.push_back(std::move(it->second));
    waiters_.erase(waiters_.begin(), end);
  }
  for (auto& fn : ready) fn(true);
}

bool Chain::WriteBufferLocked() {
  if (!WriteAll(fd_, buffer_)) {
    write_error_ = errno;
    // Stopped here, under the lock: no record may link to the ones this write lost (Fail()
    // reports it and answers the waiters).
    healthy_ = false;
    buffer_.clear();
    buffered_ = 0;
    return false;
  }
  buffer_.clear();
  written_seq_ = head_seq_;
  written_mac_ = head_mac_;
  written_ += buffered_;
  buffered_ = 0;
  if (options_.sync == Sync::kGroup) durable_seq_ = head_seq_;
  return true;
}

void Chain::WakeSyncer() {
  // Wake the syncer only if it waits for records (group: it then waits its interval, during
  // which records just accumulate; strict: while it syncs, records accumulate for its next
  // round). written_seq_ is stored before syncer_idle_ is read, and the syncer stores
  // syncer_idle_ before it reads written_seq_ (both sequentially consistent): one of the two
  // sees the other, so no wake-up is lost.
  if (syncer_idle_.load()) {
    { std::lock_guard<std::mutex> lock(sync_wait_mu_); }
    sync_cv_.notify_one();
  }
}

uint64_t Chain::Append(const Event& event, bool write) {
  if (!healthy_) return 0;
  // What does not depend on the position in the chain is encoded outside the lock, into a
  // buffer this thread reuses (as the lock's holder reuses time_ and mac_): a record costs no
  // allocation here once the buffers have grown.
  thread_local std::string middle;
  middle.clear();
  AppendCanonicalMiddle(middle, event.type, event.ns, event.agent, event.detail,
                        event.canonical_detail, options_.key.id);
  uint64_t seq = 0;
  int error = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || !healthy_) return 0;
    seq = head_seq_ + 1;
    // The time is taken in the lock: record order is time order.
    time_.clear();
    AppendRfc3339Millis(time_, options_.now());
    // The record is encoded at the end of the write buffer, after the records buffered
    // before it (chain order is file order). An exception (allocation) while it is encoded
    // takes its partial bytes back out.
    const size_t begin = buffer_.size();
    struct Rollback {
      std::string& buffer;
      size_t size;
      bool done = false;
      ~Rollback() {
        if (!done) buffer.resize(size);
      }
    } rollback{buffer_, begin};
    AppendCanonicalHead(buffer_, seq, time_, seq);
    buffer_ += middle;
    AppendCanonicalTail(buffer_, head_mac_);
    mac_.clear();
    const std::string_view line(buffer_.data() + begin, buffer_.size() - begin);
    if (!hmac_->AppendHex(line, mac_)) mac_ = HmacHex(options_.key.bytes, line);
    AppendMac(buffer_, mac_);
    rollback.done = true;
    head_seq_ = seq;
    head_mac_.swap(mac_);
    ++buffered_;
    if (write && !WriteBufferLocked()) error = write_error_;
  }
  if (error != 0) {
    Fail(pai::StrCat("write: ", std::strerror(error)));
    return 0;
  }
  if (write) {
    AnswerWritten();
    WakeSyncer();
  }
  return seq;
}

void Chain::WhenDurable(uint64_t seq, std::function<void(bool)> done) {
  if (seq != 0 && seq <= durable_seq_.load()) return done(true);
  if (seq == 0 || !healthy_) return done(false);
  std::unique_lock<std::mutex> lock(waiters_mu_);
  // durable_seq_ moves under waiters_mu_ in strict mode: checked again here, it cannot pass
  // `seq` between this check and the wait being registered.
  if (seq <= durable_seq_.load()) {
    lock.unlock();
    return done(true);
  }
  if (!healthy_) {
    lock.unlock();
    return done(false);
  }
  waiters_.emplace(seq, std::move(done));
}

void Chain::Fail(const std::string& what) {
  if (failed_.exchange(true)) return;  // an emitter and the syncer may both fail: report once
  healthy_ = false;
  log::Error("audit chain stopped", {{"error", what}, {"dir", options_.dir}});
  std::multimap<uint64_t, std::function<void(bool)>> waiters;
  {
    std::lock_guard<std::mutex> lock(waiters_mu_);
    waiters.swap(waiters_);
  }
  for (auto& [seq, fn] : waiters) fn(false);
}

bool Chain::SyncNow(uint64_t* seq, std::string* mac) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    *seq = written_seq_.load();  // buffered records are not in the file yet
    *mac = written_mac_;
  }
  // After a failure nothing more counts as synced (a second fdatasync may return 0 once the
  // error was reported, although the data never reached the disk).
  if (!healthy_) return false;
  if (*seq > synced_seq_.load()) {
    if (::fdatasync(fd_) != 0) {
      // A failed sync is fatal: the page cache state is unknown.
      Fail(pai::StrCat("fdatasync: ", std::strerror(errno)));
      return false;
    }
    synced_seq_ = *seq;
  }
  if (options_.sync == Sync::kStrict && *seq > durable_seq_.load()) {
    std::vector<std::function<void(bool)>> ready;
    {
      std::lock_guard<std::mutex> lock(waiters_mu_);
      durable_seq_ = *seq;
      auto end = waiters_.upper_bound(*seq);
      for (auto it = waiters_.begin(); it != end; ++it) ready.push_back(std::move(it->second));
      waiters_.erase(waiters_.begin(), end);
    }
    for (auto& fn : ready) fn(true);
  }
  return true;
}

void Chain::SyncLoop() {
  const auto interval = absl::ToChronoMicroseconds(options_.sync_interval);
  const auto checkpoint_every = absl::ToChronoMicroseconds(options_.checkpoint_interval);
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock<std::mutex> lock(sync_wait_mu_);
      syncer_idle_ = true;
      sync_cv_.wait_for(lock, checkpoint_every,
                        [&] { return sync_stop_ || written_seq_.load() > synced_seq_.load(); });
      syncer_idle_ = false;
      // Group: records written in the next `interval` share this sync; it starts at most
      // `interval` after the first of them was written (later if the last sync still ran).
      if (options_.sync == Sync::kGroup && !sync_stop_ &&
          written_seq_.load() > synced_seq_.load()) {
        sync_cv_.wait_for(lock, interval, [&] { return sync_stop_; });
      }
      stopping = sync_stop_;
    }
    uint64_t seq = 0;
    std::string mac;
    {
      std::lock_guard<std::mutex> lock(sync_mu_);
      if (!SyncNow(&seq, &mac)) return;
    }
    // A checkpoint at least once per interval while records are written, and at every clean
    // stop (Close() stops appends before it stops the syncer: this round covers every record).
    const bool due = options_.now() - last_checkpoint_ >= options_.checkpoint_interval;
    if ((seq > checkpointed_seq_ && due) || (stopping && seq > 0)) {
      if (!WriteCheckpoint(seq, mac)) return;
    }
    if (stopping) return;
  }
}

bool Chain::WriteCheckpoint(uint64_t seq, const std::string& mac) {
  // A checkpoint covers only synced records (the caller synced `seq`): after an OS crash it
  // never names lost ones; after a failure none is written.
  if (!healthy_ || seq > synced_seq_.load()) return false;
  std::string line =
      CanonicalCheckpoint(seq, mac, FormatRfc3339Millis(options_.now()), options_.key.id);
  AppendMac(line, HmacHex(options_.key.bytes, line));
  if (!WriteAll(checkpoint_fd_, line) || ::fsync(checkpoint_fd_) != 0) {
    Fail(pai::StrCat("checkpoint write: ", std::strerror(errno)));
    return false;
  }
  checkpointed_seq_ = seq;
  last_checkpoint_ = options_.now();
  return true;
}

namespace {

struct ParsedRecord {
  uint64_t seq = 0;
  std::string mac;
};

}  // namespace

VerifyResult Verify(const std::string& dir, const std::vector<Key>& keys) {
  VerifyResult r;
  const std::string text = ReadFile(dir + "/" + kChainFile);
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      r.torn_tail = true;  // an incomplete final write (crash): not a record
      break;
    }
    lines.push_back(std::string_view(text).substr(pos, nl - pos));
    pos = nl + 1;
  }
  auto fail = [&](uint64_t seq, std::string reason) {
    r.ok = false;
    r.first_bad_seq = seq;
    r.reason = std::move(reason);
    return r;
  };
  std::string prev_mac;
  uint64_t expected = 1;
  std::map<uint64_t, std::string> macs;  // for checkpoint checks
  for (std::string_view line : lines) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    const auto* o = ec ? nullptr : v.if_object();
    if (!o) return fail(expected, "record is not a JSON object");
    auto str = [&](const char* k) -> const boost::json::string* {
      const auto* f = o->if_contains(k);
      return f ? f->if_string() : nullptr;
    };
    const auto* seq_v = o->if_contains("seq");
    const auto* src_seq_v = o->if_contains("source_seq");
    const auto* detail = o->if_contains("detail");
    const char* missing = nullptr;
    for (const char* k :
         {"time", "source", "type", "namespace", "agent", "key_id", "prev_mac", "mac"}) {
      if (!str(k)) missing = k;
    }
    if (!seq_v || !seq_v->is_number()) missing = "seq";
    if (!src_seq_v || !src_seq_v->is_number()) missing = "source_seq";
    if (!detail || !detail->is_object()) missing = "detail";
    if (missing) return fail(expected, pai::StrCat("record lacks a valid \"", missing, "\""));
    if (o->size() != 11) return fail(expected, "record has unexpected members");
    const uint64_t seq = seq_v->to_number<uint64_t>();
    if (seq != expected) {
      return fail(expected, pai::StrCat("expected seq ", expected, ", found ", seq,
                                        ": a record was deleted, inserted or reordered"));
    }
    if (*str("prev_mac") != prev_mac) {
      return fail(seq, "prev_mac does not match the previous record's MAC");
    }
    const std::string key_id(*str("key_id"));
    const auto key =
        std::find_if(keys.begin(), keys.end(), [&](const Key& k) { return k.id == key_id; });
    if (key == keys.end()) return fail(seq, pai::StrCat("unknown key id ", key_id));
    const std::string canonical =
        CanonicalRecord(seq, std::string(*str("time")), src_seq_v->to_number<uint64_t>(),
                        std::string(*str("type")), std::string(*str("namespace")),
                        std::string(*str("agent")), detail->as_object(), key_id, prev_mac);
    const std::string mac = HmacHex(key->bytes, canonical);
    const boost::json::string& stored = *str("mac");
    if (*str("source") != "gateway" || mac.size() != stored.size() ||
        CRYPTO_memcmp(mac.data(), stored.data(), mac.size()) != 0) {
      return fail(seq, "MAC mismatch: the record was altered (or signed with another key)");
    }
    prev_mac = mac;
    macs[seq] = mac;
    ++expected;
    ++r.records;
  }
  // Truncation: the head must reach the newest valid checkpoint.
  const std::string cps = ReadFile(dir + "/" + kCheckpointFile);
  std::istringstream in(cps);
  std::string cp_line;
  uint64_t best_seq = 0;
  std::string best_mac;
  while (std::getline(in, cp_line)) {
    boost::system::error_code ec;
    auto v = boost::json::parse(cp_line, ec);
    const auto* o = ec ? nullptr : v.if_object();
    if (!o || !o->contains("seq") || !o->contains("head_mac") || !o->contains("time") ||
        !o->contains("key_id") || !o->contains("mac")) {
      continue;  // a torn checkpoint line
    }
    const std::string key_id(o->at("key_id").as_string());
    const auto key =
        std::find_if(keys.begin(), keys.end(), [&](const Key& k) { return k.id == key_id; });
    const uint64_t seq = o->at("seq").to_number<uint64_t>();
    const std::string canonical =
        CanonicalCheckpoint(seq, std::string(o->at("head_mac").as_string()),
                            std::string(o->at("time").as_string()), key_id);
    if (key == keys.end() || HmacHex(key->bytes, canonical) != o->at("mac").as_string()) {
      return fail(seq, "a checkpoint has an invalid MAC");
    }
    if (seq >= best_seq) {
      best_seq = seq;
      best_mac = std::string(o->at("head_mac").as_string());
    }
  }
  r.checkpoint_seq = best_seq;
  if (best_seq > 0) {
    auto it = macs.find(best_seq);
    if (it == macs.end()) {
      return fail(expected, pai::StrCat("the chain ends at seq ", expected - 1,
                                        " but a checkpoint covers seq ", best_seq,
                                        ": records were removed from the end"));
    }
    if (it->second != best_mac) {
      return fail(best_seq, "the record at the checkpoint's seq does not match its head MAC");
    }
  }
  r.ok = true;
  return r;
}

std::string VerifyResultJson(const VerifyResult& r) {
  boost::json::object o;
  o["ok"] = r.ok;
  o["records"] = r.records;
  o["first_bad_seq"] = r.first_bad_seq ? boost::json::value(r.first_bad_seq) : nullptr;
  o["reason"] = r.reason.empty() ? boost::json::value(nullptr) : boost::json::value(r.reason);
  o["checkpoint_seq"] = r.checkpoint_seq;
  o["torn_tail"] = r.torn_tail;
  return boost::json::serialize(o);
}

absl::StatusOr<std::vector<boost::json::object>> ReadRecords(const std::string& dir,
                                                             const Query& q) {
  const std::string text = ReadFile(dir + "/" + kChainFile);
  std::vector<boost::json::object> out;
  std::istringstream in(text);
  std::string line;
  std::vector<std::string> types;
  for (const auto& t : q.types) types.push_back(absl::AsciiStrToLower(AV(t)));
  while (std::getline(in, line)) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    boost::json::object& o = v.as_object();
    const auto* ns = o.if_contains("namespace");
    const auto* agent = o.if_contains("agent");
    const auto* type = o.if_contains("type");
    const auto* time = o.if_contains("time");
    if (!ns || !agent || !type || !time || !type->is_string() || !time->is_string()) continue;
    if (!q.agent.empty()) {
      const std::string full = pai::StrCat(ns->as_string(), "/", agent->as_string());
      if (q.agent != full && q.agent != std::string_view(agent->as_string())) continue;
    }
    if (!types.empty()) {
      const std::string t = absl::AsciiStrToLower(AV(std::string_view(type->as_string())));
      if (std::none_of(types.begin(), types.end(), [&](const std::string& want) {
            return t.find(want) != std::string::npos;
          })) {
        continue;
      }
    }
    if (q.since != absl::InfinitePast()) {
      absl::Time t;
      std::string err;
      if (!absl::ParseTime(absl::RFC3339_full, std::string(time->as_string()), &t, &err) ||
          t < q.since) {
        continue;
      }
    }
    out.push_back(std::move(o));
  }
  if (out.size() > q.limit) out.erase(out.begin(), out.end() - static_cast<ptrdiff_t>(q.limit));
  return out;
}

}  // namespace pai::audit
