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

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/synchronization/mutex.h"
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
int64_t SecondsToMidnight(absl::Time t) {
  return (DayOf(t) + 1) * kSecondsPerDay - UnixSeconds(t);
}

std::string AgentScope(std::string_view agent) { return pai::StrCat("agent:", agent); }
std::string ProviderScope(std::string_view provider) {
  return pai::StrCat("provider:", provider);
}

struct Counter {
  int64_t spent_tokens = 0;
  int64_t reserved_tokens = 0;
  int64_t spent_nano = 0;
  int64_t reserved_nano = 0;
  bool dirty = false;
};

struct Rate {
  int64_t minute = -1;
  int64_t count = 0;
  int64_t in_flight = 0;
};

// Journal: the SQLite file holding each scope's spend per day.
class Journal {
 public:
  ~Journal() {
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
    return Exec(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
        "CREATE TABLE IF NOT EXISTS budget_spend (scope TEXT NOT NULL, day INTEGER NOT NULL,"
        " tokens INTEGER NOT NULL, nano_usd INTEGER NOT NULL, PRIMARY KEY (scope, day));");
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

  absl::Status Load(int64_t day, absl::node_hash_map<std::string, Counter>* out) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT scope, tokens, nano_usd FROM budget_spend WHERE day = ?",
                           -1, &st, nullptr) != SQLITE_OK) {
      return absl::InternalError(sqlite3_errmsg(db_));
    }
    sqlite3_bind_int64(st, 1, day);
    while (sqlite3_step(st) == SQLITE_ROW) {
      Counter& c = (*out)[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))];
      c.spent_tokens = sqlite3_column_int64(st, 1);
      c.spent_nano = sqlite3_column_int64(st, 2);
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
    absl::Status s = Exec("BEGIN");
    if (!s.ok()) return s;
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db_,
                       "INSERT INTO budget_spend (scope, day, tokens, nano_usd) VALUES (?,?,?,?)"
                       " ON CONFLICT (scope, day) DO UPDATE SET tokens = excluded.tokens,"
                       " nano_usd = excluded.nano_usd",
                       -1, &st, nullptr);
    for (const Row& r : rows) {
      sqlite3_bind_text(st, 1, r.scope.c_str(), static_cast<int>(r.scope.size()), SQLITE_STATIC);
      sqlite3_bind_int64(st, 2, r.day);
      sqlite3_bind_int64(st, 3, r.tokens);
      sqlite3_bind_int64(st, 4, r.nano_usd);
      if (sqlite3_step(st) != SQLITE_DONE) {
        s = absl::InternalError(pai::StrCat("sqlite: ", sqlite3_errmsg(db_)));
      }
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (!s.ok()) {
      (void)Exec("ROLLBACK");
      return s;
    }
    return Exec("COMMIT");
  }

 private:
  sqlite3* db_ = nullptr;
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
    if (s.ok()) s = journal_->Load(day_, &counters_);
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
    absl::MutexLock lock(&mu_);
    Rate& r = rates_[agent];
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
    absl::MutexLock lock(&mu_);
    auto it = rates_.find(agent);
    if (it != rates_.end() && it->second.in_flight > 0) --it->second.in_flight;
  }

  std::variant<Reservation, Rejection> Reserve(const ReserveRequest& req) override {
    const absl::Time now = options_.now();
    const int64_t day_reset = SecondsToMidnight(now);
    const AgentLimits& lim = req.agent_limits;
    const int64_t in = req.input_upper;

    // The per-request context limit does not depend on shared state.
    int64_t avail = kUnbounded;
    if (lim.tokens_per_request > 0) {
      const int64_t need = req.input_estimate + (req.requested_output.value_or(1));
      if (need > lim.tokens_per_request || req.input_estimate >= lim.tokens_per_request) {
        return Rejection{Limit::kTokensPerRequest, lim.tokens_per_request, 0, need, 0};
      }
      avail = std::min(avail, lim.tokens_per_request - req.input_estimate);
    }
    if (lim.nano_usd_per_day > 0 && !req.price) {
      return Rejection{Limit::kPriceUnknown, lim.nano_usd_per_day, 0, 0, 0};
    }

    absl::MutexLock lock(&mu_);
    MaybeRollOver(now);
    Counter& agent = counters_[AgentScope(req.agent)];
    Counter* provider = &counters_[ProviderScope(req.provider)];
    if (lim.tokens_per_day > 0) {
      const int64_t left = lim.tokens_per_day - agent.spent_tokens - agent.reserved_tokens - in;
      if (left < (req.produces_output ? 1 : 0)) {
        return Rejection{Limit::kTokensPerDay, lim.tokens_per_day,
                         agent.spent_tokens + agent.reserved_tokens, in + 1, day_reset};
      }
      avail = std::min(avail, left);
    }
    if (req.provider_tokens_per_day > 0) {
      const int64_t left =
          req.provider_tokens_per_day - provider->spent_tokens - provider->reserved_tokens - in;
      if (left < (req.produces_output ? 1 : 0)) {
        return Rejection{Limit::kProviderTokensPerDay, req.provider_tokens_per_day,
                         provider->spent_tokens + provider->reserved_tokens, in + 1, day_reset};
      }
      avail = std::min(avail, left);
    }
    if (lim.nano_usd_per_day > 0) {
      const Price& p = *req.price;
      const int64_t left =
          lim.nano_usd_per_day - agent.spent_nano - agent.reserved_nano - in * p.input;
      const int64_t one_output = req.produces_output ? p.output : 0;
      if (left < one_output || left < 0) {
        return Rejection{Limit::kCostPerDay, lim.nano_usd_per_day,
                         agent.spent_nano + agent.reserved_nano, in * p.input + one_output,
                         day_reset};
      }
      if (p.output > 0) avail = std::min(avail, left / p.output);
    }

    Reservation r;
    r.id = next_id_++;
    r.agent = req.agent;
    r.provider = req.provider;
    r.price = req.price;
    r.input_upper = in;
    int64_t output = 0;
    if (req.produces_output) {
      if (avail != kUnbounded) {
        // A budget applies: the provider must be held to what remains.
        const int64_t model_max =
            req.price && req.price->max_output > 0 ? req.price->max_output : kDefaultMaxOutput;
        output = std::min({avail, req.requested_output.value_or(model_max), model_max});
        r.output_limit = output;
        r.impose_output_limit = !req.requested_output || output < *req.requested_output;
      } else if (req.requested_output) {
        output = *req.requested_output;
        r.output_limit = output;
      }
    }
    r.tokens = in + output;
    r.nano_usd = req.price ? in * req.price->input + output * req.price->output : 0;
    agent.reserved_tokens += r.tokens;
    agent.reserved_nano += r.nano_usd;
    agent.dirty = true;
    provider->reserved_tokens += r.tokens;
    provider->dirty = true;
    ++outstanding_;
    return r;
  }

  Charge Settle(const Reservation& r, const Usage& usage) override {
    const Charge charge = ComputeCharge(r, usage);
    absl::MutexLock lock(&mu_);
    MaybeRollOver(options_.now());
    Counter& agent = counters_[AgentScope(r.agent)];
    Counter& provider = counters_[ProviderScope(r.provider)];
    agent.reserved_tokens -= r.tokens;
    agent.reserved_nano -= r.nano_usd;
    agent.spent_tokens += charge.tokens;
    agent.spent_nano += charge.nano_usd;
    agent.dirty = true;
    provider.reserved_tokens -= r.tokens;
    provider.spent_tokens += charge.tokens;
    provider.dirty = true;
    --outstanding_;
    return charge;
  }

  Remaining RemainingFor(const std::string& agent, const AgentLimits& lim) override {
    const absl::Time now = options_.now();
    Remaining out;
    out.day_reset_s = SecondsToMidnight(now);
    absl::MutexLock lock(&mu_);
    MaybeRollOver(now);
    if (lim.requests_per_minute > 0) {
      const Rate& r = rates_[agent];
      const int64_t used = r.minute == UnixSeconds(now) / 60 ? r.count : 0;
      out.requests_limit = lim.requests_per_minute;
      out.requests_remaining = std::max<int64_t>(0, lim.requests_per_minute - used);
      out.requests_reset_s = 60 - UnixSeconds(now) % 60;
    }
    const Counter& c = counters_[AgentScope(agent)];
    if (lim.tokens_per_day > 0) {
      out.tokens_limit = lim.tokens_per_day;
      out.tokens_remaining =
          std::max<int64_t>(0, lim.tokens_per_day - c.spent_tokens - c.reserved_tokens);
    }
    if (lim.nano_usd_per_day > 0) {
      out.nano_usd_limit = lim.nano_usd_per_day;
      out.nano_usd_remaining =
          std::max<int64_t>(0, lim.nano_usd_per_day - c.spent_nano - c.reserved_nano);
    }
    return out;
  }

  int64_t OutstandingReservations() override {
    absl::MutexLock lock(&mu_);
    return outstanding_;
  }

  std::pair<int64_t, int64_t> Spent(const std::string& scope) override {
    absl::MutexLock lock(&mu_);
    MaybeRollOver(options_.now());
    auto it = counters_.find(scope);
    if (it == counters_.end()) return {0, 0};
    return {it->second.spent_tokens, it->second.spent_nano};
  }

 private:
  void MaybeRollOver(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const int64_t day = DayOf(now);
    if (day == day_) return;
    // A new UTC day: spend restarts at zero; reservations still running carry over and settle
    // into the new day.
    day_ = day;
    for (auto& [scope, c] : counters_) {
      c.spent_tokens = 0;
      c.spent_nano = 0;
      c.dirty = true;
    }
  }

  void Flush() {
    std::vector<Journal::Row> rows;
    {
      absl::MutexLock lock(&mu_);
      for (auto& [scope, c] : counters_) {
        if (!c.dirty) continue;
        c.dirty = false;
        // Pessimistic: a reservation in flight counts as spent, so a crash never lowers spend.
        rows.push_back({scope, day_, c.spent_tokens + c.reserved_tokens,
                        c.spent_nano + c.reserved_nano});
      }
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
  absl::Mutex mu_;
  int64_t day_ ABSL_GUARDED_BY(mu_) = 0;
  // node_hash_map: references to two counters are held at once (pointer stability).
  absl::node_hash_map<std::string, Counter> counters_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Rate> rates_ ABSL_GUARDED_BY(mu_);
  int64_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;

  std::unique_ptr<Journal> journal_;
  std::thread writer_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
};

}  // namespace

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
  }
  return "unknown";
}

Charge ComputeCharge(const Reservation& r, const Usage& usage) {
  Charge charge;
  if (usage.reported) {
    charge.tokens = usage.input + usage.output;
    charge.nano_usd = r.price ? CostOf(*r.price, usage.input, usage.cached_input, usage.output) : 0;
  } else {
    // No usage reported: charge the input bound plus the output limit, or without a limit
    // one token per 4 response bytes (never zero).
    const int64_t output = r.output_limit ? *r.output_limit : (usage.response_bytes + 3) / 4;
    charge.tokens = std::max<int64_t>(1, r.input_upper + output);
    charge.nano_usd = r.price ? CostOf(*r.price, r.input_upper, 0, output) : 0;
    charge.estimated = true;
  }
  return charge;
}

int64_t CostOf(const Price& price, int64_t input, int64_t cached_input, int64_t output) {
  const int64_t cached = std::clamp<int64_t>(cached_input, 0, input);
  return (input - cached) * price.input + cached * price.cached_input + output * price.output;
}

absl::StatusOr<std::unique_ptr<BudgetStore>> OpenLocalBudgetStore(LocalStoreOptions options) {
  auto store = std::make_unique<LocalBudgetStore>(std::move(options));
  absl::Status s = store->Open();
  if (!s.ok()) return s;
  return std::unique_ptr<BudgetStore>(std::move(store));
}

}  // namespace pai::budget
