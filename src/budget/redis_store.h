// RedisBudgetStore: the BudgetStore shared by several gateway replicas (docs/budgets.md,
// "Several replicas: Redis").
//
// Every counter lives in one Redis (7.0 or later): per scope ("agent:ns/name",
// "provider:name") what reservations hold and what today (UTC) has charged; per agent its
// concurrent requests and its 60-second request window. Each decision that must be exact runs
// as one Redis Function (library `pai_budget`, loaded at connect): Reserve() plans the
// reservation with PlanReservation() from the last standing it saw, and the `pai_reserve`
// function adds it only if every budget still holds it — spent + reserved + this ≤ limit,
// checked atomically in Redis — or returns the current standing to plan again. So spend stays
// within every budget whatever the number of replicas, as with the embedded store.
//
// Replicas and leases: each store is a replica with a random id; it records every reservation
// and slot it holds in Redis under that id and renews a lease (`{pai}:lease:<id>`, `lease`
// long) every `heartbeat`. A replica whose lease has expired — it died, or lost Redis for a
// whole lease — has its reservations charged as spent (in full: an expired reservation is never
// refunded) and its slots freed by whichever replica sweeps first; the sweep deletes each
// record with its adjustment in one function, and Settle() applies only if the record is still
// there, so nothing is freed twice.
//
// A call whose answer is lost (a timeout after sending) may still apply in Redis: its release
// (a settlement charging nothing, or a slot release) is queued at once. Releases apply only
// while the record exists; one that finds none leaves a tombstone for the id, so a call that
// applies after its release (it overtook it) changes nothing. Nothing is held forever.
//
// Calls: AcquireSlot() (when the agent has a concurrency or request-rate limit) and Reserve()
// (when a daily budget or a provider cap applies) wait for one Redis round trip each on the
// calling thread, bounded by `timeout`. Settle() and ReleaseSlot() return at once: a background
// thread applies them in order, pipelined, and keeps them while Redis is unreachable (Settle()
// computes the charge locally, ComputeCharge()). RemainingFor() answers from the standing the
// last round trip returned, without one. Calls under no limit never touch Redis.
//
// Redis unreachable: Available() turns false and calls that need Redis are refused at once with
// Limit::kStoreUnavailable (the gateway answers 503 with Retry-After) until the background
// thread reconnects, probing every `retry_interval`.
//
// Amounts: every limit, reservation and counter is capped at kRedisAmountCap (2^50 tokens or
// nano-USD, ~1.1 × 10^15) so that the functions' Lua numbers (doubles) hold each sum exactly; a
// limit above it counts as the cap.
//
// Keys (all with the hash tag `{pai}`, so one Redis Cluster slot holds them):
//   {pai}:r:<scope>            hash t, n: tokens and nano-USD reserved
//   {pai}:s:<day>:<scope>      hash t, n: charged on that UTC day (day = Unix days), TTL 3 days
//   {pai}:c:<agent>            requests in progress
//   {pai}:w:<minute>:<agent>   requests started in that minute (Unix minutes), TTL 120 s
//   {pai}:res:<replica>        hash reservation id → "agent scope\nprovider scope\ntokens\nnano"
//   {pai}:slots:<replica>      hash slot id → agent
//   {pai}:tomb:<replica>       set of ids released before their call applied, TTL 1 hour
//   {pai}:lease:<replica>      present while the replica is alive (PX lease)
//   {pai}:replicas             set of replica ids that hold or held something
//
// Thread safety: every method is safe from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "budget/budget_store.h"

namespace pai::budget {

inline constexpr int64_t kRedisAmountCap = int64_t{1} << 50;

struct RedisStoreOptions {
  // redis://[:password@]host[:port][/db] (port 6379, db 0 by default) or
  // unix:///path/to/redis.sock[?db=N]. TLS (rediss://) is not supported.
  std::string url;
  std::string password;    // non-empty: used instead of the URL's (keeps it off command lines)
  std::string replica_id;  // empty: 16 random hex digits
  absl::Duration timeout = absl::Milliseconds(500);         // connect, and each round trip
  absl::Duration lease = absl::Seconds(20);                 // a silent replica's reservations live
  absl::Duration heartbeat = absl::Seconds(5);              // lease renewal and sweep period
  absl::Duration retry_interval = absl::Milliseconds(500);  // reconnect probes while down
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

// ParseRedisUrl() checks `url` (the forms above). Errors: InvalidArgument naming the part.
struct RedisAddress {
  std::string host;  // empty for a unix socket
  int port = 6379;
  std::string socket_path;
  std::string password;
  int db = 0;
};
absl::StatusOr<RedisAddress> ParseRedisUrl(const std::string& url);

// OpenRedisBudgetStore() starts the store and its background thread; it does not wait for
// Redis (the store is unavailable until its first connection). SIGPIPE is set to be ignored if
// its disposition was the default (a write to a Redis that went away must not kill the
// process). Errors: InvalidArgument for a bad URL.
absl::StatusOr<std::unique_ptr<BudgetStore>> OpenRedisBudgetStore(RedisStoreOptions options);

}  // namespace pai::budget
