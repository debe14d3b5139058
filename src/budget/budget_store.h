// Budgets and rate limits: the state behind the gateway's admission decisions.
//
// Per client request, AcquireSlot() takes a slot in the agent's fixed 60-second request window
// and one of its concurrent-request slots (ReleaseSlot() at the end). Per provider attempt,
// Reserve() atomically checks every applicable budget — the agent's tokens per UTC day, its USD
// per UTC day, its per-request context limit, the provider's tokens per UTC day — and reserves
// an upper bound of what the call can cost: input upper bound + the output limit it returns,
// which the caller must impose on the provider (max_tokens). Settle() replaces the reservation
// by the actual usage. Because the reservation bounds the call, actual spend never exceeds a
// budget, whatever the concurrency (docs/budgets.md).
//
// Amounts: tokens; money in nano-USD (1e-9 USD, integers). Days roll over at 00:00 UTC.
//
// BudgetStore is the seam for shared state: the embedded implementation keeps counters in
// memory and persists them to SQLite in the state directory; a Redis implementation (several
// gateway replicas) will implement the same interface.
//
// Thread safety: every method is safe from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "budget/price_table.h"

namespace pai::budget {

// Limit: which limit refused a request (metric label `reason`, BUDGET_EXCEEDED `limit`).
enum class Limit {
  kTokensPerDay,
  kTokensPerRequest,
  kRequestsPerMinute,
  kConcurrentRequests,
  kCostPerDay,
  kProviderTokensPerDay,
  kPriceUnknown,
  // Not a limit: the shared budget store (Redis) could not be reached, so no budget can be
  // checked (a 503 with Retry-After; calls under no budget are not refused).
  kStoreUnavailable,
};
inline constexpr int kLimitCount = 8;
std::string_view LimitName(Limit limit);

struct Rejection {
  Limit limit;
  int64_t limit_value = 0;    // the configured limit (tokens, requests, nano-USD)
  int64_t used = 0;           // already spent + reserved by calls in progress
  int64_t requested = 0;      // what this request needed at least, in the same unit
  int64_t retry_after_s = 0;  // until the window or day resets; 0 when waiting cannot help
  // The limit leaves room for output, but less than one token per choice: the number of
  // choices (`n`) is what does not fit (a 400 naming it, not a 429).
  bool per_choice = false;
};

// AgentLimits: an Agent's limits (0 = unlimited).
struct AgentLimits {
  int64_t tokens_per_day = 0;
  int64_t tokens_per_request = 0;
  int64_t requests_per_minute = 0;
  int64_t concurrent_requests = 0;
  int64_t nano_usd_per_day = 0;
};

struct ReserveRequest {
  // Views, valid for the Reserve() call (the Reservation holds copies).
  std::string_view agent;     // "namespace/name"
  std::string_view provider;  // ModelProvider scope: its name, "namespace/name" outside "default"
  AgentLimits agent_limits;
  int64_t provider_tokens_per_day = 0;
  int64_t input_upper = 0;                  // strict upper bound of the input tokens
  int64_t input_estimate = 0;               // estimate, for the per-request context check
  std::optional<int64_t> requested_output;  // the client's max_tokens (per choice), if any
  // Choices the provider generates (chat `n`, Gemini `candidateCount`), each up to the output
  // limit: the output reservation covers all of them.
  int64_t choices = 1;
  bool produces_output = true;  // false for embeddings
  std::optional<Price> price;   // required when a USD budget applies
};

struct Reservation {
  uint64_t id = 0;
  std::string agent;
  std::string provider;
  std::optional<Price> price;
  int64_t input_upper = 0;
  int64_t tokens = 0;    // reserved: input_upper + choices × output limit
  int64_t nano_usd = 0;  // reserved cost
  // The most output the provider may produce per choice for this reservation; unset when no
  // budget applies and the client set no limit. `impose_output_limit`: the request must carry
  // it (the client asked for more or set nothing).
  std::optional<int64_t> output_limit;
  bool impose_output_limit = false;
  int64_t choices = 1;  // the request's choices (ReserveRequest::choices)
  // Held in a shared store (Redis) under this id: its settlement must reach that store. False
  // when no budget applied, so nothing was held.
  bool shared = false;
};

// Usage: what the provider reported (or not) for one attempt. `input` is every input token
// (cache reads and writes included), `output` every output token (reasoning included); the
// others are parts of them, priced apart.
struct Usage {
  bool reported = false;
  int64_t input = 0;
  int64_t cached_input = 0;  // cache reads
  int64_t output = 0;
  int64_t response_bytes = 0;  // for the no-usage rule
  int64_t cache_write = 0;     // cache writes, every TTL (Anthropic cache_creation_input_tokens)
  int64_t cache_write_1h = 0;  // of which with a 1-hour TTL
  int64_t reasoning = 0;       // reasoning / thinking output tokens
};

// UsageCheck: how ComputeCharge() judged the provider's usage (metric
// pai_gateway_usage_invalid_total{reason}, UsageCheckName()).
enum class UsageCheck {
  kOk,
  kNegative,          // a negative count: treated as no usage (the reservation is charged)
  kAboveReservation,  // more input than the bound or more output than the limit: as reported
  kAboveCeiling,      // more than the model's context window + the output cap: charged up to it
};
inline constexpr int kUsageCheckCount = 4;
std::string_view UsageCheckName(UsageCheck c);

struct Charge {
  int64_t tokens = 0;
  int64_t nano_usd = 0;
  bool estimated = false;  // the provider reported no usage: charged by the documented rule
  UsageCheck check = UsageCheck::kOk;
};

// kDefaultContextWindow: the sanity ceiling's input part for a model whose context window
// (max_input_tokens) is unknown; kCeilingDefaultOutput its output part per choice when neither
// a limit nor the model's maximum is known.
inline constexpr int64_t kDefaultContextWindow = 2000000;
inline constexpr int64_t kCeilingDefaultOutput = 131072;

// Remaining: an agent's standing, for x-ratelimit-* headers and gauges (-1 = unlimited).
struct Remaining {
  int64_t requests_limit = -1, requests_remaining = -1, requests_reset_s = 0;
  int64_t tokens_limit = -1, tokens_remaining = -1;
  int64_t nano_usd_limit = -1, nano_usd_remaining = -1;
  int64_t day_reset_s = 0;
};

// ComputeCharge() is what Settle() charges for `usage` against `reservation` (the no-usage rule
// included); exposed so the audit record written before settlement states the same figure.
struct Reservation;
struct Usage;
struct Charge;
Charge ComputeCharge(const Reservation& reservation, const Usage& usage);

// CostOf() prices actual usage as the provider bills it: the rates of the call's tier
// (Price::RatesFor(usage.input)); plain input, cache reads, cache writes by TTL, output and
// reasoning at their rates. Parts are clamped into their whole (cache reads + writes ≤ input,
// reasoning ≤ output, negative parts = 0); saturates at INT64_MAX.
int64_t CostOf(const Price& price, const Usage& usage);

// AgentScope() / ProviderScope(): the names of an agent's and a provider's scopes in Spent()
// and in the stores' records: "agent:<namespace/name>", "provider:<provider scope>".
std::string AgentScope(std::string_view agent);
std::string ProviderScope(std::string_view provider);

// Standing: one scope's counters ("agent:ns/name", "provider:name"): today's charged spend and
// what reservations in progress hold. Tokens and nano-USD.
struct Standing {
  int64_t spent_tokens = 0;
  int64_t reserved_tokens = 0;
  int64_t spent_nano = 0;
  int64_t reserved_nano = 0;
};

// PlanReservation() is Reserve()'s decision for `request` given the agent's and its provider's
// standing (`day_reset_s`: seconds to 00:00 UTC, for Retry-After): the Reservation to add to
// both scopes (its `id` unset), or the Rejection. Pure; every store decides with it, the
// embedded one under its lock, the Redis one in a script that re-checks each budget atomically.
std::variant<Reservation, Rejection> PlanReservation(const ReserveRequest& request,
                                                     const Standing& agent,
                                                     const Standing& provider, int64_t day_reset_s);

// RemainingOf(): an agent's standing as x-ratelimit-* values: `window_count` requests started
// in the current minute, `agent` its counters, `now` for the resets. Pure; both stores use it.
Remaining RemainingOf(const AgentLimits& limits, const Standing& agent, int64_t window_count,
                      absl::Time now);

class BudgetStore {
 public:
  virtual ~BudgetStore() = default;
  virtual std::optional<Rejection> AcquireSlot(const std::string& agent,
                                               const AgentLimits& limits) = 0;
  virtual void ReleaseSlot(const std::string& agent) = 0;
  virtual std::variant<Reservation, Rejection> Reserve(const ReserveRequest& request) = 0;
  // Settle() charges `usage` (or, when unreported, the rule in docs/budgets.md) and releases
  // the reservation. Call exactly once per Reservation.
  virtual Charge Settle(const Reservation& reservation, const Usage& usage) = 0;
  virtual Remaining RemainingFor(const std::string& agent, const AgentLimits& limits) = 0;
  virtual int64_t OutstandingReservations() = 0;
  // Spent() is today's charged tokens and nano-USD of a scope ("agent:ns/name",
  // "provider:name"), reservations excluded.
  virtual std::pair<int64_t, int64_t> Spent(const std::string& scope) = 0;
  // Available() is false while a shared store cannot be reached (/readyz, metrics).
  virtual bool Available() const { return true; }
};

struct LocalStoreOptions {
  std::string state_dir;  // empty: in memory only (tests)
  std::function<absl::Time()> now = [] { return absl::Now(); };
  absl::Duration flush_interval = absl::Milliseconds(20);
};

// OpenLocalBudgetStore() opens (creating) "<state_dir>/budget.db" (SQLite, WAL) and loads
// today's spend. Spend is persisted as spent + outstanding reservations every flush interval,
// so a crash never lowers it (docs/budgets.md, "Persistence").
absl::StatusOr<std::unique_ptr<BudgetStore>> OpenLocalBudgetStore(LocalStoreOptions options);

}  // namespace pai::budget
