#include "gateway/config/runtime.h"

#include <catch2/catch.hpp>

#include "gateway/http/errors.h"

namespace pai::gateway {
namespace {

std::shared_ptr<const RuntimeConfig> Build(Metrics& metrics) {
  auto cfg = config::ParseManifests({{"t.yaml", R"(
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: up}
spec: {provider: openai, apiKeyEnv: K, baseURL: "http://127.0.0.1:8089/v1"}
---
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: other}
spec: {provider: openai, apiKeyEnv: K}
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: coder}
spec: {models: [up/gpt-4o-mini, up/meta/llama, gone/model-x]}
)"}},
                                    {{"K", "sk-test"}});
  REQUIRE(cfg.ok());
  auto rt = RuntimeConfig::Build(std::move(*cfg), metrics);
  REQUIRE(rt.ok());
  return *rt;
}

TEST_CASE("model resolution: exact / bare id / not allowed / unknown") {
  Metrics metrics;
  auto rt = Build(metrics);
  const AgentRuntime* agent = rt->FindAgent("default/coder");
  REQUIRE(agent != nullptr);
  CHECK(rt->FindAgent("default/nobody") == nullptr);

  auto exact = rt->ResolveModel(*agent, "up/gpt-4o-mini");
  REQUIRE(exact.ok());
  CHECK((*exact)->model_id == "gpt-4o-mini");
  CHECK((*exact)->provider->authorization == "Bearer sk-test");
  CHECK((*exact)->provider->endpoint.host == "127.0.0.1");

  auto nested = rt->ResolveModel(*agent, "up/meta/llama");
  REQUIRE(nested.ok());
  CHECK((*nested)->model_id == "meta/llama");

  auto bare = rt->ResolveModel(*agent, "gpt-4o-mini");
  REQUIRE(bare.ok());
  CHECK((*bare)->ref == "up/gpt-4o-mini");

  auto forbidden = rt->ResolveModel(*agent, "other/gpt-4o");
  CHECK(ToApiError(forbidden.status()).http_status == 403);
  CHECK(ToApiError(forbidden.status()).code == "model_not_allowed");
  auto forbidden_same_provider = rt->ResolveModel(*agent, "up/gpt-4o");
  CHECK(ToApiError(forbidden_same_provider.status()).http_status == 403);

  auto unknown = rt->ResolveModel(*agent, "nope/gpt-4o");
  CHECK(ToApiError(unknown.status()).http_status == 404);
  CHECK(ToApiError(unknown.status()).code == "model_not_found");
  // Allowed on paper, but its ModelProvider is not configured.
  CHECK(ToApiError(rt->ResolveModel(*agent, "gone/model-x").status()).http_status == 404);
}

TEST_CASE("endpoints are parsed from the base URL only") {
  auto ep = ParseEndpoint("https://api.openai.com/v1");
  REQUIRE(ep.ok());
  CHECK(ep->tls);
  CHECK(ep->port == "443");
  CHECK(ep->base_path == "/v1");
  CHECK(ep->host_header == "api.openai.com");
  auto local = ParseEndpoint("http://127.0.0.1:8089/api/v1/");
  REQUIRE(local.ok());
  CHECK_FALSE(local->tls);
  CHECK(local->base_path == "/api/v1");
  CHECK(local->host_header == "127.0.0.1:8089");
  auto v6 = ParseEndpoint("http://[::1]:9000");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->host_header == "[::1]:9000");
  CHECK_FALSE(ParseEndpoint("not a url").ok());
}

}  // namespace
}  // namespace pai::gateway
