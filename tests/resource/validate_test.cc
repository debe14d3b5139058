#include <catch2/catch.hpp>

#include "resource/resource.h"
#include "test_util.h"

namespace pai::resource {
namespace {

using testing::Describe;
using testing::Errors;
using testing::RequireOneError;

// A valid session-spawning Agent; tests append one field to its spec.
std::string Agent(const std::string& extra_spec) {
  return "apiVersion: pai.io/v1\nkind: Agent\nmetadata: {name: a1, namespace: team-a}\nspec:\n"
         "  models: [anthropic/claude-sonnet-4-6]\n" +
         extra_spec;
}

TEST_CASE("a minimal Agent is valid") {
  auto e = Errors(Agent(""));
  INFO(Describe(e));
  CHECK(e.empty());
}

TEST_CASE("runAsUser 0 is rejected") {
  RequireOneError(Errors(Agent("  runAsUser: 0\n")), "spec.runAsUser",
                  "must not be 0 (root is rejected)");
  CHECK(Errors(Agent("  runAsUser: 1000\n")).empty());
  RequireOneError(Errors(Agent("  runAsUser: -1\n")), "spec.runAsUser", "must be >= 0");
}

TEST_CASE("a long-running Agent with triggers is rejected on spec.triggers") {
  RequireOneError(Errors(Agent("  longRunning: true\n  harness: custom\n  image: x\n"
                               "  triggers: [{schedule: '0 9 * * 1'}]\n")),
                  "spec.triggers");
  CHECK(Errors(Agent("  longRunning: true\n  harness: custom\n  image: x\n  triggers: []\n"))
            .empty());
}

TEST_CASE("harness custom needs an image, long-running needs image and harness custom") {
  RequireOneError(Errors(Agent("  harness: custom\n")), "spec.image",
                  "required when spec.harness is custom");
  RequireOneError(Errors(Agent("  longRunning: true\n")), "spec.image",
                  "required when spec.longRunning is true");
  RequireOneError(Errors(Agent("  longRunning: true\n  image: x\n  harness: claude\n")),
                  "spec.harness");
  CHECK(Errors(Agent("  longRunning: true\n  image: x\n  harness: custom\n")).empty());
}

TEST_CASE("an unknown harness is named with the allowed ones") {
  RequireOneError(Errors(Agent("  harness: gpt\n")), "spec.harness",
                  "unknown harness \"gpt\" (expected one of default, claude, codex, custom)");
}

TEST_CASE("an unknown tool type is reported on its index") {
  RequireOneError(Errors(Agent("  tools: [{type: bash}, {type: read}, {type: foo}]\n")),
                  "spec.tools[2].type",
                  "unknown tool type \"foo\" (expected one of bash, read, write, edit, glob, "
                  "grep, web_fetch, web_search, send_email, screenshot, custom)");
}

TEST_CASE("a custom tool needs name, description and inputSchema") {
  auto e = Errors(Agent("  tools: [{type: custom, name: t}]\n"));
  INFO(Describe(e));
  REQUIRE(e.size() == 2);
  CHECK(e[0].field == "spec.tools[0].description");
  CHECK(e[1].field == "spec.tools[0].inputSchema");
}

TEST_CASE("triggers: unknown kind, several kinds, bad cron") {
  RequireOneError(Errors(Agent("  triggers: [{discord: {channel: x}}]\n")),
                  "spec.triggers[0].discord",
                  "unknown trigger kind \"discord\" (expected one of telegram, email, slack, "
                  "webhook, schedule)");
  RequireOneError(Errors(Agent("  triggers: [{schedule: '0 9 * * 1', webhook: {}}]\n")),
                  "spec.triggers[0]",
                  "must set exactly one of telegram, email, slack, webhook, schedule (found "
                  "schedule, webhook)");
  RequireOneError(Errors(Agent("  triggers: [{webhook: {}}, {schedule: '0 9 * *'}]\n")),
                  "spec.triggers[1].schedule",
                  "expected a 5-field cron expression (minute hour day-of-month month "
                  "day-of-week), got 4 fields in \"0 9 * *\"");
  CHECK(Errors(Agent("  triggers: [{schedule: '@daily'}]\n")).empty());
  RequireOneError(Errors(Agent("  triggers: [{telegram: {chatId: x, bot: y}}]\n")),
                  "spec.triggers[0].telegram.bot", "unknown field \"bot\"");
}

TEST_CASE("idleTimeout and idleTimeoutMinutes must agree without a conversational trigger") {
  RequireOneError(Errors(Agent("  idleTimeout: 15m\n  idleTimeoutMinutes: 30\n")),
                  "spec.idleTimeoutMinutes");
  RequireOneError(Errors(Agent("  idleTimeout: 15m\n  idleTimeoutMinutes: 30\n"
                               "  triggers: [{schedule: '0 9 * * 1'}]\n")),
                  "spec.idleTimeoutMinutes");
  CHECK(Errors(Agent("  idleTimeout: 30m\n  idleTimeoutMinutes: 30\n")).empty());
  CHECK(Errors(Agent("  idleTimeout: 15m\n  idleTimeoutMinutes: 30\n"
                     "  triggers: [{telegram: {chatId: '-1', provider: tg}}]\n"))
            .empty());
  RequireOneError(Errors(Agent("  idleTimeout: soon\n")), "spec.idleTimeout",
                  "expected a duration such as 15m, 1h or 1h30m (got \"soon\")");
}

TEST_CASE("a guard may not loosen its GuardBinding's enforcement") {
  Lookup lookup;
  lookup.guard_binding = [](std::string_view name) -> std::optional<boost::json::object> {
    if (name == "strict") return boost::json::object{{"enforcement", "enforce"}};
    if (name == "lenient") return boost::json::object{{"enforcement", "audit"}};
    return std::nullopt;
  };
  const std::string guards =
      "  guards:\n  - {binding: lenient, enforcement: audit}\n"
      "  - {binding: strict, enforcement: audit}\n  - {binding: missing, enforcement: audit}\n";
  RequireOneError(Errors(Agent(guards), lookup), "spec.guards[1].enforcement");
  CHECK(Errors(Agent(guards)).empty());  // no lookup: the rule is skipped
  CHECK(Errors(Agent("  guards: [{binding: strict, enforcement: enforce}]\n"), lookup).empty());
}

TEST_CASE("schema errors name the field and say what is wrong") {
  RequireOneError(Errors(Agent("  foo: 1\n")), "spec.foo", "unknown field \"foo\"");
  RequireOneError(Errors(Agent("  guards: [{binding: g, enforcment: audit}]\n")),
                  "spec.guards[0].enforcment", "unknown field \"enforcment\"");
  RequireOneError(Errors(Agent("  guards: [{binding: g, enforcement: strict}]\n")),
                  "spec.guards[0].enforcement",
                  "unknown value \"strict\" (expected one of audit, enforce)");
  RequireOneError(Errors(Agent("  guards: [{scan: {prompts: true}}]\n")), "spec.guards[0].binding",
                  "required field is missing");
  RequireOneError(Errors(Agent("  tokens: {maxPerDay: lots}\n")), "spec.tokens.maxPerDay",
                  "expected an integer, got a string");
  RequireOneError(Errors(Agent("  rateLimits: {maxCostPerDayUSD: -1.5}\n")),
                  "spec.rateLimits.maxCostPerDayUSD", "must be >= 0");
  RequireOneError(Errors(Agent("  autoscaling: {minReplicas: 1}\n")),
                  "spec.autoscaling.maxReplicas", "required field is missing");
  RequireOneError(Errors(Agent("  volumes: [{name: w, mountPath: /w, size: [1]}]\n")),
                  "spec.volumes[0].size", "expected an integer or a string, got a list");
}

TEST_CASE("free-form places accept anything") {
  auto e = Errors(
      Agent("  tools: [{type: custom, name: t, description: d, inputSchema: {type: object, "
            "properties: {x: {type: string, anything: [1]}}}}]\n"
            "  providers: [gh, {name: aws, policy: {allow: ['s3:Get']}, scope: {resources: [a]}}]\n"
            "  webhook: true\n"));
  INFO(Describe(e));
  CHECK(e.empty());
  RequireOneError(Errors(Agent("  providers: [{name: aws, polcy: {}}]\n")),
                  "spec.providers[0].polcy", "unknown field \"polcy\"");
  RequireOneError(Errors(Agent("  providers: [7]\n")), "spec.providers[0]");
}

TEST_CASE("models must be <modelprovider>/<model-id>") {
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: Agent\nmetadata: {name: a}\n"
                         "spec: {models: [a/b, gemini-flash]}\n"),
                  "spec.models[1]", "\"gemini-flash\" is not <modelprovider>/<model-id>");
}

TEST_CASE("metadata name and namespace are DNS-1123 labels") {
  auto bad_name =
      Errors("apiVersion: pai.io/v1\nkind: Agent\nmetadata: {name: My_Agent}\nspec: {}\n");
  RequireOneError(bad_name, "metadata.name");
  CHECK(bad_name[0].message.find("DNS-1123") != std::string::npos);
  RequireOneError(
      Errors("apiVersion: pai.io/v1\nkind: Agent\nmetadata: {name: a, namespace: -x}\nspec: {}\n"),
      "metadata.namespace");
  RequireOneError(
      Errors("apiVersion: pai.io/v1\nkind: Agent\nmetadata: {labels: {a: b}}\nspec: {}\n"),
      "metadata.name", "required field is missing");
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: Agent\nmetadata: {name: " +
                         std::string(64, 'a') + "}\nspec: {}\n"),
                  "metadata.name");
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: Agent\nmetadata: {name: a, labels: {x: 1}}\n"
                         "spec: {}\n"),
                  "metadata.labels.x", "expected a string, got an integer");
}

TEST_CASE("kind and apiVersion are checked first") {
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: Model\nmetadata: {name: a}\n"), "kind");
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: Secret\nmetadata: {name: a}\n"),
                  "apiVersion", "must be \"v1\" for Secret (got \"pai.io/v1\")");
  RequireOneError(Errors("kind: Agent\nmetadata: {name: a}\nspec: {}\n"), "apiVersion",
                  "required field is missing");
}

TEST_CASE("legacy documents: the rules apply to the mapped Agent") {
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: AgentWorkload\nmetadata: {name: w}\n"
                         "spec: {image: x, runAsUser: 0, modelBindings: [gemini-flash]}\n"),
                  "spec.runAsUser", "must not be 0 (root is rejected)");
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: Agent\nmetadata: {name: w}\n"
                         "spec: {type: service, image: x, triggers: [{webhook: {}}]}\n"),
                  "spec.triggers");
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: Agent\nmetadata: {name: w}\n"
                         "spec: {type: task, task: hi, schedule: '0 9'}\n"),
                  "spec.schedule");
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: AgentWorkload\nmetadata: {name: w}\n"
                         "spec: {image: x, modelBinding: [a]}\n"),
                  "spec.modelBinding", "unknown field \"modelBinding\"");
}

TEST_CASE("one valid document of every kind") {
  const char* docs[] = {
      "apiVersion: pai.io/v1\nkind: Session\nmetadata: {name: s1}\n"
      "spec: {agent: a1, task: go, idleTimeoutMinutes: 5, models: [openai/gpt-4o]}\n",
      "apiVersion: pai.io/v1\nkind: ModelProvider\nmetadata: {name: openai}\nspec:\n"
      "  provider: openai\n  apiKeySecretRef: {name: k}\n  maxTokensDay: 1_000_000\n"
      "  pricing: {gpt-4o: {input: 2.5, output: 10}}\n",
      "apiVersion: pai.io/v1\nkind: ModelProvider\nmetadata: {name: claude}\nspec:\n"
      "  provider: anthropic\n  apiKeySecretRef: {name: k}\n"
      "  pricing: {claude-sonnet-4-5: {input_cost_per_token: 3.0e-6, output_cost_per_token: 1.5e-5,"
      " cache_creation_input_token_cost_above_1hr: 6.0e-6, max_input_tokens: 1000000}}\n",
      "apiVersion: pai.io/v1\nkind: Provider\nmetadata: {name: gh}\n"
      "spec: {provider: github, secretRef: gh-token, repos: [a/b], policy: {allow: [x]}}\n",
      "apiVersion: v1\nkind: Secret\nmetadata: {name: k}\ntype: Opaque\n"
      "data: {api-key: c2stYmFzZTY0}\nstringData: {other: plain}\n",
      "apiVersion: pai.io/v1\nkind: Skill\nmetadata: {name: sk}\n"
      "spec: {description: d, files: [{path: SKILL.md, data: aGk=}, {path: lib/x.py}]}\n",
      "apiVersion: pai.io/v1\nkind: PaiFile\nmetadata: {name: f}\n"
      "spec: {description: d, data: aGk=, contentType: text/csv}\n",
      "apiVersion: pai.io/v1\nkind: GuardBinding\nmetadata: {name: g}\nspec:\n"
      "  classifier: {type: http, url: 'http://x:8000/analyze', format: llm-guard, timeoutMs: "
      "500}\n"
      "  threshold: 0.5\n  enforcement: enforce\n  failureMode: closed\n",
      "apiVersion: pai.io/v1\nkind: Eval\nmetadata: {name: e}\n"
      "spec: {targetAgent: a1, judgeModel: openai/gpt-4o, passThreshold: 0.8, "
      "fixtures: [{name: f1, input: hi, expect: {contains: x}}]}\n",
      "apiVersion: pai.io/v1\nkind: PaiAccessToken\nmetadata: {name: tok-1}\n"
      "spec: {targetNamespace: '*', expiresAt: '2026-01-31T00:00:00Z', env: {GIT_AUTHOR: me}}\n",
  };
  for (const char* d : docs) {
    INFO(d);
    auto e = Errors(d);
    INFO(Describe(e));
    CHECK(e.empty());
  }
}

TEST_CASE("ModelProvider pricing values are non-negative numbers") {
  RequireOneError(
      Errors("apiVersion: pai.io/v1\nkind: ModelProvider\nmetadata: {name: c}\nspec:\n"
             "  provider: anthropic\n  apiKeySecretRef: {name: k}\n"
             "  pricing: {m: {input_cost_per_token: -1.0e-6, output_cost_per_token: 1}}\n"),
      "spec.pricing.m.input_cost_per_token");
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: ModelProvider\nmetadata: {name: c}\nspec:\n"
                         "  provider: anthropic\n  apiKeySecretRef: {name: k}\n"
                         "  pricing: {m: {input: 1, output: 1, litellm_provider: anthropic}}\n"),
                  "spec.pricing.m.litellm_provider");
}

TEST_CASE("rules of the other kinds") {
  RequireOneError(Errors("apiVersion: v1\nkind: Secret\nmetadata: {name: k}\ndata: {k: '%%%'}\n"),
                  "data.k", "not valid base64");
  RequireOneError(Errors("apiVersion: v1\nkind: Secret\nmetadata: {name: k}\nspec: {}\n"), "spec",
                  "unknown field \"spec\"");
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: Skill\nmetadata: {name: s}\n"
                         "spec: {files: [{path: ok.md}, {path: ../etc/passwd}]}\n"),
                  "spec.files[1].path");
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: Skill\nmetadata: {name: s}\n"
                         "spec: {files: [{path: /abs}]}\n"),
                  "spec.files[0].path");
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: GuardBinding\nmetadata: {name: g}\n"
                         "spec: {classifier: {type: builtin}, threshold: 0}\n"),
                  "spec.threshold", "must be > 0");
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: GuardBinding\nmetadata: {name: g}\n"
                         "spec: {classifier: {type: http}}\n"),
                  "spec.classifier.url", "required when spec.classifier.type is http");
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: ModelProvider\nmetadata: {name: m}\n"
                         "spec: {provider: azure}\n"),
                  "spec.provider",
                  "unknown value \"azure\" (expected one of openai, anthropic, gemini, "
                  "openrouter, mock)");
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: PaiAccessToken\nmetadata: {name: t}\n"
                         "spec: {targetNamespace: Team_A}\n"),
                  "spec.targetNamespace");
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: PaiAccessToken\nmetadata: {name: t}\n"
                         "spec: {targetNamespace: a, expiresAt: tomorrow}\n"),
                  "spec.expiresAt");
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: Session\nmetadata: {name: s}\n"
                         "spec: {task: x}\n"),
                  "spec.agent", "required field is missing");
  RequireOneError(Errors("apiVersion: pai.io/v1\nkind: Eval\nmetadata: {name: e}\n"
                         "spec: {targetAgent: a, fixtures: [{input: x}]}\n"),
                  "spec.fixtures[0].name", "required field is missing");
}

TEST_CASE("Validate never throws on odd input") {
  CHECK(Validate(boost::json::value(3), {}).size() == 1);
  CHECK_FALSE(Validate(boost::json::array{}, {}).empty());
  auto e = Errors("apiVersion: pai.io/v1\nkind: Agent\nmetadata: [1]\nspec: 7\nstatus: {x: 1}\n");
  INFO(Describe(e));
  REQUIRE(e.size() == 2);
  CHECK(e[0].field == "metadata");
  CHECK(e[1].field == "spec");
}

}  // namespace
}  // namespace pai::resource
