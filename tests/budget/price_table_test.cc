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
  auto ok = PriceTable::Parse("openai/x: {input: 0.1, output: 0.2}", "t");
  REQUIRE(ok.ok());
  CHECK(ok->Find("openai", "x")->cached_input == 100);  // defaults to input
}

}  // namespace
}  // namespace pai::budget
