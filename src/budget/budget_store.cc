#include "budget/budget_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/hash/hash.h"
#include "budget/saturating.h"
#include "common/log.h"
#include "common/strings.h"

namespace pai::budget {
namespace {

constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max();
constexpr int64_t kSecondsPerDay = 86400;

int64_t UnixSeconds(absl::Time t) { return absl::ToUnixSeconds(t); }
int64_t DayOf(absl::Time t) {
  const int64_t s = UnixSeconds(t);
  return s >= 0 ? s / kSecondsPerDay : (s - kSecondsPerDay + 1) / kSecondsPerDay;
}
int64_t SecondsToMidnight(absl::Time t) { return (DayOf(t) + 1) * kSecondsPerDay - UnixSeconds(t); }

constexpr std::string_view kAgentPrefix = "agent:";
constexpr std::string_view kProviderPrefix = "provider:";

struct Counter : Standing {
  bool dirty = false;
};

struct Rate {
  int64_t minute = -1;
  int64_t count = 0;
  int64_t in_flight = 0;
};

// NameHash: a std::string key looked up by std::string_view without building a string.
struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return absl::Hash<absl::string_view>{}(AV(s)); }
};
template <class V>
using NameMap = absl::node_hash_map<std::string, V, NameHash, std::equal_to<>>;

// AgentState: one agent's day counters and request window, found with one lookup.
struct AgentState {
  Counter counter;
  Rate rate;
};

// Journal: the SQLite file holding each scope's spend per day.
class Journal {
 public:
  ~Journal() {
    for (sqlite3_stmt* st : {begin_, commit_, rollback_, upsert_}) sqlite3_finalize(st);
    if (db_) sqlite3_close(db_);
  }

  absl::Status Open(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
      return absl::InternalError(pai::StrCat(path, ": ", sqlite3_errmsg(db_)));
    }
    // WAL + NORMAL: a committed transaction survives a process crash (kill -9); the fsync on
    // checkpoints bounds the loss on power failure (docs/budgets.md).
    absl::Status s = Exec(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
        "CREATE TABLE IF NOT EXISTS budget_spend (scope TEXT NOT NULL, day INTEGER NOT NULL,"
        " tokens INTEGER NOT NULL, nano_usd INTEGER NOT NULL, PRIMARY KEY (scope, day));");
    if (!s.ok()) return s;
    // The writer's statements, compiled once (a flush runs every flush interval).
    const std::pair<const char*, sqlite3_stmt**> statements[] = {
        {"BEGIN", &begin_},
        {"COMMIT", &commit_},
        {"ROLLBACK", &rollback_},
        {"INSERT INTO budget_spend (scope, day, tokens, nano_usd) VALUES (?,?,?,?)"
         " ON CONFLICT (scope, day) DO UPDATE SET tokens = excluded.tokens,"
         " nano_usd = excluded.nano_usd",
         &upsert_}};
    for (const auto& [sql, st] : statements) {
      if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, st, nullptr) != SQLITE_OK) {
        return absl::InternalError(pai::StrCat("sqlite: ", sqlite3_errmsg(db_)));
      }
    }
    return absl::OkStatus();
  }

  // Step(): runs a prepared statement that returns no row, and resets it.
  absl::Status Step(sqlite3_stmt* st) {
    absl::Status s;
    if (sqlite3_step(st) != SQLITE_DONE) {
      s = absl::InternalError(pai::StrCat("sqlite: ", sqlite3_errmsg(db_)));
    }
    sqlite3_reset(st);
    return s;
  }

  absl::Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      absl::Status s = absl::InternalError(pai::StrCat("sqlite: ", err ? err : "error"));
      sqlite3_free(err);
      return s;
    }
    return absl::OkStatus();
  }

  // Load() calls `found(scope, tokens, nano_usd)` for each scope's spend on `day`.
  template <class Found>
  absl::Status Load(int64_t day, const Found& found) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT scope, tokens, nano_usd FROM budget_spend WHERE day = ?",
                           -1, &st, nullptr) != SQLITE_OK) {
      return absl::InternalError(sqlite3_errmsg(db_));
    }
    sqlite3_bind_int64(st, 1, day);
    while (sqlite3_step(st) == SQLITE_ROW) {
      const auto* scope = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      found(std::string_view(scope ? scope : ""), sqlite3_column_int64(st, 1),
            sqlite3_column_int64(st, 2));
    }
    sqlite3_finalize(st);
    return absl::OkStatus();
  }

  struct Row {
    std::string scope;
    int64_t day, tokens, nano_usd;
  };

  absl::Status Write(const std::vector<Row>& rows) {
    if (rows.empty()) return absl::OkStatus();
    absl::Status s = Step(begin_);
    if (!s.ok()) return s;
    sqlite3_stmt* st = upsert_;
    for (const Row& r : rows) {
      sqlite3_bind_text(st, 1, r.scope.c_str(), static_cast<int>(r.scope.size()), SQLITE_STATIC);
      sqlite3_bind_int64(st, 2, r.day);
      sqlite3_bind_int64(st, 3, r.tokens);
      sqlite3_bind_int64(st, 4, r.nano_usd);
      if (absl::Status row = Step(st); !row.ok() && s.ok()) s = row;
    }
    sqlite3_clear_bindings(st);  // the scope's text belongs to the caller
    if (!s.ok()) {
      (void)Step(rollback_);
      return s;
    }
    return Step(commit_);
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* rollback_ = nullptr;
  sqlite3_stmt* upsert_ = nullptr;
};

class LocalBudgetStore final : public BudgetStore {
 public:
  explicit LocalBudgetStore(LocalStoreOptions options) : options_(std::move(options)) {}

  ~LocalBudgetStore() override {
    if (journal_) {
      {
        std::lock_guard<std::mutex> lock(stop_mu_);
        stop_ = true;
      }
      stop_cv_.notify_all();
      writer_.join();
      Flush();  // the final state, after the writer stopped
    }
  }

  absl::Status Open() {
    day_ = DayOf(options_.now());
    if (options_.state_dir.empty()) return absl::OkStatus();
    std::error_code ec;
    std::filesystem::create_directories(options_.state_dir, ec);
    journal_ = std::make_unique<Journal>();
    absl::Status s = journal_->Open(options_.state_dir + "/budget.db");
    if (s.ok()) {
      s = journal_->Load(day_, [this](std::string_view scope, int64_t tokens, int64_t nano) {
        if (Counter* c = CounterOf(scope, /*create=*/true)) {
          c->spent_tokens = tokens;
          c->spent_nano = nano;
        }
      });
    }
    if (!s.ok()) {
      journal_.reset();
      return s;
    }
    writer_ = std::thread([this] { WriterLoop(); });
    return absl::OkStatus();
  }

  std::optional<Rejection> AcquireSlot(const std::string& agent,
                                       const AgentLimits& limits) override {
    const absl::Time now = options_.now();
    const int64_t minute = UnixSeconds(now) / 60;
    std::lock_guard<std::mutex> lock(mu_);
    Rate& r = agents_[agent].rate;
    if (r.minute != minute) {
      r.minute = minute;
      r.count = 0;
    }
    if (limits.concurrent_requests > 0 && r.in_flight >= limits.concurrent_requests) {
      return Rejection{Limit::kConcurrentRequests, limits.concurrent_requests, r.in_flight, 1, 1};
    }
    if (limits.requests_per_minute > 0 && r.count >= limits.requests_per_minute) {
      return Rejection{Limit::kRequestsPerMinute, limits.requests_per_minute, r.count, 1,
                       60 - UnixSeconds(now) % 60};
    }
    ++r.count;
    ++r.in_flight;
    return std::nullopt;
  }

  void ReleaseSlot(const std::string& agent) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = agents_.find(agent);
    if (it != agents_.end() && it->second.rate.in_flight > 0) --it->second.rate.in_flight;
  }

  std::variant<Reservation, Rejection> Reserve(const ReserveRequest& req) override {
    const absl::Time now = options_.now();
    std::lock_guard<std::mutex> lock(mu_);
    MaybeRollOver(now);
    Counter& agent = agents_[req.agent].counter;
    Counter& provider = providers_[req.provider];
    auto plan = PlanReservation(req, agent, provider, SecondsToMidnight(now));
    auto* r = std::get_if<Reservation>(&plan);
    if (!r) return plan;
    r->id = next_id_++;
    agent.reserved_tokens = SatAdd(agent.reserved_tokens, r->tokens);
    agent.reserved_nano = SatAdd(agent.reserved_nano, r->nano_usd);
    agent.dirty = true;
    provider.reserved_tokens = SatAdd(provider.reserved_tokens, r->tokens);
    provider.dirty = true;
    ++outstanding_;
    return plan;
  }

  Charge Settle(const Reservation& r, const Usage& usage) override {
    const Charge charge = ComputeCharge(r, usage);
    std::lock_guard<std::mutex> lock(mu_);
    MaybeRollOver(options_.now());
    Counter& agent = agents_[r.agent].counter;
    Counter& provider = providers_[r.provider];
    agent.reserved_tokens = SatSub(agent.reserved_tokens, r.tokens);
    agent.reserved_nano = SatSub(agent.reserved_nano, r.nano_usd);
    agent.spent_tokens = SatAdd(agent.spent_tokens, charge.tokens);
    agent.spent_nano = SatAdd(agent.spent_nano, charge.nano_usd);
    agent.dirty = true;
    provider.reserved_tokens = SatSub(provider.reserved_tokens, r.tokens);
    provider.spent_tokens = SatAdd(provider.spent_tokens, charge.tokens);
    provider.dirty = true;
    --outstanding_;
    return charge;
  }

  Remaining RemainingFor(const std::string& agent, const AgentLimits& lim) override {
    const absl::Time now = options_.now();
    std::lock_guard<std::mutex> lock(mu_);
    MaybeRollOver(now);
    const AgentState& a = agents_[agent];
    const int64_t window = a.rate.minute == UnixSeconds(now) / 60 ? a.rate.count : 0;
    return RemainingOf(lim, a.counter, window, now);
  }

  int64_t OutstandingReservations() override {
    std::lock_guard<std::mutex> lock(mu_);
    return outstanding_;
  }

  std::pair<int64_t, int64_t> Spent(const std::string& scope) override {
    std::lock_guard<std::mutex> lock(mu_);
    MaybeRollOver(options_.now());
    const Counter* c = CounterOf(scope, /*create=*/false);
    if (!c) return {0, 0};
    return {c->spent_tokens, c->spent_nano};
  }

 private:
  // CounterOf(): the counter of a scope named "agent:<ns/name>" or "provider:<name>" (the
  // journal's and Spent()'s names); null for another name, or when absent and !create. mu_
  // held, or before the writer starts.
  Counter* CounterOf(std::string_view scope, bool create) {
    if (scope.starts_with(kAgentPrefix)) {
      scope.remove_prefix(kAgentPrefix.size());
      if (create) return &agents_[scope].counter;
      auto it = agents_.find(scope);
      return it == agents_.end() ? nullptr : &it->second.counter;
    }
    if (scope.starts_with(kProviderPrefix)) {
      scope.remove_prefix(kProviderPrefix.size());
      if (create) return &providers_[scope];
      auto it = providers_.find(scope);
      return it == providers_.end() ? nullptr : &it->second;
    }
    return nullptr;
  }

  // MaybeRollOver(): mu_ held.
  void MaybeRollOver(absl::Time now) {
    const int64_t day = DayOf(now);
    if (day == day_) return;
    // A new UTC day: spend restarts at zero; reservations still running carry over and settle
    // into the new day.
    day_ = day;
    auto restart = [](Counter& c) {
      c.spent_tokens = 0;
      c.spent_nano = 0;
      c.dirty = true;
    };
    for (auto& [key, a] : agents_) restart(a.counter);
    for (auto& [name, c] : providers_) restart(c);
  }

  void Flush() {
    std::vector<Journal::Row> rows;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto add = [&](std::string_view prefix, std::string_view name, Counter& c) {
        if (!c.dirty) return;
        c.dirty = false;
        // Pessimistic: a reservation in flight counts as spent, so a crash never lowers spend.
        rows.push_back({pai::StrCat(prefix, name), day_, SatAdd(c.spent_tokens, c.reserved_tokens),
                        SatAdd(c.spent_nano, c.reserved_nano)});
      };
      for (auto& [key, a] : agents_) add(kAgentPrefix, key, a.counter);
      for (auto& [name, c] : providers_) add(kProviderPrefix, name, c);
    }
    absl::Status s = journal_->Write(rows);
    if (!s.ok()) log::Error("budget journal write failed", {{"error", std::string(s.message())}});
  }

  void WriterLoop() {
    std::unique_lock<std::mutex> lock(stop_mu_);
    const auto interval = absl::ToChronoMilliseconds(options_.flush_interval);
    while (!stop_) {
      stop_cv_.wait_for(lock, interval, [this] { return stop_; });
      if (stop_) break;
      lock.unlock();
      Flush();
      lock.lock();
    }
  }

  const LocalStoreOptions options_;
  // std::mutex (pthread), not absl::Mutex: ThreadSanitizer sees it even though the system's
  // Abseil is not instrumented (scripts/test.sh runs this store under TSan).
  std::mutex mu_;
  // Guarded by mu_:
  int64_t day_ = 0;
  // By agent key ("ns/name") and by provider scope (ReserveRequest::provider); looked up by
  // string_view without building a key. node_hash_map: an agent's and a provider's counters
  // are held at once (pointer stability).
  NameMap<AgentState> agents_;
  NameMap<Counter> providers_;
  int64_t outstanding_ = 0;
  uint64_t next_id_ = 1;

  std::unique_ptr<Journal> journal_;
  std::thread writer_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
};

}  // namespace

std::string AgentScope(std::string_view agent) { return pai::StrCat(kAgentPrefix, agent); }
std::string ProviderScope(std::string_view provider) {
  return pai::StrCat(kProviderPrefix, provider);
}

std::string_view LimitName(Limit limit) {
  switch (limit) {
    case Limit::kTokensPerDay:
      return "tokens_per_day";
    case Limit::kTokensPerRequest:
      return "tokens_per_request";
    case Limit::kRequestsPerMinute:
      return "requests_per_minute";
    case Limit::kConcurrentRequests:
      return "concurrent_requests";
    case Limit::kCostPerDay:
      return "cost_per_day";
    case Limit::kProviderTokensPerDay:
      return "provider_tokens_per_day";
    case Limit::kPriceUnknown:
      return "price_unknown";
    case Limit::kStoreUnavailable:
      return "store_unavailable";
  }
  return "unknown";
}

std::string_view UsageCheckName(UsageCheck c) {
  switch (c) {
    case UsageCheck::kOk:
      return "ok";
    case UsageCheck::kNegative:
      return "negative";
    case UsageCheck::kAboveReservation:
      return "above_reservation";
    case UsageCheck::kAboveCeiling:
      return "above_ceiling";
  }
  return "unknown";
}

namespace {

bool AnyNegative(const Usage& u) {
  return u.input < 0 || u.cached_input < 0 || u.output < 0 || u.cache_write < 0 ||
         u.cache_write_1h < 0 || u.reasoning < 0;
}

// Ceiling(): the most a call can legitimately have used — the model's context window plus the
// output cap for every choice — and never less than its reservation.
std::pair<int64_t, int64_t> Ceiling(const Reservation& r) {
  const int64_t context =
      std::max(r.price && r.price->max_input > 0 ? r.price->max_input : kDefaultContextWindow,
               r.input_upper);
  int64_t per_choice = kCeilingDefaultOutput;
  if (r.output_limit) {
    per_choice = *r.output_limit;
  } else if (r.price && r.price->max_output > 0) {
    per_choice = r.price->max_output;
  }
  const int64_t output = SatMul(per_choice, std::max<int64_t>(1, r.choices));
  return {context, std::max(output, SatSub(r.tokens, context))};
}

// Clamped(): `u` with input at most `max_input`, output at most `max_output`, and the parts
// within their wholes.
Usage Clamped(const Usage& u, int64_t max_input, int64_t max_output) {
  Usage c = u;
  c.input = std::min(u.input, max_input);
  c.output = std::min(u.output, max_output);
  c.cached_input = std::min(u.cached_input, c.input);
  c.cache_write = std::min(u.cache_write, c.input - c.cached_input);
  c.cache_write_1h = std::min(u.cache_write_1h, c.cache_write);
  c.reasoning = std::min(u.reasoning, c.output);
  return c;
}

}  // namespace

std::variant<Reservation, Rejection> PlanReservation(const ReserveRequest& req,
                                                     const Standing& agent,
                                                     const Standing& provider, int64_t day_reset) {
  const AgentLimits& lim = req.agent_limits;
  const int64_t in = std::max<int64_t>(0, req.input_upper);
  const int64_t choices = std::max<int64_t>(1, req.choices);
  // The least output a call producing output needs: one token per choice.
  const int64_t min_output = req.produces_output ? choices : 0;

  // The per-request context limit does not depend on shared state.
  int64_t avail = kUnbounded;
  if (lim.tokens_per_request > 0) {
    const int64_t per_choice = req.requested_output.value_or(1);
    const int64_t need = SatAdd(req.input_estimate, SatMul(per_choice, choices));
    if (need > lim.tokens_per_request || req.input_estimate >= lim.tokens_per_request) {
      Rejection r{Limit::kTokensPerRequest, lim.tokens_per_request, 0, need, 0};
      r.per_choice = choices > 1 && SatAdd(req.input_estimate, choices) > lim.tokens_per_request &&
                     req.input_estimate < lim.tokens_per_request;
      return r;
    }
    avail = std::min(avail, lim.tokens_per_request - req.input_estimate);
  }
  if (lim.nano_usd_per_day > 0 && !req.price) {
    return Rejection{Limit::kPriceUnknown, lim.nano_usd_per_day, 0, 0, 0};
  }
  // A refusal when what is left (`left`, after the input bound) cannot give every choice a
  // token: a 429 when nothing is left for output, per_choice when some is.
  auto refuse = [&](Limit limit, int64_t value, int64_t used, int64_t left, int64_t input_need,
                    int64_t one) {
    Rejection r{limit, value, used, SatAdd(input_need, SatMul(one, min_output)), day_reset};
    r.per_choice = req.produces_output && left >= one && one > 0;
    return r;
  };

  if (lim.tokens_per_day > 0) {
    const int64_t used = SatAdd(agent.spent_tokens, agent.reserved_tokens);
    const int64_t left = SatSub(SatSub(lim.tokens_per_day, used), in);
    if (left < min_output || left < 0) {
      return refuse(Limit::kTokensPerDay, lim.tokens_per_day, used, left, in, 1);
    }
    avail = std::min(avail, left);
  }
  if (req.provider_tokens_per_day > 0) {
    const int64_t used = SatAdd(provider.spent_tokens, provider.reserved_tokens);
    const int64_t left = SatSub(SatSub(req.provider_tokens_per_day, used), in);
    if (left < min_output || left < 0) {
      return refuse(Limit::kProviderTokensPerDay, req.provider_tokens_per_day, used, left, in, 1);
    }
    avail = std::min(avail, left);
  }
  // Rates a reservation must assume: the highest an input / output token can be billed at.
  const int64_t in_rate = req.price ? req.price->MaxInputRate(in) : 0;
  const int64_t out_rate = req.price ? req.price->MaxOutputRate(in) : 0;
  if (lim.nano_usd_per_day > 0) {
    const int64_t used = SatAdd(agent.spent_nano, agent.reserved_nano);
    const int64_t input_cost = SatMul(in, in_rate);
    const int64_t left = SatSub(SatSub(lim.nano_usd_per_day, used), input_cost);
    const int64_t one_output = req.produces_output ? out_rate : 0;
    if (left < SatMul(one_output, choices) || left < 0) {
      return refuse(Limit::kCostPerDay, lim.nano_usd_per_day, used, left, input_cost, one_output);
    }
    if (out_rate > 0) avail = std::min(avail, left / out_rate);
  }

  Reservation r;
  r.agent = std::string(req.agent);
  r.provider = std::string(req.provider);
  r.price = req.price;
  r.input_upper = in;
  r.choices = choices;
  int64_t output = 0;  // per choice
  if (req.produces_output) {
    if (avail != kUnbounded) {
      // A budget applies: the provider must be held to what remains, shared by the choices.
      const int64_t model_max =
          req.price && req.price->max_output > 0 ? req.price->max_output : kDefaultMaxOutput;
      output = std::min({avail / choices, req.requested_output.value_or(model_max), model_max});
      r.output_limit = output;
      r.impose_output_limit = !req.requested_output || output < *req.requested_output;
    } else if (req.requested_output) {
      output = *req.requested_output;
      r.output_limit = output;
    }
  }
  const int64_t output_total = SatMul(output, choices);
  r.tokens = SatAdd(in, output_total);
  r.nano_usd = req.price ? SatAdd(SatMul(in, in_rate), SatMul(output_total, out_rate)) : 0;
  return r;
}

Remaining RemainingOf(const AgentLimits& lim, const Standing& c, int64_t window_count,
                      absl::Time now) {
  Remaining out;
  out.day_reset_s = SecondsToMidnight(now);
  if (lim.requests_per_minute > 0) {
    out.requests_limit = lim.requests_per_minute;
    out.requests_remaining = std::max<int64_t>(0, lim.requests_per_minute - window_count);
    out.requests_reset_s = 60 - UnixSeconds(now) % 60;
  }
  if (lim.tokens_per_day > 0) {
    out.tokens_limit = lim.tokens_per_day;
    out.tokens_remaining =
        std::max<int64_t>(0, SatSub(lim.tokens_per_day, SatAdd(c.spent_tokens, c.reserved_tokens)));
  }
  if (lim.nano_usd_per_day > 0) {
    out.nano_usd_limit = lim.nano_usd_per_day;
    out.nano_usd_remaining =
        std::max<int64_t>(0, SatSub(lim.nano_usd_per_day, SatAdd(c.spent_nano, c.reserved_nano)));
  }
  return out;
}

Charge ComputeCharge(const Reservation& r, const Usage& usage) {
  Charge charge;
  const bool negative = usage.reported && AnyNegative(usage);
  if (usage.reported && !negative) {
    // Reported usage is charged as reported — it is what the provider bills — up to a sanity
    // ceiling (the model's context window + the output cap).
    const auto [max_input, max_output] = Ceiling(r);
    const Usage u = Clamped(usage, max_input, max_output);
    // Above the reservation: more input than its bound, or more output than the limit it
    // imposed (without a limit, the reservation does not bound the output).
    const bool above = usage.input > r.input_upper ||
                       (r.output_limit && usage.output > SatMul(*r.output_limit, r.choices));
    if (u.input != usage.input || u.output != usage.output) {
      charge.check = UsageCheck::kAboveCeiling;
    } else if (above) {
      charge.check = UsageCheck::kAboveReservation;
    }
    charge.tokens = SatAdd(u.input, u.output);
    charge.nano_usd = r.price ? CostOf(*r.price, u) : 0;
    return charge;
  }
  // A negative count is no count: charged like missing usage.
  if (negative) charge.check = UsageCheck::kNegative;
  // No usage reported: charge the input bound plus the output limit of every choice (the
  // reservation), or without a limit one token per 4 response bytes (never zero).
  if (r.output_limit) {
    charge.tokens = std::max<int64_t>(1, r.tokens);
    charge.nano_usd = r.nano_usd;
  } else {
    const int64_t output = SatAdd(std::max<int64_t>(0, usage.response_bytes), 3) / 4;
    charge.tokens = std::max<int64_t>(1, SatAdd(r.input_upper, output));
    Usage u;
    u.input = r.input_upper;
    u.output = output;
    charge.nano_usd = r.price ? CostOf(*r.price, u) : 0;
  }
  charge.estimated = true;
  return charge;
}

int64_t CostOf(const Price& price, const Usage& usage) {
  const Rates& rate = price.RatesFor(usage.input);
  const int64_t input = std::max<int64_t>(0, usage.input);
  const int64_t output = std::max<int64_t>(0, usage.output);
  const int64_t read = std::clamp<int64_t>(usage.cached_input, 0, input);
  const int64_t write = std::clamp<int64_t>(usage.cache_write, 0, input - read);
  const int64_t write_1h = std::clamp<int64_t>(usage.cache_write_1h, 0, write);
  const int64_t reasoning = std::clamp<int64_t>(usage.reasoning, 0, output);
  int64_t cost = SatMul(input - read - write, rate.input);
  cost = SatAdd(cost, SatMul(read, rate.cached_input));
  cost = SatAdd(cost, SatMul(write - write_1h, rate.cache_write));
  cost = SatAdd(cost, SatMul(write_1h, rate.cache_write_1h));
  cost = SatAdd(cost, SatMul(output - reasoning, rate.output));
  cost = SatAdd(cost, SatMul(reasoning, rate.reasoning));
  return cost;
}

absl::StatusOr<std::unique_ptr<BudgetStore>> OpenLocalBudgetStore(LocalStoreOptions options) {
  auto store = std::make_unique<LocalBudgetStore>(std::move(options));
  absl::Status s = store->Open();
  if (!s.ok()) return s;
  return std::unique_ptr<BudgetStore>(std::move(store));
}

}  // namespace pai::budget
