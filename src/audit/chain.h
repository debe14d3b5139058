// The gateway's tamper-evident audit chain (docs/audit.md).
//
// Records are appended to "<dir>/chain.jsonl", one JSON object per line, each carrying `seq`,
// `time` (RFC 3339, ms, UTC), `source` ("gateway"), `source_seq`, `type`, `namespace`, `agent`,
// `detail`, `key_id`, the previous record's MAC (`prev_mac`) and its own `mac`:
// HMAC-SHA256 (OpenSSL) over the record's canonical encoding — the record without `mac`,
// members in the order above, `detail` with its members sorted by key, no whitespace (Boost.JSON
// serialisation of strings and numbers). Signed checkpoints (seq, head MAC, time) go to
// "<dir>/checkpoints.jsonl" at least once a second while records are written, at Open() for the
// recovered head (a crash may have left the newest records uncovered) and at every Close().
//
// Durability (docs/audit.md, "Durability"): one writer thread batches pending records (group
// commit) and write(2)s each batch. Two promises, by ChainOptions::sync:
//  - kGroup (default): a record is acknowledged (WhenDurable() calls `done(true)`) once
//    written: it is in the kernel's page cache and survives the process being killed (kill -9).
//    A syncer thread fdatasync(2)s what was written within sync_interval (10 ms) of it, so an
//    OS crash or power loss loses at most the records of the last interval and the fsync time.
//  - kStrict: acknowledged only after the batch's fdatasync(2): an OS crash loses nothing
//    acknowledged; each call waits for a disk flush.
// Checkpoints cover only synced records (the chain is synced before each). A failed write or
// sync stops the chain (healthy() turns false, nothing is retried); records emitted afterwards
// fail.
//
// Thread safety: Emit(), WhenDurable(), healthy() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "audit/event_sink.h"

namespace pai::audit {

// Keyring: HMAC keys by key id (the first 8 hex characters of SHA-256(key)).
struct Key {
  std::string id;
  std::string bytes;  // ≥ 32 bytes
};

// LoadKeyFile() reads a key file: the key as hex (≥ 64 hex characters) on its first line.
absl::StatusOr<Key> LoadKeyFile(const std::string& path);

// LoadOrCreateKey() loads "<dir>/key", creating a random 256-bit key (mode 0600) when absent.
absl::StatusOr<Key> LoadOrCreateKey(const std::string& dir);

// Sync: when a record is acknowledged (see Durability above).
enum class Sync { kGroup, kStrict };

struct ChainOptions {
  std::string dir;  // "<state-dir>/audit"
  Key key;
  Sync sync = Sync::kGroup;
  absl::Duration sync_interval = absl::Milliseconds(10);  // kGroup: written → synced, at most
  absl::Duration checkpoint_interval = absl::Seconds(1);
  size_t max_pending = 65536;  // Emit() blocks (backpressure) beyond this many queued records
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

class Chain final : public EventSink {
 public:
  // Open() resumes the chain in `options.dir` (created if needed). An incomplete final line —
  // a write cut by a crash, never acknowledged — is removed (logged). Errors: DataLoss when the
  // existing chain's last complete record cannot be parsed.
  static absl::StatusOr<std::unique_ptr<Chain>> Open(ChainOptions options);
  ~Chain() override;  // Close()

  // Emit() queues a record and returns its seq (0 if the chain is stopped). Blocks while
  // max_pending records are queued: nothing is dropped.
  void Emit(Event event) override;
  uint64_t EmitSeq(Event event) override;

  // WhenDurable() calls `done(ok)` once record `seq` is acknowledged — written (kGroup) or
  // synced (kStrict) — (ok) or the chain stopped (false); possibly immediately, on the calling
  // thread, otherwise on the writer thread (or, when a sync fails, the syncer thread).
  void WhenDurable(uint64_t seq, std::function<void(bool)> done);

  // Close() writes the queued records, a final checkpoint, and stops the writer.
  void Close();

  bool healthy() const { return healthy_.load(); }
  uint64_t durable_seq() const { return durable_seq_.load(); }  // acknowledged
  uint64_t synced_seq() const { return synced_seq_.load(); }    // on disk (fdatasync)
  uint64_t records_written() const { return written_.load(); }
  const std::string& dir() const { return options_.dir; }

 private:
  struct Pending {
    uint64_t seq;
    std::string time;  // taken at Emit(): record order is time order
    Event event;
  };
  explicit Chain(ChainOptions options) : options_(std::move(options)) {}
  void WriterLoop();
  bool WriteBatch(std::vector<Pending>& batch);
  bool WriteCheckpoint();
  void Fail(const std::string& what);
  // SyncLoop(): the kGroup syncer thread. SyncNow(): fdatasync what was written; false on error.
  void SyncLoop();
  bool SyncNow();

  ChainOptions options_;
  int fd_ = -1;
  int checkpoint_fd_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;        // writer wakes
  std::condition_variable space_cv_;  // emitters wait for room
  std::deque<Pending> pending_;
  std::multimap<uint64_t, std::function<void(bool)>> waiters_;
  uint64_t next_seq_ = 1;  // guarded by mu_
  std::string head_mac_;   // writer thread only
  uint64_t head_seq_ = 0;  // writer thread only
  uint64_t checkpointed_seq_ = 0;
  absl::Time last_checkpoint_;
  bool stop_ = false;
  bool writer_idle_ = false;  // guarded by mu_: the writer waits for records
  std::atomic<bool> healthy_{true};
  std::atomic<uint64_t> durable_seq_{0};  // acknowledged
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> written_seq_{0};  // newest record written to the file
  std::atomic<uint64_t> synced_seq_{0};   // newest record fdatasync'ed
  std::mutex sync_mu_;                    // serialises SyncNow() (held during fdatasync)
  std::mutex sync_wait_mu_;               // guards sync_stop_; the syncer waits on it
  std::condition_variable sync_cv_;
  bool sync_stop_ = false;
  std::atomic<bool> failed_{false};  // Fail() ran
  std::thread writer_;
  std::thread syncer_;
};

// VerifyResult: the outcome of checking a chain.
struct VerifyResult {
  bool ok = false;
  uint64_t records = 0;         // complete records read
  uint64_t first_bad_seq = 0;   // 0 when ok
  std::string reason;           // empty when ok
  uint64_t checkpoint_seq = 0;  // the latest valid checkpoint checked against, 0 if none
  bool torn_tail = false;       // an incomplete final line was ignored
};

// VerifyResultJson() is the JSON answer of `pai-gateway audit verify` and GET /audit/verify:
// {"ok","records","first_bad_seq","reason","checkpoint_seq","torn_tail"}.
std::string VerifyResultJson(const VerifyResult& r);

// Verify() recomputes every MAC of "<dir>/chain.jsonl" with the keys in `keys` (by key id),
// checks seq continuity and prev_mac links, and checks the head against the latest valid
// checkpoint in "<dir>/checkpoints.jsonl" (a chain shorter than a checkpoint was truncated).
VerifyResult Verify(const std::string& dir, const std::vector<Key>& keys);

// CanonicalRecord() is the encoding the MAC covers (exposed for tests and docs).
std::string CanonicalRecord(uint64_t seq, const std::string& time, uint64_t source_seq,
                            const std::string& type, const std::string& ns,
                            const std::string& agent, const boost::json::object& detail,
                            const std::string& key_id, const std::string& prev_mac);

// HmacHex() is HMAC-SHA256(key, data) in lowercase hex.
std::string HmacHex(const std::string& key, std::string_view data);

// Query: GET /audit filters (docs/audit.md).
struct Query {
  std::string agent;  // "name" or "namespace/name"; empty: all
  absl::Time since = absl::InfinitePast();
  std::vector<std::string> types;  // case-insensitive substrings; empty: all
  size_t limit = 100;              // newest `limit` matches, oldest first
};

// ReadRecords() returns the matching records (parsed) from "<dir>/chain.jsonl".
absl::StatusOr<std::vector<boost::json::object>> ReadRecords(const std::string& dir,
                                                             const Query& query);

}  // namespace pai::audit
