// RedisBudgetStore against a real redis-server (started per test, tests/budget/redis_server.h).
#include "budget/redis_store.h"

#include <hiredis/hiredis.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "budget/saturating.h"
#include "redis_server.h"
#include "test_util.h"

namespace pai::budget {
namespace {

using pai::testing::RedisServer;

// WaitFor(): until `pred` holds (a state another thread reaches), at most `limit`.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

std::unique_ptr<BudgetStore> Open(const std::string& url, const std::string& replica = "",
                                  absl::Duration heartbeat = absl::Seconds(5),
                                  absl::Duration lease = absl::Seconds(20),
                                  absl::Duration timeout = absl::Milliseconds(500)) {
  RedisStoreOptions o;
  o.url = url;
  o.timeout = timeout;
  o.replica_id = replica;
  o.heartbeat = heartbeat;
  o.lease = lease;
  o.retry_interval = absl::Milliseconds(20);
  auto s = OpenRedisBudgetStore(o);
  REQUIRE(s.ok());
  return std::move(*s);
}

std::unique_ptr<BudgetStore> OpenReady(const std::string& url, const std::string& replica = "",
                                       absl::Duration heartbeat = absl::Seconds(5),
                                       absl::Duration lease = absl::Seconds(20)) {
  auto s = Open(url, replica, heartbeat, lease);
  REQUIRE(WaitFor([&] { return s->Available(); }));
  return s;
}

// Raw: a direct hiredis connection, to read or plant state the way another replica would.
class Raw {
 public:
  explicit Raw(const std::string& socket) : c_(redisConnectUnix(socket.c_str())) {
    REQUIRE(c_ != nullptr);
    REQUIRE(c_->err == 0);
  }
  ~Raw() { redisFree(c_); }
  std::string Run(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> len;
    for (const auto& a : args) {
      argv.push_back(a.data());
      len.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), len.data()));
    REQUIRE(r != nullptr);
    std::string out;
    if (r->type == REDIS_REPLY_INTEGER) out = std::to_string(r->integer);
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
        r->type == REDIS_REPLY_ERROR) {
      out.assign(r->str, r->len);
    }
    freeReplyObject(r);
    return out;
  }

 private:
  redisContext* c_;
};

TEST_CASE("redis URLs: host, port, password, database, unix socket, and clear errors") {
  auto a = ParseRedisUrl("redis://:s3cret@redis.pai.svc:6380/2");
  REQUIRE(a.ok());
  CHECK(a->host == "redis.pai.svc");
  CHECK(a->port == 6380);
  CHECK(a->password == "s3cret");
  CHECK(a->db == 2);
  auto b = ParseRedisUrl("redis://localhost");
  REQUIRE(b.ok());
  CHECK(b->port == 6379);
  CHECK(b->db == 0);
  auto u = ParseRedisUrl("unix:///run/redis.sock?db=3");
  REQUIRE(u.ok());
  CHECK(u->socket_path == "/run/redis.sock");
  CHECK(u->db == 3);
  CHECK(ParseRedisUrl("rediss://h").status().message().find("not supported") != std::string::npos);
  CHECK_FALSE(ParseRedisUrl("redis://h:99999").ok());
  CHECK_FALSE(ParseRedisUrl("redis://h:x").ok());
  CHECK_FALSE(ParseRedisUrl("redis:///0").ok());
  CHECK_FALSE(ParseRedisUrl("unix://relative.sock").ok());
  CHECK_FALSE(ParseRedisUrl("unix:///r.sock?timeout=3").ok());
}

TEST_CASE("redis store: reserve caps output to what remains and settle charges usage") {
  const std::string dir = TempDir();
  RedisServer redis(dir);
  REQUIRE(redis.Start());
  auto store = OpenReady(redis.url());
  auto res = store->Reserve(Req(1000, 100, 5000));
  REQUIRE(std::holds_alternative<Reservation>(res));
  const Reservation r = std::get<Reservation>(res);
  CHECK(r.output_limit == 900);
  CHECK(r.impose_output_limit);
  CHECK(r.shared);
  auto second = store->Reserve(Req(1000, 10, 10));
  REQUIRE(std::holds_alternative<Rejection>(second));
  CHECK(std::get<Rejection>(second).limit == Limit::kTokensPerDay);
  CHECK(std::get<Rejection>(second).used == 1000);
  CHECK(store->RemainingFor("default/coder", AgentLimits{1000}).tokens_remaining == 0);
  const Charge c = store->Settle(r, Usage{true, 20, 0, 30, 0});
  CHECK(c.tokens == 50);
  CHECK(store->Spent("agent:default/coder").first == 50);
  CHECK(store->Spent("provider:up").first == 50);
  CHECK(store->OutstandingReservations() == 0);
  // The standing cached from the refusal is stale (the reservation was settled since): the
  // store reads it again before refusing.
  auto third = store->Reserve(Req(1000, 10, 10));
  REQUIRE(std::holds_alternative<Reservation>(third));
  CHECK(store->RemainingFor("default/coder", AgentLimits{1000}).tokens_remaining == 930);
  Raw raw(redis.socket());
  CHECK(raw.Run({"HGET", "{pai}:r:agent:default/coder", "t"}) == "20");
}

TEST_CASE(
    "redis store: two replicas under concurrent load never spend past token and USD budgets") {
  const std::string dir = TempDir();
  RedisServer redis(dir);
  REQUIRE(redis.Start());
  auto a = OpenReady(redis.url(), "replica-a");
  auto b = OpenReady(redis.url(), "replica-b");
  constexpr int64_t kTokens = 60000;
  constexpr int64_t kNanoUsd = 2'000'000;  // $0.002 at 10 + 30 nano-USD per token
  Price price;
  price.input = 10;
  price.output = 30;
  price.reasoning = 30;
  std::atomic<int64_t> tokens{0}, nano{0};
  std::atomic<int> unavailable{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      BudgetStore& store = t % 2 ? *a : *b;
      std::mt19937 rng(t);
      for (int i = 0; i < 300; ++i) {
        ReserveRequest req = Req(kTokens, 10 + rng() % 50, 1 + rng() % 200);
        req.agent_limits.nano_usd_per_day = kNanoUsd;
        req.provider_tokens_per_day = kTokens * 2;
        req.price = price;
        auto res = store.Reserve(req);
        if (auto* r = std::get_if<Reservation>(&res)) {
          // The worst case: every call uses all it reserved.
          const Charge c =
              store.Settle(*r, Usage{true, r->input_upper, 0, *r->output_limit * r->choices, 0});
          tokens += c.tokens;
          nano += c.nano_usd;
        } else if (std::get<Rejection>(res).limit == Limit::kStoreUnavailable) {
          ++unavailable;  // Catch2's CHECK is not thread-safe: checked after the join
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(unavailable.load() == 0);
  const auto spent_a = a->Spent("agent:default/coder");
  const auto spent_b = b->Spent("agent:default/coder");
  CHECK(spent_a == spent_b);
  CHECK(spent_a.first == tokens.load());
  CHECK(spent_a.second == nano.load());
  CHECK(tokens.load() <= kTokens);
  CHECK(nano.load() <= kNanoUsd);
  // The budget that binds first was nearly used up: exact, not timid.
  CHECK((tokens.load() > kTokens * 9 / 10 || nano.load() > kNanoUsd * 9 / 10));
  Raw raw(redis.socket());
  CHECK(raw.Run({"HGET", "{pai}:r:agent:default/coder", "t"}) == "0");
  CHECK(raw.Run({"HLEN", "{pai}:res:replica-a"}) == "0");
  CHECK(raw.Run({"HLEN", "{pai}:res:replica-b"}) == "0");
}

TEST_CASE("redis store: concurrency and request-rate slots are shared by replicas") {
  const std::string dir = TempDir();
  RedisServer redis(dir);
  REQUIRE(redis.Start());
  auto a = OpenReady(redis.url());
  auto b = OpenReady(redis.url());
  AgentLimits lim;
  lim.concurrent_requests = 2;
  lim.requests_per_minute = 3;
  CHECK_FALSE(a->AcquireSlot("default/coder", lim).has_value());
  CHECK_FALSE(b->AcquireSlot("default/coder", lim).has_value());
  auto third = a->AcquireSlot("default/coder", lim);
  REQUIRE(third.has_value());
  CHECK(third->limit == Limit::kConcurrentRequests);
  b->ReleaseSlot("default/coder");
  (void)b->Spent("agent:default/coder");  // waits until the release is applied
  CHECK_FALSE(a->AcquireSlot("default/coder", lim).has_value());
  a->ReleaseSlot("default/coder");
  (void)a->Spent("agent:default/coder");
  auto fourth = b->AcquireSlot("default/coder", lim);
  REQUIRE(fourth.has_value());
  CHECK(fourth->limit == Limit::kRequestsPerMinute);
  CHECK(a->RemainingFor("default/coder", lim).requests_remaining == 0);
  // A release for a slot never taken changes nothing.
  b->ReleaseSlot("default/other");
  Raw raw(redis.socket());
  (void)b->Spent("x");
  CHECK(raw.Run({"GET", "{pai}:c:default/coder"}) == "1");
}

TEST_CASE(
    "redis store: an expired replica's reservations are charged in full and its slots freed") {
  const std::string dir = TempDir();
  RedisServer redis(dir);
  REQUIRE(redis.Start());
  {
    // A replica that died holding a reservation of 500 tokens and a slot (no lease left).
    Raw raw(redis.socket());
    raw.Run({"HSET", "{pai}:res:dead", "7", "agent:default/coder\nprovider:up\n500\n0"});
    raw.Run({"HSET", "{pai}:r:agent:default/coder", "t", "500", "n", "0"});
    raw.Run({"HSET", "{pai}:r:provider:up", "t", "500"});
    raw.Run({"HSET", "{pai}:slots:dead", "s1", "default/coder"});
    raw.Run({"SET", "{pai}:c:default/coder", "1"});
    raw.Run({"SADD", "{pai}:replicas", "dead", "alive"});
    // A replica whose lease still runs is left alone.
    raw.Run({"SET", "{pai}:lease:alive", "1", "PX", "60000"});
    raw.Run({"HSET", "{pai}:res:alive", "9", "agent:default/other\nprovider:up\n100\n0"});
  }
  auto store = OpenReady(redis.url(), "sweeper");  // its first heartbeat sweeps
  Raw raw(redis.socket());
  CHECK(store->Spent("agent:default/coder").first == 500);
  CHECK(store->Spent("provider:up").first == 500);
  CHECK(raw.Run({"HGET", "{pai}:r:agent:default/coder", "t"}) == "0");
  CHECK(raw.Run({"HGET", "{pai}:r:provider:up", "t"}) == "0");
  CHECK(raw.Run({"GET", "{pai}:c:default/coder"}) == "0");
  CHECK(raw.Run({"EXISTS", "{pai}:res:dead"}) == "0");
  CHECK(raw.Run({"SISMEMBER", "{pai}:replicas", "dead"}) == "0");
  CHECK(raw.Run({"HLEN", "{pai}:res:alive"}) == "1");
}

TEST_CASE("redis store: a replica that outlived its lease cannot free a swept reservation again") {
  const std::string dir = TempDir();
  RedisServer redis(dir);
  REQUIRE(redis.Start());
  auto paused = OpenReady(redis.url(), "paused");
  auto r = std::get<Reservation>(paused->Reserve(Req(10000, 100, 900)));
  CHECK(r.tokens == 1000);
  Raw raw(redis.socket());
  raw.Run({"DEL", "{pai}:lease:paused"});  // the lease ran out while the replica was stalled
  auto sweeper = OpenReady(redis.url(), "sweeper");
  CHECK(sweeper->Spent("agent:default/coder").first == 1000);
  // The stalled replica comes back and settles a smaller usage: already charged, no refund,
  // no second release of the reservation.
  paused->Settle(r, Usage{true, 50, 0, 10, 0});
  CHECK(paused->Spent("agent:default/coder").first == 1000);
  CHECK(raw.Run({"HGET", "{pai}:r:agent:default/coder", "t"}) == "0");
}

TEST_CASE("redis store: unreachable Redis refuses budgeted calls, queues settlements, recovers") {
  const std::string dir = TempDir();
  RedisServer redis(dir, /*append_only=*/true);
  auto store = Open(redis.url(), "", absl::Milliseconds(50));
  CHECK_FALSE(store->Available());
  auto refused = store->Reserve(Req(1000, 10, 10));
  REQUIRE(std::holds_alternative<Rejection>(refused));
  CHECK(std::get<Rejection>(refused).limit == Limit::kStoreUnavailable);
  AgentLimits lim;
  lim.concurrent_requests = 4;
  REQUIRE(store->AcquireSlot("default/coder", lim).has_value());
  // No budget, no limit: nothing to check, nothing refused.
  CHECK_FALSE(store->AcquireSlot("default/coder", AgentLimits{}).has_value());
  CHECK(std::holds_alternative<Reservation>(store->Reserve(Req(0, 10, 10))));

  REQUIRE(redis.Start());
  REQUIRE(WaitFor([&] { return store->Available(); }));
  auto r = std::get<Reservation>(store->Reserve(Req(1000, 100, 100)));
  redis.Kill();
  // Settled while Redis is down: charged locally at once, applied when it is back.
  CHECK(store->Settle(r, Usage{true, 80, 0, 20, 0}).tokens == 100);
  REQUIRE(WaitFor(
      [&] { return std::holds_alternative<Rejection>(store->Reserve(Req(1000, 10, 10))); }));
  CHECK_FALSE(store->Available());
  REQUIRE(redis.Start());  // the same directory: the append-only file restores the state
  REQUIRE(WaitFor([&] { return store->Available(); }));
  CHECK(store->Spent("agent:default/coder").first == 100);
  Raw raw(redis.socket());
  CHECK(raw.Run({"HGET", "{pai}:r:agent:default/coder", "t"}) == "0");
}

// Busy(): keeps Redis busy running a script for `ms` on its own connection (a Redis that
// stalls); returns once a PING with a 20 ms timeout no longer gets an answer.
std::thread Busy(const std::string& socket, int ms) {
  // Plain hiredis in the thread: Catch2's assertions are not thread-safe.
  std::thread t([socket, ms] {
    redisContext* c = redisConnectUnix(socket.c_str());
    if (!c) return;
    const std::string arg = std::to_string(ms);
    auto* r = static_cast<redisReply*>(
        redisCommand(c, "EVAL %s 0 %s",
                     "local s = redis.call('TIME') repeat local t = redis.call('TIME') until "
                     "(t[1] - s[1]) * 1000000 + (t[2] - s[2]) > tonumber(ARGV[1]) * 1000",
                     arg.c_str()));
    if (r) freeReplyObject(r);
    redisFree(c);
  });
  REQUIRE(WaitFor([&] {
    redisContext* c = redisConnectUnixWithTimeout(socket.c_str(), timeval{0, 20000});
    if (!c || c->err) {
      if (c) redisFree(c);
      return true;
    }
    redisSetTimeout(c, timeval{0, 20000});
    auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
    const bool stalled = r == nullptr;
    if (r) freeReplyObject(r);
    redisFree(c);
    return stalled;
  }));
  return t;
}

TEST_CASE("redis store: a reservation or slot whose answer was lost is released and not leaked") {
  const std::string dir = TempDir();
  RedisServer redis(dir);
  REQUIRE(redis.Start());
  auto store =
      Open(redis.url(), "slow", absl::Seconds(5), absl::Seconds(20), absl::Milliseconds(100));
  REQUIRE(WaitFor([&] { return store->Available(); }));
  // A first call caches the standing, so that the next one goes straight to pai_reserve.
  store->Settle(std::get<Reservation>(store->Reserve(Req(10000, 10, 10))), Usage{true, 0, 0, 0, 0});
  // Redis stalls for 500 ms: the calls are sent, time out after 100 ms, and Redis runs them
  // when it is back — after, or before, the releases the store queued for them.
  std::thread busy = Busy(redis.socket(), 500);
  auto refused = store->Reserve(Req(10000, 100, 100));
  REQUIRE(std::holds_alternative<Rejection>(refused));
  CHECK(std::get<Rejection>(refused).limit == Limit::kStoreUnavailable);
  busy.join();
  REQUIRE(WaitFor([&] { return store->Available(); }));
  AgentLimits lim;
  lim.concurrent_requests = 1;
  busy = Busy(redis.socket(), 500);
  auto slot = store->AcquireSlot("default/coder", lim);
  REQUIRE(slot.has_value());
  CHECK(slot->limit == Limit::kStoreUnavailable);
  busy.join();
  REQUIRE(WaitFor([&] { return store->Available(); }));
  // Nothing held, nothing charged: the next call has the whole budget and the one slot.
  CHECK(store->Spent("agent:default/coder").first == 0);
  Raw raw(redis.socket());
  CHECK(raw.Run({"HLEN", "{pai}:res:slow"}) == "0");
  CHECK(raw.Run({"HLEN", "{pai}:slots:slow"}) == "0");
  CHECK_FALSE(store->AcquireSlot("default/coder", lim).has_value());
  auto r = std::get<Reservation>(store->Reserve(Req(1000, 100)));
  CHECK(r.output_limit == 900);
}

TEST_CASE("redis store: the day's spend survives a Redis crash with the append-only file") {
  const std::string dir = TempDir();
  RedisServer redis(dir, /*append_only=*/true);
  REQUIRE(redis.Start());
  {
    auto store = OpenReady(redis.url());
    auto r = std::get<Reservation>(store->Reserve(Req(100000, 1000, 1000)));
    store->Settle(r, Usage{true, 700, 0, 300, 0});
    CHECK(store->Spent("agent:default/coder").first == 1000);
  }
  redis.Kill();  // SIGKILL: appendfsync always has every acknowledged write on disk
  REQUIRE(redis.Start());
  auto store = OpenReady(redis.url());
  CHECK(store->Spent("agent:default/coder").first == 1000);
  // What remains of a 3,000-token day after the 1,000 spent and this call's 1,000 input.
  auto r = std::get<Reservation>(store->Reserve(Req(3000, 1000)));
  CHECK(r.output_limit == 1000);
}

TEST_CASE("redis store: limits above 2^50 count as 2^50 and stay exact") {
  const std::string dir = TempDir();
  RedisServer redis(dir);
  REQUIRE(redis.Start());
  auto store = OpenReady(redis.url());
  auto res = store->Reserve(Req(kInt64Max, 1000));
  REQUIRE(std::holds_alternative<Reservation>(res));
  const Reservation r = std::get<Reservation>(res);
  store->Settle(r, Usage{true, kInt64Max, 0, kInt64Max, 0});
  const int64_t spent = store->Spent("agent:default/coder").first;
  CHECK(spent > 0);
  CHECK(spent <= kRedisAmountCap);
  auto next = store->Reserve(Req(kInt64Max, 1000));
  REQUIRE(std::holds_alternative<Reservation>(next));
  Raw raw(redis.socket());
  CHECK(raw.Run({"HGET", "{pai}:r:agent:default/coder", "t"}) ==
        std::to_string(std::get<Reservation>(next).tokens));
}

}  // namespace
}  // namespace pai::budget
