#include "budget/budget_store.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "test_util.h"

namespace pai::budget {
namespace {

// FakeClock: a settable time, shared with the store under test.
struct FakeClock {
  std::shared_ptr<std::atomic<int64_t>> unix_s =
      std::make_shared<std::atomic<int64_t>>(1795305600 + 12 * 3600);  // 2026-11-22 12:00 UTC
  std::function<absl::Time()> fn() const {
    auto t = unix_s;
    return [t] { return absl::FromUnixSeconds(t->load()); };
  }
};

std::unique_ptr<BudgetStore> Open(const FakeClock& clock, const std::string& dir = "") {
  LocalStoreOptions o;
  o.state_dir = dir;
  o.now = clock.fn();
  auto s = OpenLocalBudgetStore(o);
  REQUIRE(s.ok());
  return std::move(*s);
}

TEST_CASE("a reservation caps the output to what remains of the daily token budget") {
  FakeClock clock;
  auto store = Open(clock);
  auto res = store->Reserve(Req(1000, 100, 5000));
  REQUIRE(std::holds_alternative<Reservation>(res));
  const Reservation& r = std::get<Reservation>(res);
  CHECK(r.output_limit == 900);
  CHECK(r.impose_output_limit);
  CHECK(r.tokens == 1000);
  // Everything is reserved: the next request is refused until the first settles.
  auto second = store->Reserve(Req(1000, 10, 10));
  REQUIRE(std::holds_alternative<Rejection>(second));
  CHECK(std::get<Rejection>(second).limit == Limit::kTokensPerDay);
  CHECK(std::get<Rejection>(second).retry_after_s == 12 * 3600);  // to 00:00 UTC
  const Charge c = store->Settle(r, Usage{true, 20, 0, 30, 0});
  CHECK(c.tokens == 50);
  CHECK(store->Spent("agent:default/coder").first == 50);
  CHECK(store->OutstandingReservations() == 0);
  CHECK(std::holds_alternative<Reservation>(store->Reserve(Req(1000, 10, 10))));
}

TEST_CASE("without any budget the request is untouched") {
  FakeClock clock;
  auto store = Open(clock);
  auto r = std::get<Reservation>(store->Reserve(Req(0, 100)));
  CHECK_FALSE(r.output_limit.has_value());
  CHECK_FALSE(r.impose_output_limit);
  auto r2 = std::get<Reservation>(store->Reserve(Req(0, 100, 64)));
  CHECK(r2.output_limit == 64);
  CHECK_FALSE(r2.impose_output_limit);
}

TEST_CASE("concurrent reserve and settle never spend past the budget and leak nothing") {
  FakeClock clock;
  auto store = Open(clock);
  constexpr int64_t kBudget = 100000;
  std::atomic<int64_t> charged{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 2000; ++i) {
        auto res = store->Reserve(Req(kBudget, 10 + rng() % 50, 1 + rng() % 200));
        if (auto* r = std::get_if<Reservation>(&res)) {
          // The provider uses at most what the reservation allows.
          const int64_t out = static_cast<int64_t>(rng() % (*r->output_limit + 1));
          const int64_t in = r->input_upper / (1 + rng() % 4);
          charged += store->Settle(*r, Usage{true, in, 0, out, 0}).tokens;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(store->OutstandingReservations() == 0);
  CHECK(store->Spent("agent:default/coder").first == charged.load());
  CHECK(charged.load() <= kBudget);
  CHECK(charged.load() > kBudget * 9 / 10);  // and the budget was actually used
}

TEST_CASE("the USD budget bounds output by price and charges cached input at its rate") {
  FakeClock clock;
  auto store = Open(clock);
  Price p;
  p.input = p.cache_write = p.cache_write_1h = NanoUsdPerToken(1.00);
  p.cached_input = NanoUsdPerToken(0.50);
  p.output = p.reasoning = NanoUsdPerToken(2.00);
  ReserveRequest req = Req(0, 100);
  req.agent_limits.nano_usd_per_day = 10'000'000;  // $0.01
  req.price = p;
  auto r = std::get<Reservation>(store->Reserve(req));
  // $0.01 - 100 × $1e-6 = 9.9e6 nano left → 4950 output tokens at 2000 nano each, capped by the
  // default model maximum.
  CHECK(r.output_limit == kDefaultMaxOutput);
  const Charge c = store->Settle(r, Usage{true, 100, 40, 10, 0});
  CHECK(c.nano_usd == 60 * 1000 + 40 * 500 + 10 * 2000);
  ReserveRequest no_price = Req(0, 10);
  no_price.agent_limits.nano_usd_per_day = 1;
  CHECK(std::get<Rejection>(store->Reserve(no_price)).limit == Limit::kPriceUnknown);
}

TEST_CASE("the per-request limit rejects what cannot fit and caps the rest") {
  FakeClock clock;
  auto store = Open(clock);
  ReserveRequest req = Req(0, 4000, 2000);  // estimate 1000
  req.agent_limits.tokens_per_request = 2500;
  CHECK(std::get<Rejection>(store->Reserve(req)).limit == Limit::kTokensPerRequest);
  req.requested_output.reset();
  auto r = std::get<Reservation>(store->Reserve(req));
  CHECK(r.output_limit == 1500);
  CHECK(r.impose_output_limit);
}

TEST_CASE("the provider's daily cap is shared by all agents") {
  FakeClock clock;
  auto store = Open(clock);
  ReserveRequest a = Req(0, 100, 100);
  a.provider_tokens_per_day = 400;
  auto ra = std::get<Reservation>(store->Reserve(a));
  store->Settle(ra, Usage{true, 100, 0, 100, 0});
  ReserveRequest b = a;
  b.agent = "default/other";
  auto rb = std::get<Reservation>(store->Reserve(b));
  CHECK(rb.output_limit == 100);  // 400 - 200 spent by the first agent - 100 input
  store->Settle(rb, Usage{true, 100, 0, 100, 0});
  ReserveRequest c = a;
  c.agent = "default/third";
  auto rc = store->Reserve(c);
  REQUIRE(std::holds_alternative<Rejection>(rc));
  CHECK(std::get<Rejection>(rc).limit == Limit::kProviderTokensPerDay);
}

TEST_CASE("the request window is a fixed 60 seconds and concurrency counts until release") {
  FakeClock clock;
  auto store = Open(clock);
  AgentLimits lim;
  lim.requests_per_minute = 2;
  lim.concurrent_requests = 1;
  CHECK_FALSE(store->AcquireSlot("a", lim).has_value());
  auto busy = store->AcquireSlot("a", lim);
  REQUIRE(busy.has_value());
  CHECK(busy->limit == Limit::kConcurrentRequests);
  store->ReleaseSlot("a");
  CHECK_FALSE(store->AcquireSlot("a", lim).has_value());
  store->ReleaseSlot("a");
  auto rpm = store->AcquireSlot("a", lim);
  REQUIRE(rpm.has_value());
  CHECK(rpm->limit == Limit::kRequestsPerMinute);
  CHECK(rpm->retry_after_s == 60);  // 12:00:00 exactly: the window ends in 60 s
  *clock.unix_s += 60;
  CHECK_FALSE(store->AcquireSlot("a", lim).has_value());
}

TEST_CASE("spend rolls over at 00:00 UTC while reservations carry over") {
  FakeClock clock;
  auto store = Open(clock);
  auto r1 = std::get<Reservation>(store->Reserve(Req(1000, 100, 100)));
  store->Settle(r1, Usage{true, 100, 0, 100, 0});
  auto r2 = std::get<Reservation>(store->Reserve(Req(1000, 100, 100)));
  CHECK(store->Spent("agent:default/coder").first == 200);
  *clock.unix_s += 12 * 3600;  // midnight
  CHECK(store->Spent("agent:default/coder").first == 0);
  store->Settle(r2, Usage{true, 50, 0, 50, 0});
  CHECK(store->Spent("agent:default/coder").first == 100);
  CHECK(store->OutstandingReservations() == 0);
}

TEST_CASE("spend survives a restart and an unsettled reservation counts as spent") {
  FakeClock clock;
  const std::string dir = TempDir();
  {
    auto store = Open(clock, dir);
    auto r = std::get<Reservation>(store->Reserve(Req(1000, 100, 100)));
    store->Settle(r, Usage{true, 100, 0, 50, 0});
    std::get<Reservation>(store->Reserve(Req(1000, 100, 100)));  // never settled: a crash
  }
  {
    auto store = Open(clock, dir);
    CHECK(store->Spent("agent:default/coder").first == 150 + 200);
    auto left = std::get<Reservation>(store->Reserve(Req(1000, 100)));
    CHECK(left.output_limit == 1000 - 350 - 100);
  }
  *clock.unix_s += 24 * 3600;
  {
    auto store = Open(clock, dir);  // the next day starts from zero
    CHECK(store->Spent("agent:default/coder").first == 0);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("an unreported usage is charged by the documented rule, never zero") {
  FakeClock clock;
  auto store = Open(clock);
  auto capped = std::get<Reservation>(store->Reserve(Req(1000, 100, 50)));
  CHECK(store->Settle(capped, Usage{false, 0, 0, 0, 4000}).tokens == 150);
  auto uncapped = std::get<Reservation>(store->Reserve(Req(0, 100)));
  const Charge c = store->Settle(uncapped, Usage{false, 0, 0, 0, 4000});
  CHECK(c.tokens == 100 + 1000);
  CHECK(c.estimated);
}

}  // namespace
}  // namespace pai::budget
