// ModelProvider spec.pricing: LiteLLM's field names (USD per token) and the older camelCase
// ones (USD per 1M tokens) give the same Price; other names are refused at load.
#include <catch2/catch.hpp>

#include "gateway/config/runtime.h"

namespace pai::gateway {
namespace {

absl::StatusOr<config::Config> Parse(const std::string& pricing) {
  return config::ParseManifests({{"t.yaml", R"(
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: claude}
spec:
  provider: anthropic
  apiKeyEnv: K
  pricing:
)" + pricing + R"(
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: coder}
spec: {models: [claude/claude-sonnet-4-5, claude/tuned]}
)"}},
                                {{"K", "sk-test"}});
}

TEST_CASE("spec.pricing takes LiteLLM's names and the camelCase ones") {
  auto cfg = Parse(
      "    claude-sonnet-4-5: {input_cost_per_token: 2.0e-6, output_cost_per_token: 1.0e-5,"
      " cache_creation_input_token_cost_above_1hr: 4.0e-6}\n"
      "    tuned: {input: 0.30, cachedInput: 0.15, output: 1.20, maxOutput: 1000}\n");
  REQUIRE(cfg.ok());
  Metrics metrics;
  auto rt = RuntimeConfig::Build(std::move(*cfg), metrics);
  REQUIRE(rt.ok());
  const AgentRuntime* agent = (*rt)->FindAgent("default/coder");
  REQUIRE(agent != nullptr);
  const budget::Price& s = *(*(*rt)->ResolveModel(*agent, "claude/claude-sonnet-4-5"))->price;
  CHECK(s.input == 2000);
  CHECK(s.output == 10000);
  CHECK(s.cache_write == 2000);  // not given: input
  CHECK(s.cache_write_1h == 4000);
  CHECK(s.max_output == 64000);  // not given: from data/prices.yaml
  CHECK(s.max_input == 1000000);
  CHECK_FALSE(s.above_200k);  // the entry replaces the table's, tiers included
  const budget::Price& t = *(*(*rt)->ResolveModel(*agent, "claude/tuned"))->price;
  CHECK(t.input == 300);
  CHECK(t.cached_input == 150);
  CHECK(t.output == 1200);
  CHECK(t.max_output == 1000);
}

TEST_CASE("spec.pricing refuses unknown names, negative rates and entries without prices") {
  auto unknown =
      Parse("    m: {input_cost_per_token: 1.0e-6, output_cost_per_token: 1.0e-6, mode: 1}\n");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().message().find("spec.pricing.m.mode: unknown field") != std::string::npos);
  CHECK_FALSE(
      Parse("    m: {input_cost_per_token: -1.0e-6, output_cost_per_token: 1.0e-6}\n").ok());
  CHECK_FALSE(Parse("    m: {cache_read_input_token_cost: 1.0e-7}\n").ok());
}

}  // namespace
}  // namespace pai::gateway
