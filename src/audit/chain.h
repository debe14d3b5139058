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
// Durability (docs/audit.md, "Durability"): EmitSeq() appends its record with write(2) on the
// calling thread, under the chain's lock (the MAC links each record to the previous one), so a
// record returned by EmitSeq() is in the kernel's page cache and survives the process being
// killed (kill -9). One syncer thread fdatasync(2)s the file. Two promises, by
// ChainOptions::sync:
//  - kGroup (default): a record is acknowledged (WhenDurable() calls `done(true)`) once
//    written, that is when EmitSeq() returns. The syncer syncs what was written within
//    sync_interval (10 ms) of it, so an OS crash or power loss loses at most the records of the
//    last interval and the fsync time.
//  - kStrict: acknowledged only after an fdatasync(2) that covers it: an OS crash loses nothing
//    acknowledged. The syncer syncs as soon as a record is written; records written during a
//    sync share the next one (group commit).
//    A caller with nothing else to do meanwhile may sync its record itself (FlushAndSync()).
// Checkpoints (written by the syncer) cover only synced records. A failed write or sync stops
// the chain (healthy() turns false, nothing is retried); records emitted afterwards fail.
//
// Thread safety: Emit(), EmitSeq(), EmitBuffered(), Flush(), FlushAndSync(), WhenDurable(),
// healthy() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
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
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

class Hmac;  // chain.cc: HMAC-SHA256 keyed once

class Chain final : public EventSink {
 public:
  // Open() resumes the chain in `options.dir` (created if needed). An incomplete final line —
  // a write cut by a crash, never acknowledged — is removed (logged). Errors: DataLoss when the
  // existing chain's last complete record cannot be parsed.
  static absl::StatusOr<std::unique_ptr<Chain>> Open(ChainOptions options);
  ~Chain() override;  // Close()

  // EmitSeq() appends a record (write(2), on the calling thread) and returns its seq; 0 when
  // the chain is stopped or closed, or the write failed (which stops it). Takes the chain's
  // lock for the record's MAC and write: callers on several threads are serialised there.
  void Emit(Event event) override;
  uint64_t EmitSeq(Event event) override;

  // EmitBuffered() appends a record to the chain without writing it: it is written, after
  // every record appended before it, by the next Flush() or EmitSeq() from any thread (or
  // Close()). Its seq is returned as by EmitSeq(); it is acknowledged (WhenDurable()) only once
  // written. For a caller that batches the write(2) of the records of several calls (the
  // gateway's shards, docs/audit.md "Durability"). Flush() writes the buffered records; false
  // when the write failed (which stops the chain) or the chain is stopped.
  uint64_t EmitBuffered(Event event) override;
  bool Flush() override;

  // FlushAndSync() writes the buffered records and makes record `seq` synced on the calling
  // thread: one fdatasync(2), unless another sync already covered it (the syncer's, or another
  // caller's: syncs are serialised). It acknowledges `seq` and every record before it, answering
  // their WhenDurable() waiters on this thread. For a caller with nothing else to do while the
  // disk works (the gateway's shard serving a single call in kStrict): the syncer thread's
  // wake-up and the answer's hand-off back cost more than the sync on this machine class. The
  // syncer is not woken for the records this sync covers (it is for those it wrote and did not
  // sync). False when the chain is stopped or a write or sync failed (which stops it).
  bool FlushAndSync(uint64_t seq);
  Sync sync() const { return options_.sync; }

  // WhenDurable() calls `done(ok)` once record `seq` is acknowledged — written (kGroup) or
  // synced (kStrict) — (ok) or the chain stopped (false): immediately, on the calling thread,
  // when it already is (always, in kGroup, for a seq EmitSeq() returned); otherwise on the
  // thread whose write or sync acknowledges it (the syncer's, an emitter's, or a
  // FlushAndSync() caller's). `done` may run while a sync is held: it must not call
  // FlushAndSync() or Close(), nor destroy the chain.
  void WhenDurable(uint64_t seq, std::function<void(bool)> done);

  // Close() stops appends, syncs, writes a final checkpoint and stops the syncer.
  void Close();

  bool healthy() const { return healthy_.load(); }
  uint64_t durable_seq() const { return durable_seq_.load(); }  // acknowledged
  uint64_t synced_seq() const { return synced_seq_.load(); }    // on disk (fdatasync)
  uint64_t records_written() const { return written_.load(); }
  const std::string& dir() const { return options_.dir; }

 private:
  explicit Chain(ChainOptions options);
  void Fail(const std::string& what);
  // SyncLoop(): the syncer thread. SyncNow(): fdatasync what was written, answering the head it
  // covers (`seq`, `mac`); false on error; sync_mu_ held (the syncer, or FlushAndSync()).
  // WriteCheckpoint(): a signed checkpoint of a synced head. Syncer thread only (and Open(),
  // before it starts).
  void SyncLoop();
  bool SyncNow(uint64_t* seq, std::string* mac);
  // WriteBuffered(): writes buffer_ (Flush() without waking the syncer; `wrote` set when there
  // was something to write); false on failure.
  bool WriteBuffered(bool* wrote);
  // Append(): EmitSeq() (`write`) or EmitBuffered(). WriteBufferLocked(): writes buffer_ (mu_
  // held); false on error (write_error_). WakeSyncer(): after a write.
  uint64_t Append(const Event& event, bool write);
  bool WriteBufferLocked();
  void WakeSyncer();
  // AnswerWritten(): in kGroup, calls the WhenDurable() waiters of written records (mu_ not
  // held).
  void AnswerWritten();
  bool WriteCheckpoint(uint64_t seq, const std::string& mac);

  ChainOptions options_;
  int fd_ = -1;
  int checkpoint_fd_ = -1;
  std::mutex mu_;  // serialises appends: guards head_seq_, head_mac_, closed_, hmac_
  std::unique_ptr<Hmac> hmac_;
  std::string head_mac_;     // guarded by mu_
  std::string time_, mac_;   // guarded by mu_: Append()'s buffers, reused
  std::string buffer_;       // guarded by mu_: records appended, not yet written
  size_t buffered_ = 0;      // guarded by mu_: records in buffer_
  std::string written_mac_;  // guarded by mu_: MAC of the newest record written
  int write_error_ = 0;      // guarded by mu_: errno of the failed write
  uint64_t head_seq_ = 0;    // guarded by mu_
  bool closed_ = false;      // guarded by mu_
  std::mutex sync_mu_;       // serialises SyncNow(): synced_seq_ and durable_seq_ move forward
  std::mutex waiters_mu_;    // guards waiters_ (and durable_seq_'s moves in kStrict)
  std::multimap<uint64_t, std::function<void(bool)>> waiters_;
  uint64_t checkpointed_seq_ = 0;  // syncer thread only
  absl::Time last_checkpoint_;     // syncer thread only
  std::atomic<bool> healthy_{true};
  std::atomic<uint64_t> durable_seq_{0};  // acknowledged
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> written_seq_{0};  // newest record written to the file
  std::atomic<uint64_t> synced_seq_{0};   // newest record fdatasync'ed
  std::mutex sync_wait_mu_;               // guards sync_stop_; the syncer waits on it
  std::condition_variable sync_cv_;
  bool sync_stop_ = false;
  std::atomic<bool> syncer_idle_{false};  // the syncer waits for records (EmitSeq() wakes it)
  std::atomic<bool> failed_{false};       // Fail() ran
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
