#include "config/manifest.h"

#include <catch2/catch.hpp>

namespace pai::config {
namespace {

const std::map<std::string, std::string> kEnv = {{"OPENAI_API_KEY", "sk-env"}};

absl::StatusOr<Config> Parse(const std::string& text) {
  return ParseManifests({{"test.yaml", text}}, kEnv);
}

std::string ErrorOf(const std::string& text) {
  auto c = Parse(text);
  REQUIRE_FALSE(c.ok());
  return std::string(c.status().message());
}

constexpr char kValid[] = R"(
apiVersion: v1
kind: Secret
metadata: {name: openai-key}
stringData: {api-key: sk-secret}
---
apiVersion: v1
kind: Secret
metadata: {name: b64}
data: {api-key: c2stYmFzZTY0}
---
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: openai}
spec:
  provider: openai
  apiKeySecretRef: {name: openai-key, key: api-key}
  maxTokensDay: 5000000
---
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: router}
spec: {provider: openrouter, apiKeySecretRef: {name: b64}, baseURL: "http://127.0.0.1:9/api/v1/"}
---
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: envkey}
spec: {provider: openai, apiKeyEnv: OPENAI_API_KEY}
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: coder, namespace: team}
spec:
  models: [openai/gpt-4o-mini, router/meta-llama/llama-3.1-8b]
  tokens: {maxPerDay: 50000, maxPerRequest: 8192}
  rateLimits: {maxRequestsPerMinute: 60, maxConcurrentRequests: 4, maxCostPerDayUSD: 5.0}
  guards:
  - binding: prompt-guard-default
  - binding: lakera
    scan: {prompts: false, responses: true, toolResults: {tools: [web_fetch, "*"]}}
    enforcement: enforce
  harness: claude
---
apiVersion: pai.io/v1
kind: GuardBinding
metadata: {name: prompt-guard-default}
spec:
  classifier: {type: builtin}
  threshold: 0.8
  enforcement: audit
---
apiVersion: v1
kind: Secret
metadata: {name: lakera-key}
stringData: {api-key: lk-secret}
---
apiVersion: pai.io/v1
kind: GuardBinding
metadata: {name: lakera}
spec:
  classifier:
    type: http
    url: https://api.lakera.ai/v2/guard
    format: lakera
    timeoutMs: 150
    apiKeySecretRef: {name: lakera-key}
  threshold: 0.5
  failureMode: closed
---
apiVersion: pai.io/v1
kind: Skill
metadata: {name: ignored}
spec: {}
)";

TEST_CASE("a valid multi-document manifest loads every kind the gateway uses") {
  auto c = Parse(kValid);
  REQUIRE(c.ok());
  REQUIRE(c->providers.size() == 3);
  const ModelProvider& openai = c->providers.at("default/openai");
  CHECK(openai.kind == ProviderKind::kOpenAI);
  CHECK(openai.api_key == "sk-secret");
  CHECK(openai.api_key_source == "secret default/openai-key#api-key");
  CHECK(openai.base_url == "https://api.openai.com/v1");
  CHECK(openai.max_tokens_day == 5000000);
  CHECK(c->providers.at("default/router").api_key == "sk-base64");  // data: is base64
  CHECK(c->providers.at("default/router").base_url ==
        "http://127.0.0.1:9/api/v1");  // trailing / cut
  CHECK(c->providers.at("default/envkey").api_key == "sk-env");
  CHECK(c->providers.at("default/envkey").api_key_source == "env OPENAI_API_KEY");

  const Agent& a = c->agents.at("team/coder");
  CHECK(a.models ==
        std::vector<std::string>{"openai/gpt-4o-mini", "router/meta-llama/llama-3.1-8b"});
  CHECK(a.tokens.max_per_day == 50000);
  CHECK(a.tokens.max_per_request == 8192);
  CHECK(a.rate_limits.max_requests_per_minute == 60);
  CHECK(a.rate_limits.max_concurrent_requests == 4);
  CHECK(a.rate_limits.max_cost_per_day_usd == Approx(5.0));
  REQUIRE(a.guards.size() == 2);
  CHECK(a.guards[0].binding == "prompt-guard-default");
  CHECK(a.guards[0].prompts);  // defaults: prompts on, responses and tool results off
  CHECK_FALSE(a.guards[0].responses);
  CHECK(a.guards[0].tool_results.empty());
  CHECK_FALSE(a.guards[0].enforcement.has_value());
  CHECK_FALSE(a.guards[1].prompts);
  CHECK(a.guards[1].responses);
  CHECK(a.guards[1].tool_results == std::vector<std::string>{"web_fetch", "*"});
  CHECK(a.guards[1].enforcement == GuardEnforcement::kEnforce);

  REQUIRE(c->guard_bindings.size() == 2);
  const GuardBinding& builtin = c->guard_bindings.at("default/prompt-guard-default");
  CHECK(builtin.classifier.type == GuardClassifier::Type::kBuiltin);
  CHECK(builtin.threshold == Approx(0.8));
  CHECK(builtin.enforcement == GuardEnforcement::kAudit);
  CHECK(builtin.failure_mode == GuardFailureMode::kOpen);
  CHECK(builtin.classifier.max_chars == 0);
  const GuardBinding& lakera = c->guard_bindings.at("default/lakera");
  CHECK(lakera.classifier.type == GuardClassifier::Type::kHttp);
  CHECK(lakera.classifier.format == GuardClassifier::Format::kLakera);
  CHECK(lakera.classifier.url == "https://api.lakera.ai/v2/guard");
  CHECK(lakera.classifier.timeout_ms == 150);
  CHECK(lakera.classifier.max_chars == 4096);
  CHECK(lakera.classifier.api_key == "lk-secret");
  CHECK(lakera.classifier.api_key_source == "secret default/lakera-key#api-key");
  CHECK(lakera.failure_mode == GuardFailureMode::kClosed);
  CHECK(lakera.enforcement == GuardEnforcement::kAudit);
}

constexpr char kGuardBase[] =
    "apiVersion: pai.io/v1\nkind: GuardBinding\nmetadata: {name: g}\n"
    "spec: {classifier: {type: builtin}, enforcement: enforce}\n---\n"
    "apiVersion: pai.io/v1\nkind: Agent\nmetadata: {name: a}\nspec:\n  models: [x/y]\n";

TEST_CASE("an agent guard override may tighten but not loosen its binding") {
  CHECK(Parse(std::string(kGuardBase) + "  guards: [{binding: g, enforcement: enforce}]\n").ok());
  CHECK(ErrorOf(std::string(kGuardBase) + "  guards: [{binding: g, enforcement: audit}]\n")
            .find("(Agent default/a): spec.guards[0].enforcement: \"audit\" would loosen "
                  "GuardBinding g") != std::string::npos);
}

TEST_CASE("guard configuration errors name the field") {
  CHECK(ErrorOf(std::string(kGuardBase) + "  guards: [{binding: nope}]\n")
            .find("spec.guards[0].binding: GuardBinding \"nope\" not found") != std::string::npos);
  CHECK(ErrorOf(std::string(kGuardBase) + "  guards: [{binding: g, enforcement: block}]\n")
            .find("spec.guards[0].enforcement: unknown enforcement \"block\"") !=
        std::string::npos);
  // A misspelt key would silently weaken the policy: an error, not a note.
  CHECK(ErrorOf(std::string(kGuardBase) + "  guards: [{binding: g, scan: {response: true}}]\n")
            .find("spec.guards[0].scan.response: unknown field") != std::string::npos);
  CHECK(ErrorOf(std::string(kGuardBase) + "  guards: [{binding: g, enforcment: enforce}]\n")
            .find("spec.guards[0].enforcment: unknown field") != std::string::npos);
  CHECK(ErrorOf(std::string(kGuardBase) + "  guards: [{binding: g, scan: {prompts: maybe}}]\n")
            .find("spec.guards[0].scan.prompts: expected true or false") != std::string::npos);
  const std::string binding = "apiVersion: pai.io/v1\nkind: GuardBinding\nmetadata: {name: b}\n";
  CHECK(ErrorOf(binding + "spec: {classifier: {type: bert}}\n")
            .find("spec.classifier.type: unknown classifier \"bert\"") != std::string::npos);
  CHECK(ErrorOf(binding + "spec: {classifier: {type: http}}\n")
            .find("spec.classifier.url: missing") != std::string::npos);
  CHECK(ErrorOf(binding + "spec: {classifier: {type: http, url: \"ftp://x/\"}}\n")
            .find("spec.classifier.url: scheme must be http or https") != std::string::npos);
  CHECK(ErrorOf(binding + "spec: {classifier: {type: http, url: \"http://x/a\", format: xml}}\n")
            .find("spec.classifier.format: unknown format \"xml\"") != std::string::npos);
  CHECK(ErrorOf(binding + "spec: {classifier: {type: builtin}, threshold: 1.5}\n")
            .find("spec.threshold: must be in (0, 1]") != std::string::npos);
  CHECK(ErrorOf(binding + "spec: {classifier: {type: builtin}, failureMode: maybe}\n")
            .find("spec.failureMode: unknown failure mode \"maybe\"") != std::string::npos);
  CHECK(ErrorOf(binding + "spec: {classifier: {type: http, url: \"http://x/a\", apiKeyEnv: "
                          "NOT_SET_ANYWHERE}}\n")
            .find("spec.classifier.apiKeyEnv: environment variable NOT_SET_ANYWHERE is not set") !=
        std::string::npos);
}

TEST_CASE("unknown kinds and fields are accepted and reported as ignored") {
  auto c = Parse(kValid);
  REQUIRE(c.ok());
  bool kind = false, field = false;
  for (const auto& note : c->ignored) {
    if (note.find("Skill") != std::string::npos) kind = true;
    if (note.find("spec.harness") != std::string::npos) field = true;
  }
  CHECK(kind);
  CHECK(field);
}

TEST_CASE("errors name the file / the document index and the field path") {
  const std::string err = ErrorOf(R"(
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: mock}
spec: {provider: mock}
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: coder}
spec:
  models: [mock/a, 42b]
)");
  CHECK(err.find("test.yaml: document 2 (Agent default/coder): spec.models[1]") == 0);
}

TEST_CASE("field type errors are reported with the path") {
  CHECK(ErrorOf("apiVersion: pai.io/v1\nkind: Agent\nmetadata: {name: a}\nspec: {models: 42}\n")
            .find("spec.models: expected a list") != std::string::npos);
  CHECK(ErrorOf("apiVersion: pai.io/v1\nkind: Agent\nmetadata: {name: a}\n"
                "spec: {models: [x/y], tokens: {maxPerDay: lots}}\n")
            .find("spec.tokens.maxPerDay: expected an integer") != std::string::npos);
  CHECK(ErrorOf("apiVersion: pai.io/v1\nkind: Agent\nmetadata: {name: a}\n"
                "spec: {models: [x/y], rateLimits: {maxConcurrentRequests: -1}}\n")
            .find("must not be negative") != std::string::npos);
}

TEST_CASE("provider errors: unknown provider / missing key / bad URL / wrong apiVersion") {
  CHECK(ErrorOf("apiVersion: pai.io/v1\nkind: ModelProvider\nmetadata: {name: p}\n"
                "spec: {provider: cohere, apiKeyEnv: X}\n")
            .find("spec.provider: unknown provider \"cohere\"") != std::string::npos);
  CHECK(ErrorOf("apiVersion: pai.io/v1\nkind: ModelProvider\nmetadata: {name: p}\n"
                "spec: {provider: openai}\n")
            .find("needs apiKeySecretRef or apiKeyEnv") != std::string::npos);
  CHECK(ErrorOf("apiVersion: pai.io/v1\nkind: ModelProvider\nmetadata: {name: p}\n"
                "spec: {provider: openai, apiKeyEnv: NOT_SET_ANYWHERE}\n")
            .find("spec.apiKeyEnv: environment variable NOT_SET_ANYWHERE is not set") !=
        std::string::npos);
  CHECK(ErrorOf("apiVersion: pai.io/v1\nkind: ModelProvider\nmetadata: {name: p}\n"
                "spec: {provider: openai, apiKeySecretRef: {name: nope}}\n")
            .find("spec.apiKeySecretRef.name: Secret default/nope not found") != std::string::npos);
  CHECK(ErrorOf("apiVersion: pai.io/v1\nkind: ModelProvider\nmetadata: {name: p}\n"
                "spec: {provider: openai, apiKeyEnv: OPENAI_API_KEY, baseURL: ftp://x/}\n")
            .find("spec.baseURL: scheme must be http or https") != std::string::npos);
  CHECK(ErrorOf("apiVersion: pai.io/v2\nkind: Agent\nmetadata: {name: a}\nspec: {models: [x/y]}\n")
            .find("apiVersion: expected \"pai.io/v1\"") != std::string::npos);
}

TEST_CASE("YAML syntax errors carry line and column") {
  const std::string err = ErrorOf("apiVersion: pai.io/v1\nkind: [unclosed\n");
  CHECK(err.find("test.yaml: line ") == 0);
}

TEST_CASE("duplicate resources are rejected") {
  CHECK(ErrorOf("apiVersion: pai.io/v1\nkind: Agent\nmetadata: {name: a}\nspec: {models: [x/y]}\n"
                "---\napiVersion: pai.io/v1\nkind: Agent\nmetadata: {name: a}\n"
                "spec: {models: [x/z]}\n")
            .find("document 2 (Agent default/a): metadata.name: duplicate resource") !=
        std::string::npos);
}

TEST_CASE("an agent naming a missing ModelProvider is a warning / not an error") {
  auto c =
      Parse("apiVersion: pai.io/v1\nkind: Agent\nmetadata: {name: a}\nspec: {models: [x/y]}\n");
  REQUIRE(c.ok());
  REQUIRE(c->warnings.size() == 1);
  CHECK(c->warnings[0].find("ModelProvider \"x\"") != std::string::npos);
}

TEST_CASE("SplitModelRef splits at the first slash only") {
  std::string_view p, m;
  REQUIRE(SplitModelRef("openrouter/meta-llama/llama-3", &p, &m));
  CHECK(p == "openrouter");
  CHECK(m == "meta-llama/llama-3");
  CHECK_FALSE(SplitModelRef("gpt-4o", &p, &m));
  CHECK_FALSE(SplitModelRef("/gpt-4o", &p, &m));
  CHECK_FALSE(SplitModelRef("openai/", &p, &m));
}

}  // namespace
}  // namespace pai::config

namespace pai::config {
namespace {

TEST_CASE("an empty configuration is refused (a file caught while being rewritten)") {
  auto empty = ParseManifests({{"cfg.yaml", ""}}, {});
  REQUIRE_FALSE(empty.ok());
  CHECK(std::string(empty.status().message()).find("cfg.yaml: no resources found") == 0);
  CHECK_FALSE(ParseManifests({{"cfg.yaml", "# only a comment\n---\n"}}, {}).ok());
}

}  // namespace
}  // namespace pai::config

namespace pai::config {
namespace {

TEST_CASE("provider keys are trimmed and keys with control characters are refused") {
  // `echo sk-abc | base64` → a key with a trailing newline.
  auto c = ParseManifests({{"k.yaml", R"(
apiVersion: v1
kind: Secret
metadata: {name: k}
data: {api-key: c2stYWJjCg==}
---
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: p}
spec: {provider: openai, apiKeySecretRef: {name: k}}
)"}},
                          {});
  REQUIRE(c.ok());
  CHECK(c->providers.at("default/p").api_key == "sk-abc");
  auto bad = ParseManifests({{"k.yaml",
                              "apiVersion: pai.io/v1\nkind: ModelProvider\nmetadata: {name: p}\n"
                              "spec: {provider: openai, apiKeyEnv: K}\n"}},
                            {{"K", "sk-a\r\nX-Injected: 1"}});
  REQUIRE_FALSE(bad.ok());
  CHECK(std::string(bad.status().message()).find("spec.apiKeyEnv: the API key contains") !=
        std::string::npos);
}

}  // namespace
}  // namespace pai::config
