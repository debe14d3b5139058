#include "budget/price_table.h"

#include <catch2/catch.hpp>

namespace pai::budget {
namespace {

TEST_CASE("the compiled-in price table resolves exact ids, dated variants and wildcards") {
  const PriceTable& t = PriceTable::Default();
  REQUIRE(t.size() > 10);
  auto mini = t.Find("openai", "gpt-4o-mini");
  REQUIRE(mini);
  CHECK(mini->input == 150);  // $0.15 / 1M tokens = 150 nano-USD per token
  CHECK(mini->output == 600);
  CHECK(mini->cached_input == 75);
  CHECK(mini->max_output == 16384);
  auto dated = t.Find("openai", "gpt-4o-mini-2024-07-18");
  REQUIRE(dated);
  CHECK(dated->input == 150);
  auto gpt4o = t.Find("openai", "gpt-4o-2024-08-06");  // not gpt-4o-mini
  REQUIRE(gpt4o);
  CHECK(gpt4o->input == 2500);
  CHECK(t.Find("mock", "anything"));
  CHECK_FALSE(t.Find("openai", "unknown-model"));
}

TEST_CASE("price entries need input and output") {
  CHECK_FALSE(PriceTable::Parse("openai/x: {input: 1}", "t").ok());
  CHECK_FALSE(PriceTable::Parse("openai/x: {input: -1, output: 1}", "t").ok());
  CHECK_FALSE(PriceTable::Parse("openai/x: {input_cost_per_token: 1e-6}", "t").ok());
  auto ok = PriceTable::Parse("openai/x: {input: 0.1, output: 0.2}", "t");
  REQUIRE(ok.ok());
  CHECK(ok->Find("openai", "x")->cached_input == 100);  // defaults to input
}

TEST_CASE("LiteLLM field names: USD per token, cache writes by TTL, long-context tier, limits") {
  auto t = PriceTable::Parse(
      "anthropic/m: {input_cost_per_token: 3.0e-6, output_cost_per_token: 1.5e-5,"
      " cache_creation_input_token_cost: 3.75e-6, cache_creation_input_token_cost_above_1hr: "
      "6.0e-6,"
      " cache_read_input_token_cost: 3.0e-7, input_cost_per_token_above_200k_tokens: 6.0e-6,"
      " output_cost_per_token_above_200k_tokens: 2.25e-5, max_input_tokens: 1000000,"
      " max_output_tokens: 64000}\n"
      "openai/n: {input_cost_per_token: 5.0e-8, output_cost_per_token: 4.0e-7}\n",
      "t");
  REQUIRE(t.ok());
  const Price m = *t->Find("anthropic", "m");
  CHECK(m.input == 3000);
  CHECK(m.output == 15000);
  CHECK(m.cache_write == 3750);
  CHECK(m.cache_write_1h == 6000);
  CHECK(m.cached_input == 300);
  CHECK(m.reasoning == 15000);  // reasoning at the output price
  CHECK(m.max_input == 1000000);
  CHECK(m.max_output == 64000);
  REQUIRE(m.above_200k);
  CHECK(m.above_200k->input == 6000);
  CHECK(m.above_200k->output == 22500);
  CHECK(m.above_200k->cached_input == 300);  // not named: the base rate
  CHECK(&m.RatesFor(200000) == static_cast<const Rates*>(&m));
  CHECK(m.RatesFor(200001).input == 6000);
  const Price n = *t->Find("openai", "n");
  CHECK(n.input == 50);
  CHECK(n.cache_write == 50);  // no cache-write price: writes bill as input
  CHECK(n.cache_write_1h == 50);
  CHECK_FALSE(n.above_200k);
  // Unknown names are refused (a typo would silently price at the defaults).
  CHECK_FALSE(
      PriceTable::Parse("openai/x: {input_cost_per_token: 1e-6, output_cost_per_token: 1e-6,"
                        " cache_read_cost: 1e-7}",
                        "t")
          .ok());
}

TEST_CASE("the compiled-in table prices cache writes, reads and long context as billed") {
  const PriceTable& t = PriceTable::Default();
  // anthropic.com/pricing: Sonnet 4.5 $3 / $15, writes $3.75 (5m) / $6 (1h), reads $0.30;
  // > 200k: $6 / $22.50, writes $7.50 / $12, reads $0.60 (per MTok).
  const Price s = *t.Find("anthropic", "claude-sonnet-4-5-20250929");
  CHECK(s.input == 3000);
  CHECK(s.output == 15000);
  CHECK(s.cache_write == 3750);
  CHECK(s.cache_write_1h == 6000);
  CHECK(s.cached_input == 300);
  REQUIRE(s.above_200k);
  CHECK(s.above_200k->input == 6000);
  CHECK(s.above_200k->output == 22500);
  CHECK(s.above_200k->cache_write == 7500);
  CHECK(s.above_200k->cache_write_1h == 12000);
  CHECK(s.above_200k->cached_input == 600);
  // Haiku 4.5: $1 / $5, writes $1.25 / $2, reads $0.10.
  const Price h = *t.Find("anthropic", "claude-haiku-4-5");
  CHECK(h.cache_write == 1250);
  CHECK(h.cache_write_1h == 2000);
  CHECK(h.cached_input == 100);
  CHECK_FALSE(h.above_200k);
  // ai.google.dev: Gemini 2.5 Pro $1.25 / $10, cached $0.125; > 200k $2.50 / $15 / $0.25.
  const Price g = *t.Find("gemini", "gemini-2.5-pro");
  CHECK(g.input == 1250);
  CHECK(g.output == 10000);
  CHECK(g.cached_input == 125);
  REQUIRE(g.above_200k);
  CHECK(g.above_200k->input == 2500);
  CHECK(g.above_200k->output == 15000);
  CHECK(g.above_200k->cached_input == 250);
  CHECK(g.max_input == 1048576);
}

}  // namespace
}  // namespace pai::budget
