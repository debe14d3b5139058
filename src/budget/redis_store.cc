#include "budget/redis_store.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/log.h"
#include "common/strings.h"

namespace pai::budget {
namespace {

// The functions every replica calls (Redis Functions, Redis 7). Amounts arrive as decimal
// strings below 2^50 and are written back with %d, so no Lua double ever rounds.
constexpr std::string_view kLibrary = R"lua(#!lua name=pai_budget
local CAP = 1125899906842624
local function n(v) return tonumber(v) or 0 end
local function cap(v) if v > CAP then return CAP elseif v < 0 then return 0 end return v end
local function s(v) return string.format('%d', v) end
local function pair(key)
  local v = redis.call('HMGET', key, 't', 'n')
  return n(v[1]), n(v[2])
end

-- apply: releases a reservation (rt, rn) from two scopes and charges (ct, cn) to them today.
local function apply(ar, as, pr, ps, rt, rn, ct, cn, ttl)
  if rt > 0 or rn > 0 then
    local art, arn = pair(ar)
    redis.call('HSET', ar, 't', s(cap(art - rt)), 'n', s(cap(arn - rn)))
    local prt = pair(pr)
    redis.call('HSET', pr, 't', s(cap(prt - rt)))
  end
  local ast, asn = pair(as)
  redis.call('HSET', as, 't', s(cap(ast + ct)), 'n', s(cap(asn + cn)))
  redis.call('EXPIRE', as, ttl)
  local pst = pair(ps)
  redis.call('HSET', ps, 't', s(cap(pst + ct)))
  redis.call('EXPIRE', ps, ttl)
end

-- KEYS: agent reserved, agent spent, provider reserved, provider spent
local function standing(keys, args)
  local art, arn = pair(keys[1])
  local ast, asn = pair(keys[2])
  local prt = pair(keys[3])
  local pst = pair(keys[4])
  return {ast, art, asn, arn, pst, prt}
end

-- tombstone: an id whose release came first (its answer was lost, and the release overtook
-- it): the late call must not apply. Kept an hour; such a call arrives within seconds.
local function tombstone(key, id)
  redis.call('SADD', key, id)
  redis.call('EXPIRE', key, 3600)
end

-- KEYS: as standing + the replica's reservations, its tombstones
-- ARGV: id, tokens, nano, agent token limit, agent nano limit, provider token limit, record
local function reserve(keys, args)
  if redis.call('SISMEMBER', keys[6], args[1]) == 1 then return {2} end
  local art, arn = pair(keys[1])
  local ast, asn = pair(keys[2])
  local prt = pair(keys[3])
  local pst = pair(keys[4])
  local t, c = n(args[2]), n(args[3])
  local lt, lc, lp = n(args[4]), n(args[5]), n(args[6])
  if (lt > 0 and ast + art + t > lt) or (lc > 0 and asn + arn + c > lc) or
     (lp > 0 and pst + prt + t > lp) then
    return {0, ast, art, asn, arn, pst, prt}
  end
  art, arn, prt = cap(art + t), cap(arn + c), cap(prt + t)
  redis.call('HSET', keys[1], 't', s(art), 'n', s(arn))
  redis.call('HSET', keys[3], 't', s(prt))
  redis.call('HSET', keys[5], args[1], args[7])
  return {1, ast, art, asn, arn, pst, prt}
end

-- KEYS: as reserve. ARGV: id ('' when nothing was held), reserved tokens, reserved nano,
-- charged tokens, charged nano, spent TTL (s). Applies only while the record exists.
local function settle(keys, args)
  local rt, rn = 0, 0
  if args[1] ~= '' then
    if redis.call('HDEL', keys[5], args[1]) == 0 then
      tombstone(keys[6], args[1])
      return {}
    end
    rt, rn = n(args[2]), n(args[3])
  end
  apply(keys[1], keys[2], keys[3], keys[4], rt, rn, n(args[4]), n(args[5]), args[6])
  return standing(keys, args)
end

-- KEYS: agent in progress, agent window, the replica's slots, its tombstones
-- ARGV: slot id, concurrency limit, per-minute limit, agent
local function slot(keys, args)
  if redis.call('SISMEMBER', keys[4], args[1]) == 1 then return {3, 0, 0} end
  local c = n(redis.call('GET', keys[1]))
  local w = n(redis.call('GET', keys[2]))
  local lc, lw = n(args[2]), n(args[3])
  if lc > 0 and c >= lc then return {1, c, w} end
  if lw > 0 and w >= lw then return {2, c, w} end
  redis.call('INCR', keys[1])
  redis.call('INCR', keys[2])
  redis.call('EXPIRE', keys[2], 120)
  redis.call('HSET', keys[3], args[1], args[4])
  return {0, c + 1, w + 1}
end

-- KEYS: agent in progress, the replica's slots, its tombstones. ARGV: slot id
local function release(keys, args)
  if redis.call('HDEL', keys[2], args[1]) == 0 then
    tombstone(keys[3], args[1])
    return 0
  end
  if n(redis.call('GET', keys[1])) > 0 then redis.call('DECR', keys[1]) end
  return 1
end

-- KEYS: a replica's lease, its reservations, its slots, the replica set, its tombstones
-- ARGV: replica id, today (Unix days), spent TTL (s). Only once the lease has expired: its
-- reservations are charged in full today, its slots freed, its records deleted.
local function sweep(keys, args)
  if redis.call('EXISTS', keys[1]) == 1 then return -1 end
  local swept = 0
  local recs = redis.call('HGETALL', keys[2])
  for i = 2, #recs, 2 do
    local a, p, t, c = string.match(recs[i], '^([^\n]*)\n([^\n]*)\n(%d+)\n(%d+)$')
    if a then
      local day = '{pai}:s:' .. args[2] .. ':'
      apply('{pai}:r:' .. a, day .. a, '{pai}:r:' .. p, day .. p, n(t), n(c), n(t), n(c), args[3])
      swept = swept + 1
    end
  end
  local slots = redis.call('HGETALL', keys[3])
  for i = 2, #slots, 2 do
    local k = '{pai}:c:' .. slots[i]
    if n(redis.call('GET', k)) > 0 then redis.call('DECR', k) end
  end
  redis.call('DEL', keys[2], keys[3], keys[5])
  redis.call('SREM', keys[4], args[1])
  return swept
end

redis.register_function{function_name='pai_standing', callback=standing, flags={'no-writes'}}
redis.register_function('pai_reserve', reserve)
redis.register_function('pai_settle', settle)
redis.register_function('pai_slot', slot)
redis.register_function('pai_release', release)
redis.register_function('pai_sweep', sweep)
)lua";

constexpr int64_t kSecondsPerDay = 86400;
constexpr int kSpentTtlSeconds = 3 * 86400;
constexpr int kMaxReserveAttempts = 16;

int64_t DayOf(absl::Time t) {
  const int64_t s = absl::ToUnixSeconds(t);
  return s >= 0 ? s / kSecondsPerDay : (s - kSecondsPerDay + 1) / kSecondsPerDay;
}
int64_t SecondsToMidnight(absl::Time t) {
  return (DayOf(t) + 1) * kSecondsPerDay - absl::ToUnixSeconds(t);
}
int64_t Cap(int64_t v) { return std::clamp<int64_t>(v, 0, kRedisAmountCap); }
// Num(): an integer as Redis takes it (decimal).
template <typename Int>
std::string Num(Int v) {
  return std::to_string(v);
}

std::string ReservedKey(std::string_view scope) { return pai::StrCat("{pai}:r:", scope); }
std::string SpentKey(int64_t day, std::string_view scope) {
  return pai::StrCat("{pai}:s:", day, ":", scope);
}

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

int64_t IntAt(const redisReply* r, size_t i) {
  if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements) return 0;
  const redisReply* e = r->element[i];
  if (e->type == REDIS_REPLY_INTEGER) return e->integer;
  int64_t v = 0;
  if (e->type == REDIS_REPLY_STRING) std::from_chars(e->str, e->str + e->len, v);
  return v;
}

bool IsError(const redisReply* r) { return !r || r->type == REDIS_REPLY_ERROR; }
std::string ErrorText(const redisReply* r) {
  return r && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : std::string();
}

// Command: one Redis command's arguments, kept alive for hiredis's argv.
class Command {
 public:
  Command() = default;
  explicit Command(std::initializer_list<std::string> args) : args_(args) {}
  Command& Add(std::string a) {
    args_.push_back(std::move(a));
    return *this;
  }
  void Fill(std::vector<const char*>* argv, std::vector<size_t>* len) const {
    argv->clear();
    len->clear();
    for (const std::string& a : args_) {
      argv->push_back(a.data());
      len->push_back(a.size());
    }
  }

 private:
  std::vector<std::string> args_;
};

// Op: a settlement or a slot release the background thread applies.
struct Op {
  Command command;
  std::string agent_scope, provider_scope;  // a settlement's scopes, for the standing cache
};

class RedisBudgetStore final : public BudgetStore {
 public:
  RedisBudgetStore(RedisStoreOptions options, RedisAddress address)
      : options_(std::move(options)), address_(std::move(address)) {
    if (options_.replica_id.empty()) {
      std::random_device rd;
      const uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
      char buf[17];
      std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
      options_.replica_id = buf;
    }
    const std::string& id = options_.replica_id;
    lease_key_ = pai::StrCat("{pai}:lease:", id);
    reservations_key_ = pai::StrCat("{pai}:res:", id);
    slots_key_ = pai::StrCat("{pai}:slots:", id);
    tomb_key_ = pai::StrCat("{pai}:tomb:", id);
    worker_ = std::thread([this] { WorkerLoop(); });
  }

  ~RedisBudgetStore() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  std::optional<Rejection> AcquireSlot(const std::string& agent,
                                       const AgentLimits& limits) override {
    if (limits.concurrent_requests <= 0 && limits.requests_per_minute <= 0) return std::nullopt;
    const absl::Time now = options_.now();
    const int64_t minute = absl::ToUnixSeconds(now) / 60;
    const std::string slot = pai::StrCat("s", next_id_.fetch_add(1));
    bool sent = false;
    Reply r = Call(Command{"FCALL", "pai_slot", "4", pai::StrCat("{pai}:c:", agent),
                           pai::StrCat("{pai}:w:", minute, ":", agent), slots_key_, tomb_key_, slot,
                           Num(limits.concurrent_requests), Num(limits.requests_per_minute), agent},
                   &sent);
    if (IsError(r.get())) {
      // Sent but unanswered: Redis may hold the slot. Its release is queued (it applies only
      // if the slot's record exists), so a lost answer never leaks a slot.
      if (sent) Enqueue(ReleaseOp(agent, slot));
      return Unavailable();
    }
    const int64_t code = IntAt(r.get(), 0);
    const int64_t in_progress = IntAt(r.get(), 1);
    const int64_t window = IntAt(r.get(), 2);
    {
      std::lock_guard<std::mutex> lock(mu_);
      windows_[agent] = {minute, window};
      if (code == 0) slots_[agent].push_back(slot);
    }
    if (code == 1) {
      return Rejection{Limit::kConcurrentRequests, limits.concurrent_requests, in_progress, 1, 1};
    }
    if (code == 2) {
      return Rejection{Limit::kRequestsPerMinute, limits.requests_per_minute, window, 1,
                       60 - absl::ToUnixSeconds(now) % 60};
    }
    return std::nullopt;
  }

  void ReleaseSlot(const std::string& agent) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = slots_.find(agent);
    if (it == slots_.end() || it->second.empty()) return;  // no slot was held in Redis
    std::string slot = std::move(it->second.back());
    it->second.pop_back();
    EnqueueLocked(ReleaseOp(agent, slot));
  }

  std::variant<Reservation, Rejection> Reserve(const ReserveRequest& request) override {
    const absl::Time now = options_.now();
    const int64_t day = DayOf(now);
    ReserveRequest req = request;
    AgentLimits& lim = req.agent_limits;
    lim.tokens_per_day = std::min(lim.tokens_per_day, kRedisAmountCap);
    lim.nano_usd_per_day = std::min(lim.nano_usd_per_day, kRedisAmountCap);
    req.provider_tokens_per_day = std::min(req.provider_tokens_per_day, kRedisAmountCap);
    const bool shared =
        lim.tokens_per_day > 0 || lim.nano_usd_per_day > 0 || req.provider_tokens_per_day > 0;
    if (!shared) {
      // No budget shares state: the plan needs no standing, nothing is held in Redis.
      auto plan = PlanReservation(req, Standing{}, Standing{}, SecondsToMidnight(now));
      if (auto* r = std::get_if<Reservation>(&plan)) {
        r->id = next_id_.fetch_add(1);
        outstanding_.fetch_add(1);
      }
      return plan;
    }
    const std::string agent_scope = AgentScope(req.agent);
    const std::string provider_scope = ProviderScope(req.provider);
    const std::string keys[4] = {ReservedKey(agent_scope), SpentKey(day, agent_scope),
                                 ReservedKey(provider_scope), SpentKey(day, provider_scope)};
    Standing agent, provider;
    bool fresh = !Cached(agent_scope, provider_scope, &agent, &provider);
    if (fresh) {
      Reply r = Call(Command{"FCALL", "pai_standing", "4", keys[0], keys[1], keys[2], keys[3]});
      if (IsError(r.get())) return Unavailable();
      ReadStanding(r.get(), 0, agent_scope, provider_scope, &agent, &provider);
    }
    for (int attempt = 0; attempt < kMaxReserveAttempts; ++attempt) {
      auto plan = PlanReservation(req, agent, provider, SecondsToMidnight(now));
      auto* res = std::get_if<Reservation>(&plan);
      if (!res && fresh) return plan;
      if (!res || (!fresh && BudgetBound(req, *res, now))) {
        // Refused on a standing seen earlier: settlements since may have freed room.
        Reply r = Call(Command{"FCALL", "pai_standing", "4", keys[0], keys[1], keys[2], keys[3]});
        if (IsError(r.get())) return Unavailable();
        ReadStanding(r.get(), 0, agent_scope, provider_scope, &agent, &provider);
        fresh = true;
        continue;
      }
      res->id = next_id_.fetch_add(1);
      res->shared = true;
      const std::string record = pai::StrCat(agent_scope, "\n", provider_scope, "\n",
                                             Cap(res->tokens), "\n", Cap(res->nano_usd));
      bool sent = false;
      Reply r = Call(Command{"FCALL", "pai_reserve", "6", keys[0], keys[1], keys[2], keys[3],
                             reservations_key_, tomb_key_, Num(res->id), Num(Cap(res->tokens)),
                             Num(Cap(res->nano_usd)), Num(lim.tokens_per_day),
                             Num(lim.nano_usd_per_day), Num(req.provider_tokens_per_day), record},
                     &sent);
      if (IsError(r.get())) {
        // Sent but unanswered: Redis may hold the reservation. Its release with no charge is
        // queued (it applies only if the record exists): nothing reached the provider.
        if (sent) Enqueue(SettleOp(*res, Charge{}));
        return Unavailable();
      }
      ReadStanding(r.get(), 1, agent_scope, provider_scope, &agent, &provider);
      fresh = true;
      if (IntAt(r.get(), 0) == 1) {
        outstanding_.fetch_add(1);
        return plan;
      }
      // Another replica reserved since the standing was read: plan again on the new one.
    }
    log::Warn("budget: reservation kept losing to other replicas", {{"agent", req.agent}});
    return Unavailable();
  }

  Charge Settle(const Reservation& r, const Usage& usage) override {
    const Charge charge = ComputeCharge(r, usage);
    outstanding_.fetch_sub(1);
    if (r.shared || charge.tokens != 0 || charge.nano_usd != 0) Enqueue(SettleOp(r, charge));
    return charge;
  }

  Remaining RemainingFor(const std::string& agent, const AgentLimits& lim) override {
    const absl::Time now = options_.now();
    const int64_t minute = absl::ToUnixSeconds(now) / 60;
    std::lock_guard<std::mutex> lock(mu_);
    int64_t window = 0;
    if (auto it = windows_.find(agent); it != windows_.end() && it->second.first == minute) {
      window = it->second.second;
    }
    Standing c;
    if (auto it = standing_.find(AgentScope(agent)); it != standing_.end()) c = it->second;
    return RemainingOf(lim, c, window, now);
  }

  int64_t OutstandingReservations() override { return outstanding_.load(); }

  std::pair<int64_t, int64_t> Spent(const std::string& scope) override {
    WaitApplied(absl::Seconds(2));
    Reply r = Call(Command{"HMGET", SpentKey(DayOf(options_.now()), scope), "t", "n"});
    if (IsError(r.get())) return {0, 0};
    return {IntAt(r.get(), 0), IntAt(r.get(), 1)};
  }

  bool Available() const override { return available_.load(); }

 private:
  // SettleOp(): releases `r` (when it is held in Redis) and charges `charge` today; applies
  // only while r's record exists, so sending it twice changes nothing.
  Op SettleOp(const Reservation& r, const Charge& charge) const {
    const int64_t day = DayOf(options_.now());
    std::string agent_scope = AgentScope(r.agent);
    std::string provider_scope = ProviderScope(r.provider);
    Command c{"FCALL",
              "pai_settle",
              "6",
              ReservedKey(agent_scope),
              SpentKey(day, agent_scope),
              ReservedKey(provider_scope),
              SpentKey(day, provider_scope),
              reservations_key_,
              tomb_key_,
              r.shared ? Num(r.id) : std::string(),
              Num(Cap(r.tokens)),
              Num(Cap(r.nano_usd)),
              Num(Cap(charge.tokens)),
              Num(Cap(charge.nano_usd)),
              Num(kSpentTtlSeconds)};
    return Op{std::move(c), std::move(agent_scope), std::move(provider_scope)};
  }

  // ReleaseOp(): frees slot `slot` of `agent`; applies only while its record exists.
  Op ReleaseOp(const std::string& agent, const std::string& slot) const {
    return Op{Command{"FCALL", "pai_release", "3", pai::StrCat("{pai}:c:", agent), slots_key_,
                      tomb_key_, slot},
              {},
              {}};
  }

  // Enqueue(): for the background thread, in order. EnqueueLocked(): mu_ held.
  void Enqueue(Op op) {
    std::lock_guard<std::mutex> lock(mu_);
    EnqueueLocked(std::move(op));
  }
  void EnqueueLocked(Op op) {
    ops_.push_back(std::move(op));
    ++enqueued_total_;
    cv_.notify_one();
  }

  // Cached(): the last standing seen of both scopes, if any. mu_ not held.
  bool Cached(const std::string& agent_scope, const std::string& provider_scope, Standing* agent,
              Standing* provider) {
    std::lock_guard<std::mutex> lock(mu_);
    auto a = standing_.find(agent_scope);
    auto p = standing_.find(provider_scope);
    if (a == standing_.end() || p == standing_.end()) return false;
    *agent = a->second;
    *provider = p->second;
    return true;
  }

  // ReadStanding(): {ast, art, asn, arn, pst, prt} from element `at` on; updates the cache.
  void ReadStanding(const redisReply* r, size_t at, const std::string& agent_scope,
                    const std::string& provider_scope, Standing* agent, Standing* provider) {
    agent->spent_tokens = IntAt(r, at);
    agent->reserved_tokens = IntAt(r, at + 1);
    agent->spent_nano = IntAt(r, at + 2);
    agent->reserved_nano = IntAt(r, at + 3);
    provider->spent_tokens = IntAt(r, at + 4);
    provider->reserved_tokens = IntAt(r, at + 5);
    std::lock_guard<std::mutex> lock(mu_);
    standing_[agent_scope] = *agent;
    standing_[provider_scope] = *provider;
  }

  // BudgetBound(): the plan's output limit is below what the request would get with the whole
  // budget free — what remains bounds it, so a stale standing would cap it too low.
  static bool BudgetBound(const ReserveRequest& req, const Reservation& plan, absl::Time now) {
    if (!plan.output_limit) return false;
    auto free = PlanReservation(req, Standing{}, Standing{}, SecondsToMidnight(now));
    const auto* f = std::get_if<Reservation>(&free);
    return f && f->output_limit && *plan.output_limit < *f->output_limit;
  }

  static Rejection Unavailable() { return Rejection{Limit::kStoreUnavailable, 0, 0, 0, 1}; }

  // Connect(): a new connection with the functions callable. nullptr on failure (logged once
  // per outage).
  Context Connect() {
    const timeval tv = absl::ToTimeval(options_.timeout);
    Context c(address_.socket_path.empty()
                  ? redisConnectWithTimeout(address_.host.c_str(), address_.port, tv)
                  : redisConnectUnixWithTimeout(address_.socket_path.c_str(), tv));
    std::string error;
    if (!c || c->err) {
      error = c ? c->errstr : "out of memory";
    } else {
      redisSetTimeout(c.get(), tv);
      if (address_.socket_path.empty()) redisEnableKeepAlive(c.get());
      if (!address_.password.empty()) {
        Reply r(static_cast<redisReply*>(
            redisCommand(c.get(), "AUTH %b", address_.password.data(), address_.password.size())));
        if (IsError(r.get())) error = r ? ErrorText(r.get()) : std::string(c->errstr);
      }
      if (error.empty() && address_.db != 0) {
        Reply r(static_cast<redisReply*>(redisCommand(c.get(), "SELECT %d", address_.db)));
        if (IsError(r.get())) error = r ? ErrorText(r.get()) : std::string(c->errstr);
      }
      if (error.empty() && !loaded_.load()) error = LoadFunctions(c.get());
    }
    if (!error.empty()) {
      if (available_.exchange(false) || !down_logged_.exchange(true)) {
        log::Error("budget: Redis unreachable", {{"error", error}});
      }
      return nullptr;
    }
    return c;
  }

  std::string LoadFunctions(redisContext* c) {
    Reply r(static_cast<redisReply*>(
        redisCommand(c, "FUNCTION LOAD REPLACE %b", kLibrary.data(), kLibrary.size())));
    if (IsError(r.get())) {
      return r ? pai::StrCat("FUNCTION LOAD: ", ErrorText(r.get())) : std::string(c->errstr);
    }
    loaded_.store(true);
    return {};
  }

  // Run(): one command on `c`. Null when the connection failed (then `c` is unusable).
  static Reply Run(redisContext* c, const Command& command) {
    std::vector<const char*> argv;
    std::vector<size_t> len;
    command.Fill(&argv, &len);
    return Reply(static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), len.data())));
  }

  // Call(): one command on a pooled connection, for the calling thread. Null (or an error
  // reply) when Redis cannot answer; fails at once while the store is unavailable.
  Reply Call(const Command& command, bool* sent = nullptr) {
    if (sent) *sent = false;
    if (!available_.load()) return nullptr;
    Context c;
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!pool_.empty()) {
        c = std::move(pool_.back());
        pool_.pop_back();
      }
    }
    if (!c) c = Connect();
    if (!c) return nullptr;
    if (sent) *sent = true;
    Reply r = Run(c.get(), command);
    if (r && r->type == REDIS_REPLY_ERROR &&
        ErrorText(r.get()).find("Function not found") != std::string::npos) {
      // Redis restarted without its functions (no persistence): load them again, once.
      if (LoadFunctions(c.get()).empty()) r = Run(c.get(), command);
    }
    if (!r) {
      if (available_.exchange(false)) {
        log::Error("budget: Redis connection lost", {{"error", c->errstr}});
      }
      cv_.notify_one();  // the worker probes
      return nullptr;
    }
    if (r->type == REDIS_REPLY_ERROR) {
      const std::string e = ErrorText(r.get());
      log::Error("budget: Redis command failed", {{"error", e}});
      // A Redis that cannot serve yet (loading its data, a script running too long, a replica
      // without its primary): unavailable until the background thread's probe succeeds.
      for (std::string_view state : {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"}) {
        if (e.rfind(state, 0) == 0 && available_.exchange(false)) cv_.notify_one();
      }
    }
    std::lock_guard<std::mutex> lock(pool_mu_);
    pool_.push_back(std::move(c));
    return r;
  }

  // WaitApplied(): until every op queued before the call is applied (or `limit` passes).
  void WaitApplied(absl::Duration limit) {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t target = enqueued_total_;
    applied_cv_.wait_for(lock, absl::ToChronoMilliseconds(limit),
                         [&] { return applied_total_ >= target || stop_; });
  }

  // ApplyOps(): sends the queued ops pipelined and removes those Redis answered. False when
  // the connection failed (the rest stay queued, in order).
  bool ApplyOps(redisContext* c) {
    std::vector<Op> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const size_t n = std::min<size_t>(ops_.size(), 512);
      batch.assign(std::make_move_iterator(ops_.begin()),
                   std::make_move_iterator(ops_.begin() + static_cast<ptrdiff_t>(n)));
      ops_.erase(ops_.begin(), ops_.begin() + static_cast<ptrdiff_t>(n));
    }
    if (batch.empty()) return true;
    std::vector<const char*> argv;
    std::vector<size_t> len;
    for (const Op& op : batch) {
      op.command.Fill(&argv, &len);
      redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), len.data());
    }
    // Ops Redis refused (an error reply: still loading its data, a missing function, ...) or
    // never answered are kept, in order, for the next attempt: dropping one would lose spend
    // or leak a hold. Settlements and releases apply at most once (their records).
    std::vector<Op> retry;
    std::string refusal;
    size_t answered = 0;
    for (; answered < batch.size(); ++answered) {
      void* raw = nullptr;
      if (redisGetReply(c, &raw) != REDIS_OK) break;
      Reply r(static_cast<redisReply*>(raw));
      if (r->type == REDIS_REPLY_ERROR) {
        if (refusal.empty()) refusal = ErrorText(r.get());
        retry.push_back(std::move(batch[answered]));
      } else if (!batch[answered].agent_scope.empty() && r->type == REDIS_REPLY_ARRAY &&
                 r->elements == 6) {
        Standing agent, provider;
        ReadStanding(r.get(), 0, batch[answered].agent_scope, batch[answered].provider_scope,
                     &agent, &provider);
      }
    }
    for (size_t i = answered; i < batch.size(); ++i) retry.push_back(std::move(batch[i]));
    if (!refusal.empty()) {
      log::Error("budget: Redis refused settlements; kept to retry", {{"error", refusal}});
      if (refusal.find("Function not found") != std::string::npos) (void)LoadFunctions(c);
    }
    std::lock_guard<std::mutex> lock(mu_);
    applied_total_ += batch.size() - retry.size();
    if (!retry.empty()) {
      ops_.insert(ops_.begin(), std::make_move_iterator(retry.begin()),
                  std::make_move_iterator(retry.end()));
      return false;
    }
    applied_cv_.notify_all();
    return true;
  }

  // Beat(): renews this replica's lease and sweeps replicas whose lease expired.
  bool Beat(redisContext* c) {
    const int64_t lease_ms = absl::ToInt64Milliseconds(options_.lease);
    // An error reply (e.g. LOADING after a restart) counts as unreachable: not ready yet.
    Reply r = Run(c, Command{"SET", lease_key_, "1", "PX", Num(lease_ms)});
    if (IsError(r.get())) return false;
    r = Run(c, Command{"SADD", "{pai}:replicas", options_.replica_id});
    if (IsError(r.get())) return false;
    r = Run(c, Command{"SMEMBERS", "{pai}:replicas"});
    if (IsError(r.get())) return false;
    if (r->type != REDIS_REPLY_ARRAY) return true;
    const std::string today = Num(DayOf(options_.now()));
    for (size_t i = 0; i < r->elements; ++i) {
      const std::string id(r->element[i]->str, r->element[i]->len);
      if (id == options_.replica_id) continue;
      Reply s = Run(c, Command{"FCALL", "pai_sweep", "5", pai::StrCat("{pai}:lease:", id),
                               pai::StrCat("{pai}:res:", id), pai::StrCat("{pai}:slots:", id),
                               "{pai}:replicas", pai::StrCat("{pai}:tomb:", id), id, today,
                               Num(kSpentTtlSeconds)});
      if (!s) return false;
      // 0: a replica that stopped holding nothing; its entry is simply removed.
      if (s->type == REDIS_REPLY_INTEGER && s->integer > 0) {
        log::Warn("budget: swept an expired replica's reservations (charged in full)",
                  {{"replica", id}, {"reservations", Num(s->integer)}});
      }
    }
    return true;
  }

  void WorkerLoop() {
    Context c;
    absl::Time next_beat = absl::InfinitePast();
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      const absl::Time now = absl::Now();
      const bool beat_due = now >= next_beat;
      if (!beat_due && ops_.empty() && !stop_ && c && available_.load()) {
        cv_.wait_for(lock,
                     absl::ToChronoMilliseconds(std::max(next_beat - now, absl::Milliseconds(1))));
        continue;
      }
      const bool stopping = stop_;
      lock.unlock();
      if (!c) c = Connect();
      bool ok = c != nullptr;
      if (ok && !available_.load()) {
        // Reconnected: the functions may be gone (Redis restarted empty).
        ok = LoadFunctions(c.get()).empty();
      }
      if (ok) ok = ApplyOps(c.get());
      if (ok && (beat_due || !available_.load())) ok = Beat(c.get());
      if (ok) {
        if (!available_.load()) {
          // Back: pooled connections opened before the outage may be dead (a restarted
          // Redis); callers open fresh ones.
          {
            std::lock_guard<std::mutex> pool_lock(pool_mu_);
            pool_.clear();
          }
          available_.store(true);
          log::Info("budget: Redis reachable", {{"replica", options_.replica_id}});
          down_logged_.store(false);
        }
        if (beat_due) next_beat = absl::Now() + options_.heartbeat;
      } else {
        c.reset();
        if (available_.exchange(false)) log::Error("budget: Redis unreachable", {});
      }
      lock.lock();
      if (stopping && (ops_.empty() || !ok)) break;
      if (!ok && !stop_) {
        cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.retry_interval),
                     [this] { return stop_; });
      }
    }
    lock.unlock();
    if (c && OutstandingReservations() == 0) {
      // A clean stop holding nothing: the lease goes now instead of expiring.
      (void)Run(c.get(), Command{"DEL", lease_key_});
    }
    applied_cv_.notify_all();
  }

  RedisStoreOptions options_;
  const RedisAddress address_;
  std::string lease_key_, reservations_key_, slots_key_, tomb_key_;
  std::atomic<bool> available_{false};
  std::atomic<bool> loaded_{false};
  std::atomic<bool> down_logged_{false};
  std::atomic<uint64_t> next_id_{1};
  std::atomic<int64_t> outstanding_{0};

  std::mutex pool_mu_;
  std::vector<Context> pool_;  // guarded by pool_mu_

  // std::mutex (pthread): ThreadSanitizer sees it (the system's Abseil is not instrumented).
  std::mutex mu_;
  std::condition_variable cv_;          // ops queued, stop, a connection lost
  std::condition_variable applied_cv_;  // ops applied
  // Guarded by mu_:
  std::deque<Op> ops_;
  uint64_t enqueued_total_ = 0;  // ops ever queued
  uint64_t applied_total_ = 0;   // ops Redis answered
  absl::flat_hash_map<std::string, Standing> standing_;
  absl::flat_hash_map<std::string, std::pair<int64_t, int64_t>> windows_;  // minute, count
  absl::flat_hash_map<std::string, std::vector<std::string>> slots_;       // held slot ids
  bool stop_ = false;
  std::thread worker_;
};

absl::StatusOr<int> ParseInt(std::string_view s, std::string_view what) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) {
    return absl::InvalidArgumentError(pai::StrCat("--redis: bad ", what, " \"", s, "\""));
  }
  return v;
}

}  // namespace

absl::StatusOr<RedisAddress> ParseRedisUrl(const std::string& url) {
  RedisAddress a;
  std::string_view u = url;
  if (u.rfind("unix://", 0) == 0) {
    std::string_view rest = u.substr(7);
    if (const size_t q = rest.find('?'); q != std::string_view::npos) {
      std::string_view query = rest.substr(q + 1);
      rest = rest.substr(0, q);
      if (query.rfind("db=", 0) != 0) {
        return absl::InvalidArgumentError(
            pai::StrCat("--redis: unknown parameter \"", query, "\" (only db=N)"));
      }
      auto db = ParseInt(query.substr(3), "db");
      if (!db.ok()) return db.status();
      a.db = *db;
    }
    if (rest.empty() || rest[0] != '/') {
      return absl::InvalidArgumentError("--redis: unix:// needs an absolute socket path");
    }
    a.socket_path = std::string(rest);
    return a;
  }
  if (u.rfind("redis://", 0) != 0) {
    return absl::InvalidArgumentError(
        pai::StrCat("--redis: \"", url,
                    "\" is not redis://host[:port][/db] or unix:///path (rediss:// is "
                    "not supported)"));
  }
  std::string_view rest = u.substr(8);
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view user_info = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = user_info.find(':');
    a.password =
        std::string(colon == std::string_view::npos ? user_info : user_info.substr(colon + 1));
  }
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    if (slash + 1 < rest.size()) {
      auto db = ParseInt(rest.substr(slash + 1), "database number");
      if (!db.ok()) return db.status();
      a.db = *db;
    }
    rest = rest.substr(0, slash);
  }
  if (const size_t colon = rest.rfind(':');
      colon != std::string_view::npos && rest.find(']') == std::string_view::npos) {
    auto port = ParseInt(rest.substr(colon + 1), "port");
    if (!port.ok()) return port.status();
    if (*port == 0 || *port > 65535) return absl::InvalidArgumentError("--redis: bad port");
    a.port = *port;
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return absl::InvalidArgumentError("--redis: no host");
  a.host = std::string(rest);
  return a;
}

absl::StatusOr<std::unique_ptr<BudgetStore>> OpenRedisBudgetStore(RedisStoreOptions options) {
  // hiredis writes with write(2): a Redis that went away must not kill the process with
  // SIGPIPE. Ignored unless the process already handles it (the gateway ignores it too).
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    ::signal(SIGPIPE, SIG_IGN);
  }
  auto address = ParseRedisUrl(options.url);
  if (!address.ok()) return address.status();
  if (!options.password.empty()) address->password = options.password;
  return std::unique_ptr<BudgetStore>(
      std::make_unique<RedisBudgetStore>(std::move(options), *std::move(address)));
}

}  // namespace pai::budget
