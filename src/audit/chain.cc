#include "audit/chain.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "common/json_util.h"
#include "common/log.h"
#include "common/strings.h"

namespace pai::audit {
namespace {

constexpr char kChainFile[] = "chain.jsonl";
constexpr char kCheckpointFile[] = "checkpoints.jsonl";

std::string KeyId(const std::string& key) {
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest(key.data(), key.size(), md, &len, EVP_sha256(), nullptr);
  return HexEncode(md, 4);
}

// AppendCanonical() serialises `v` with object members sorted by key, no whitespace.
void AppendCanonical(std::string& out, const boost::json::value& v) {
  if (const auto* o = v.if_object()) {
    std::vector<std::pair<std::string_view, const boost::json::value*>> members;
    members.reserve(o->size());
    for (const auto& kv : *o) members.emplace_back(kv.key(), &kv.value());
    std::sort(members.begin(), members.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    out += '{';
    for (size_t i = 0; i < members.size(); ++i) {
      if (i) out += ',';
      out += boost::json::serialize(boost::json::string(members[i].first));
      out += ':';
      AppendCanonical(out, *members[i].second);
    }
    out += '}';
  } else if (const auto* a = v.if_array()) {
    out += '[';
    for (size_t i = 0; i < a->size(); ++i) {
      if (i) out += ',';
      AppendCanonical(out, (*a)[i]);
    }
    out += ']';
  } else if (v.is_double()) {
    // 15 significant digits: Boost.JSON 1.81 may parse a double one ULP off, and printing at
    // 15 digits is idempotent across such a round trip, so the verifier rebuilds the same text.
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.15g", v.as_double());
    out += buf;
  } else {
    out += boost::json::serialize(v);
  }
}

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

std::string WithMac(const std::string& canonical, const std::string& mac) {
  return pai::StrCat(std::string_view(canonical).substr(0, canonical.size() - 1), ",\"mac\":\"",
                     mac, "\"}\n");
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

std::string CanonicalRecord(uint64_t seq, const std::string& time, uint64_t source_seq,
                            const std::string& type, const std::string& ns,
                            const std::string& agent, const boost::json::object& detail,
                            const std::string& key_id, const std::string& prev_mac) {
  std::string out =
      pai::StrCat("{\"seq\":", seq, ",\"time\":", Quoted(time),
                  ",\"source\":\"gateway\",\"source_seq\":", source_seq, ",\"type\":", Quoted(type),
                  ",\"namespace\":", Quoted(ns), ",\"agent\":", Quoted(agent), ",\"detail\":");
  AppendCanonical(out, detail);
  pai::StrAppend(&out, ",\"key_id\":", Quoted(key_id), ",\"prev_mac\":", Quoted(prev_mac), "}");
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
  chain->next_seq_ = chain->head_seq_ + 1;
  chain->durable_seq_ = chain->head_seq_;
  chain->written_seq_ = chain->head_seq_;
  const std::string cp_path = chain->options_.dir + "/" + kCheckpointFile;
  chain->checkpoint_fd_ = ::open(cp_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (chain->checkpoint_fd_ < 0) {
    return absl::InternalError(pai::StrCat(cp_path, ": ", std::strerror(errno)));
  }
  SyncDir(chain->options_.dir);
  // Checkpoint the recovered head: after a crash, the newest records may be covered by no
  // checkpoint (one is written at most once a second), and deleting them would go unnoticed.
  if (chain->head_seq_ > 0) {
    if (::fsync(chain->fd_) != 0 || !chain->WriteCheckpoint()) {
      return absl::InternalError(
          pai::StrCat(cp_path, ": cannot checkpoint the recovered head: ", std::strerror(errno)));
    }
  }
  chain->synced_seq_ = chain->head_seq_;
  chain->last_checkpoint_ = chain->options_.now();
  chain->writer_ = std::thread([c = chain.get()] { c->WriterLoop(); });
  if (chain->options_.sync == Sync::kGroup) {
    chain->syncer_ = std::thread([c = chain.get()] { c->SyncLoop(); });
  }
  return chain;
}

Chain::~Chain() {
  Close();
  if (fd_ >= 0) ::close(fd_);
  if (checkpoint_fd_ >= 0) ::close(checkpoint_fd_);
}

void Chain::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard<std::mutex> lock(sync_wait_mu_);
    sync_stop_ = true;
  }
  sync_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
}

void Chain::Emit(Event event) { EmitSeq(std::move(event)); }

uint64_t Chain::EmitSeq(Event event) {
  std::unique_lock<std::mutex> lock(mu_);
  // Backpressure, not loss: a caller waits while the writer is max_pending records behind.
  space_cv_.wait(lock,
                 [&] { return pending_.size() < options_.max_pending || stop_ || !healthy_; });
  if (stop_ || !healthy_) return 0;
  const uint64_t seq = next_seq_++;
  pending_.push_back(Pending{seq, FormatRfc3339Millis(options_.now()), std::move(event)});
  // Wake the writer only if it sleeps: while it writes a batch, new records simply queue for
  // the next one (saves a futex wake per record under load).
  const bool wake = writer_idle_;
  lock.unlock();
  if (wake) cv_.notify_one();
  return seq;
}

void Chain::WhenDurable(uint64_t seq, std::function<void(bool)> done) {
  if (seq != 0 && seq <= durable_seq_.load()) return done(true);
  if (seq == 0 || !healthy_) return done(false);
  std::unique_lock<std::mutex> lock(mu_);
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
  if (failed_.exchange(true)) return;  // the writer and the syncer may both fail: report once
  healthy_ = false;
  log::Error("audit chain stopped", {{"error", what}, {"dir", options_.dir}});
  std::multimap<uint64_t, std::function<void(bool)>> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiters.swap(waiters_);
    pending_.clear();
  }
  space_cv_.notify_all();
  for (auto& [seq, fn] : waiters) fn(false);
}

bool Chain::WriteBatch(std::vector<Chain::Pending>& batch) {
  std::string out;
  for (Pending& p : batch) {
    const Event& ev = p.event;
    const std::string canonical = CanonicalRecord(p.seq, p.time, p.seq, ev.type, ev.ns, ev.agent,
                                                  ev.detail, options_.key.id, head_mac_);
    const std::string mac = HmacHex(options_.key.bytes, canonical);
    out += WithMac(canonical, mac);
    head_mac_ = mac;
    head_seq_ = p.seq;
  }
  if (!WriteAll(fd_, out)) {
    Fail(pai::StrCat("write: ", std::strerror(errno)));
    return false;
  }
  written_seq_ = head_seq_;
  if (options_.sync == Sync::kStrict) return SyncNow();
  {
    // Taken after written_seq_ changed and before the notify, so that the syncer, which checks
    // written_seq_ under this mutex, cannot miss the wake-up.
    std::lock_guard<std::mutex> lock(sync_wait_mu_);
  }
  sync_cv_.notify_one();
  return true;
}

bool Chain::SyncNow() {
  int error = 0;
  {
    std::lock_guard<std::mutex> lock(sync_mu_);  // one sync at a time; synced_seq_ only grows
    // After a failure nothing more counts as synced (a second fdatasync may return 0 once the
    // error was reported, although the data never reached the disk).
    if (!healthy_) return false;
    const uint64_t target = written_seq_.load();
    if (target <= synced_seq_.load()) return true;
    if (::fdatasync(fd_) == 0) {
      synced_seq_ = target;
      return true;
    }
    error = errno;
  }
  // A failed sync is fatal: the page cache state is unknown.
  Fail(pai::StrCat("fdatasync: ", std::strerror(error)));
  return false;
}

void Chain::SyncLoop() {
  const auto interval = absl::ToChronoMicroseconds(options_.sync_interval);
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(sync_wait_mu_);
      sync_cv_.wait(lock, [&] { return sync_stop_ || written_seq_.load() > synced_seq_.load(); });
      if (sync_stop_ && written_seq_.load() <= synced_seq_.load()) return;
      // Records written in the next `interval` share this sync: it starts at most `interval`
      // after the first of them was written (later if a sync is still running).
      if (!sync_stop_) sync_cv_.wait_for(lock, interval, [&] { return sync_stop_; });
    }
    if (!SyncNow()) return;
  }
}

bool Chain::WriteCheckpoint() {
  // A checkpoint covers only synced records: after an OS crash it never names lost ones; after
  // a failure none is written.
  if (!healthy_ || !SyncNow()) return false;
  const std::string canonical = CanonicalCheckpoint(
      head_seq_, head_mac_, FormatRfc3339Millis(options_.now()), options_.key.id);
  const std::string line = WithMac(canonical, HmacHex(options_.key.bytes, canonical));
  if (!WriteAll(checkpoint_fd_, line) || ::fsync(checkpoint_fd_) != 0) {
    Fail(pai::StrCat("checkpoint write: ", std::strerror(errno)));
    return false;
  }
  checkpointed_seq_ = head_seq_;
  last_checkpoint_ = options_.now();
  return true;
}

void Chain::WriterLoop() {
  std::vector<Pending> batch;
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      writer_idle_ = true;
      cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.checkpoint_interval),
                   [&] { return !pending_.empty() || stop_; });
      writer_idle_ = false;
      stopping = stop_;
      batch.clear();
      while (!pending_.empty()) {
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
    }
    space_cv_.notify_all();
    if (!healthy_) return;
    if (!batch.empty()) {
      if (!WriteBatch(batch)) return;
      written_ += batch.size();
      const uint64_t last = batch.back().seq;
      durable_seq_ = last;
      std::vector<std::function<void(bool)>> ready;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto end = waiters_.upper_bound(last);
        for (auto it = waiters_.begin(); it != end; ++it) ready.push_back(std::move(it->second));
        waiters_.erase(waiters_.begin(), end);
      }
      for (auto& fn : ready) fn(true);
    }
    const bool due = options_.now() - last_checkpoint_ >= options_.checkpoint_interval;
    bool last_round = false;
    if (stopping) {
      std::lock_guard<std::mutex> lock(mu_);
      last_round = pending_.empty();
    }
    // Every clean stop checkpoints its head, new records or not.
    if ((head_seq_ > checkpointed_seq_ && due) || (last_round && head_seq_ > 0)) {
      if (!WriteCheckpoint()) return;
    }
    if (last_round) return;
  }
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
