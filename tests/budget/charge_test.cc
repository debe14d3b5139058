// Reservations for several choices, saturating arithmetic and the checks on provider usage
// (issue 12, items 2 and 3), and CostOf() against bills computed by hand from the providers'
// price pages (item 4).
#include <catch2/catch.hpp>

#include "budget/budget_store.h"
#include "budget/saturating.h"
#include "test_util.h"

namespace pai::budget {
namespace {

std::unique_ptr<BudgetStore> Store() {
  LocalStoreOptions o;
  o.now = [] { return absl::FromUnixSeconds(1795305600 + 12 * 3600); };
  auto s = OpenLocalBudgetStore(o);
  REQUIRE(s.ok());
  return std::move(*s);
}

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

TEST_CASE("saturating arithmetic sticks at the int64 bounds") {
  CHECK(SatAdd(kMax, kMax) == kMax);
  CHECK(SatAdd(kMax, 1) == kMax);
  CHECK(SatAdd(kInt64Min, -1) == kInt64Min);
  CHECK(SatSub(kInt64Min, 1) == kInt64Min);
  CHECK(SatSub(0, kInt64Min) == kMax);
  CHECK(SatMul(kMax, 2) == kMax);
  CHECK(SatMul(kMax, -2) == kInt64Min);
  CHECK(SatMul(3, 4) == 12);
}

TEST_CASE("n choices share the output that remains: the cap is per choice") {
  auto store = Store();
  // 3,000 tokens, 77 bytes of input, 50 choices: 2,923 left → 58 per choice.
  auto r = std::get<Reservation>(store->Reserve(Req(3000, 77, std::nullopt, 50)));
  CHECK(r.output_limit == 58);
  CHECK(r.impose_output_limit);
  CHECK(r.choices == 50);
  CHECK(r.tokens == 77 + 58 * 50);
  CHECK(r.tokens <= 3000);
  // What is left (23 tokens) gives less than one per choice: refused, naming the choices.
  auto refused = std::get<Rejection>(store->Reserve(Req(3000, 0, std::nullopt, 50)));
  CHECK(refused.limit == Limit::kTokensPerDay);
  CHECK(refused.per_choice);
  // One choice still fits.
  CHECK(std::holds_alternative<Reservation>(store->Reserve(Req(3000, 0, std::nullopt, 1))));
}

TEST_CASE("the per-request limit counts n times max_tokens and never overflows") {
  auto store = Store();
  ReserveRequest req = Req(0, 400, 300, 10);  // estimate 100 + 10 × 300 > 2000
  req.agent_limits.tokens_per_request = 2000;
  auto r = std::get<Rejection>(store->Reserve(req));
  CHECK(r.limit == Limit::kTokensPerRequest);
  CHECK(r.requested == 100 + 3000);
  CHECK_FALSE(r.per_choice);  // 10 choices of one token would fit
  req.choices = 1;
  CHECK(std::holds_alternative<Reservation>(store->Reserve(req)));
  // max_tokens: 9223372036854775807 is refused like 2,000 is (it used to wrap negative).
  req.requested_output = kMax;
  auto big = std::get<Rejection>(store->Reserve(req));
  CHECK(big.limit == Limit::kTokensPerRequest);
  CHECK(big.requested == kMax);
  req.requested_output = kMax;
  req.choices = kMax;
  CHECK(std::get<Rejection>(store->Reserve(req)).limit == Limit::kTokensPerRequest);
}

TEST_CASE(
    "an unlimited agent asking for INT64_MAX output with many choices reserves without overflow") {
  auto store = Store();
  auto r = std::get<Reservation>(store->Reserve(Req(0, 100, kMax, 50)));
  CHECK(r.tokens == kMax);
  CHECK(store->Settle(r, Usage{true, 10, 0, 5, 0}).tokens == 15);
}

TEST_CASE("negative usage is missing usage: the reservation is charged, never credited") {
  auto store = Store();
  auto r = std::get<Reservation>(store->Reserve(Req(3000, 100, 50)));
  const Charge c = store->Settle(r, Usage{true, -1000000, 0, -1000000, 0});
  CHECK(c.check == UsageCheck::kNegative);
  CHECK(c.tokens == 150);
  CHECK(c.estimated);
  CHECK(store->Spent("agent:default/coder").first == 150);
  // A negative part (cache reads) makes the whole usage invalid too.
  auto r2 = std::get<Reservation>(store->Reserve(Req(3000, 100, 50)));
  CHECK(store->Settle(r2, Usage{true, 10, -5, 5, 0}).check == UsageCheck::kNegative);
}

TEST_CASE("usage above the reservation is charged as reported, up to the sanity ceiling") {
  auto store = Store();
  Price p;
  p.input = p.cache_write = p.cache_write_1h = p.cached_input = 1000;
  p.output = p.reasoning = 2000;
  p.max_input = 200000;
  ReserveRequest req = Req(0, 100, 50);
  req.price = p;
  auto r = std::get<Reservation>(store->Reserve(req));
  const Charge above = store->Settle(r, Usage{true, 5000, 0, 40, 0});
  CHECK(above.check == UsageCheck::kAboveReservation);
  CHECK(above.tokens == 5040);
  CHECK(above.nano_usd == 5000 * 1000 + 40 * 2000);

  // Without an output limit the reservation does not bound the output: not "above" it.
  auto unbounded = std::get<Reservation>(store->Reserve(Req(0, 100)));
  CHECK(store->Settle(unbounded, Usage{true, 90, 0, 5000, 0}).check == UsageCheck::kOk);

  // INT64_MAX input and output: no wrap-around; the context window + the output cap.
  auto r2 = std::get<Reservation>(store->Reserve(req));
  const Charge huge = store->Settle(r2, Usage{true, kMax, 0, kMax, 0});
  CHECK(huge.check == UsageCheck::kAboveCeiling);
  CHECK(huge.tokens == 200000 + 50);
  CHECK(huge.nano_usd == 200000 * 1000 + 50 * 2000);
  CHECK(store->Spent("agent:default/coder").first == 5040 + 5090 + 200050);

  // A token budget is spent, not wrapped: the agent is refused afterwards.
  ReserveRequest other = Req(3000, 100, 50);
  other.agent = "default/other";
  auto budgeted = std::get<Reservation>(store->Reserve(other));
  store->Settle(budgeted, Usage{true, kMax, 0, kMax, 0});
  other.input_upper = 1;
  other.requested_output = 1;
  CHECK(std::holds_alternative<Rejection>(store->Reserve(other)));
  CHECK(store->RemainingFor("default/other", AgentLimits{3000}).tokens_remaining == 0);
}

Price Sonnet45() {
  // anthropic.com/pricing, Claude Sonnet 4.5: $3 input, $15 output, $3.75 5-minute cache
  // writes, $6 1-hour cache writes, $0.30 cache reads; above 200k input tokens $6 / $22.50,
  // writes $7.50 / $12, reads $0.60 (per MTok).
  auto p = PriceFromFields({{"input_cost_per_token", 3e-6},
                            {"output_cost_per_token", 1.5e-5},
                            {"cache_creation_input_token_cost", 3.75e-6},
                            {"cache_creation_input_token_cost_above_1hr", 6e-6},
                            {"cache_read_input_token_cost", 3e-7},
                            {"input_cost_per_token_above_200k_tokens", 6e-6},
                            {"output_cost_per_token_above_200k_tokens", 2.25e-5},
                            {"cache_creation_input_token_cost_above_200k_tokens", 7.5e-6},
                            {"cache_creation_input_token_cost_above_1hr_above_200k_tokens", 1.2e-5},
                            {"cache_read_input_token_cost_above_200k_tokens", 6e-7}},
                           "sonnet");
  REQUIRE(p.ok());
  return *p;
}

TEST_CASE("Anthropic bills cache writes by TTL, cache reads, and the long-context tier") {
  const Price p = Sonnet45();
  Usage u;
  u.input = 1000 + 3000 + 5000;  // input_tokens + cache_creation + cache_read
  u.cached_input = 5000;
  u.cache_write = 3000;
  u.cache_write_1h = 2000;
  u.output = 4;
  // 1,000 × $3 + 1,000 × $3.75 + 2,000 × $6 + 5,000 × $0.30 + 4 × $15 (per MTok)
  // = $0.003 + $0.00375 + $0.012 + $0.0015 + $0.00006 = $0.02031
  CHECK(CostOf(p, u) == 20'310'000);
  Usage longer;
  longer.input = 150000 + 1000 + 60000;  // 211,000 > 200k
  longer.cached_input = 60000;
  longer.cache_write = 1000;
  longer.output = 4;
  // 150,000 × $6 + 1,000 × $7.50 + 60,000 × $0.60 + 4 × $22.50 = $0.94359
  CHECK(CostOf(p, longer) == 943'590'000);
  Usage at_threshold = longer;  // exactly 200,000 input tokens: the base tier
  at_threshold.input = 200000;
  at_threshold.cached_input = 0;
  at_threshold.cache_write = 0;
  // 200,000 × $3 + 4 × $15 = $0.60006
  CHECK(CostOf(p, at_threshold) == 600'060'000);
}

TEST_CASE("Gemini thinking is billed as output, OpenAI reasoning is not counted twice") {
  // ai.google.dev pricing, Gemini 2.5 Pro: $1.25 input, $10 output (thinking included), $0.125
  // cached; above 200k input tokens $2.50 / $15 / $0.25.
  auto gemini = PriceFromFields({{"input_cost_per_token", 1.25e-6},
                                 {"output_cost_per_token", 1e-5},
                                 {"cache_read_input_token_cost", 1.25e-7},
                                 {"input_cost_per_token_above_200k_tokens", 2.5e-6},
                                 {"output_cost_per_token_above_200k_tokens", 1.5e-5},
                                 {"cache_read_input_token_cost_above_200k_tokens", 2.5e-7}},
                                "gemini");
  REQUIRE(gemini.ok());
  Usage g;
  g.input = 10000;  // promptTokenCount, 4,000 of them cached
  g.cached_input = 4000;
  g.output = 300 + 700;  // candidatesTokenCount + thoughtsTokenCount
  g.reasoning = 700;
  // 6,000 × $1.25 + 4,000 × $0.125 + 1,000 × $10 = $0.0075 + $0.0005 + $0.01 = $0.018
  CHECK(CostOf(*gemini, g) == 18'000'000);
  g.input = 250000;  // above 200k: 246,000 × $2.50 + 4,000 × $0.25 + 1,000 × $15 = $0.631
  CHECK(CostOf(*gemini, g) == 631'000'000);

  // openai.com/api/pricing, o4-mini: $1.10 input, $0.275 cached, $4.40 output; reasoning
  // tokens are part of completion_tokens and billed once, as output.
  auto o4 = PriceFromFields({{"input_cost_per_token", 1.1e-6},
                             {"cache_read_input_token_cost", 2.75e-7},
                             {"output_cost_per_token", 4.4e-6}},
                            "o4-mini");
  REQUIRE(o4.ok());
  Usage o;
  o.input = 2000;
  o.cached_input = 1000;
  o.output = 500;
  o.reasoning = 400;
  // 1,000 × $1.10 + 1,000 × $0.275 + 500 × $4.40 = $0.0011 + $0.000275 + $0.0022 = $0.003575
  CHECK(CostOf(*o4, o) == 3'575'000);
}

TEST_CASE("a USD reservation assumes the highest rate a token can be billed at") {
  auto store = Store();
  ReserveRequest req = Req(0, 1000, 100);
  req.price = Sonnet45();
  req.agent_limits.nano_usd_per_day = 10'000'000'000;  // $10
  auto r = std::get<Reservation>(store->Reserve(req));
  // 1,000 input tokens that could all be 1-hour cache writes ($6) + 100 output at $15.
  CHECK(r.nano_usd == 1000 * 6000 + 100 * 15000);
  // Above 200k tokens of input bound, the long-context rates.
  req.input_upper = 300000;
  auto big = std::get<Reservation>(store->Reserve(req));
  CHECK(big.nano_usd == 300000LL * 12000 + 100 * 22500);
}

}  // namespace
}  // namespace pai::budget
