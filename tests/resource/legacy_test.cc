#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "resource/resource.h"
#include "test_util.h"

namespace pai::resource {
namespace {

namespace json = boost::json;
using testing::Doc;

// The server's resolver: built-in alias → the namespace's ModelProvider of that family (here
// "google" serves gemini, "anthropic" serves anthropic; nothing serves openai).
std::optional<std::string> Resolve(std::string_view name) {
  auto alias = DefaultModelAlias(name);
  if (!alias) return std::nullopt;
  if (alias->provider_kind == "gemini") return "google/" + std::string(alias->model_id);
  if (alias->provider_kind == "anthropic") return "anthropic/" + std::string(alias->model_id);
  return std::nullopt;
}

TEST_CASE("the kind table") {
  REQUIRE(Kinds().size() == 10);
  CHECK(FindKind("AgentWorkload") == FindKind("Agent"));
  CHECK(FindKind("agents")->kind == "Agent");
  CHECK(FindKind("model-provider")->plural == "modelproviders");
  CHECK(FindKind("files")->kind == "PaiFile");
  CHECK(FindKind("guard-bindings")->kind == "GuardBinding");
  CHECK(FindKind("token")->kind == "PaiAccessToken");
  CHECK_FALSE(FindKind("token")->namespaced);
  CHECK(FindKind("secret")->api_version == "v1");
  CHECK(FindKind("Eval")->cli_names == std::vector<std::string_view>{"eval", "evals"});
  CHECK(FindKind("skills")->kind == "Skill");
  CHECK(FindKind("Model") == nullptr);
}

TEST_CASE("ParseDurationSeconds reads Go-style durations") {
  CHECK(ParseDurationSeconds("15m") == 900);
  CHECK(ParseDurationSeconds("1h30m") == 5400);
  CHECK(ParseDurationSeconds("90s") == 90);
  CHECK(ParseDurationSeconds("1.5h") == 5400);
  CHECK(ParseDurationSeconds("0") == 0);
  CHECK_FALSE(ParseDurationSeconds("15"));
  CHECK_FALSE(ParseDurationSeconds("15 m"));
  CHECK_FALSE(ParseDurationSeconds("-1h"));
  CHECK_FALSE(ParseDurationSeconds("1d"));
  CHECK_FALSE(ParseDurationSeconds(""));
}

TEST_CASE("DefaultModelAlias knows the built-in aliases") {
  auto flash = DefaultModelAlias("gemini-flash");
  REQUIRE(flash);
  CHECK(flash->provider_kind == "gemini");
  CHECK(flash->model_id == "gemini-2.5-flash");
  CHECK(DefaultModelAlias("claude-sonnet")->model_id == "claude-sonnet-4-6");
  CHECK(DefaultModelAlias("claude-opus")->model_id == "claude-opus-4-1");
  CHECK(DefaultModelAlias("gpt-4o-mini")->provider_kind == "openai");
  CHECK(DefaultModelAlias("o3")->model_id == "o3");
  CHECK_FALSE(DefaultModelAlias("llama"));
}

TEST_CASE("IsLegacy") {
  CHECK(IsLegacy(Doc("kind: AgentWorkload\nspec: {}\n")));
  CHECK(IsLegacy(Doc("kind: Agent\nspec: {modelBindings: [x]}\n")));
  CHECK(IsLegacy(Doc("kind: Agent\nspec: {image: x}\n")));
  CHECK(IsLegacy(Doc("kind: Agent\nspec: {conversational: true}\n")));
  CHECK_FALSE(IsLegacy(Doc("kind: Agent\nspec: {image: x, harness: custom}\n")));
  CHECK_FALSE(IsLegacy(Doc("kind: Agent\nspec: {models: [a/b]}\n")));
}

TEST_CASE("MapLegacy of agentworkload-minimal") {
  auto m = MapLegacy(Doc(R"(
apiVersion: pai.io/v1
kind: AgentWorkload
metadata:
  name: my-agent
spec:
  image: ghcr.io/pai-platform/openclaw:latest
  modelBindings:
    - gemini-flash
)"),
                     Resolve);
  CHECK(m.changed);
  CHECK_FALSE(m.session_spec);
  CHECK(m.unresolved.empty());
  CHECK(m.spec == json::object{{"image", "ghcr.io/pai-platform/openclaw:latest"},
                               {"harness", "custom"},
                               {"longRunning", true},
                               {"models", json::array{"google/gemini-2.5-flash"}}});
  CHECK(m.notes == std::vector<std::string>{
                       "kind AgentWorkload → Agent",
                       "spec.image without spec.harness → longRunning: true, harness: custom",
                       "spec.modelBindings[0] gemini-flash → models: google/gemini-2.5-flash"});
}

TEST_CASE("MapLegacy of a full AgentWorkload keeps the other fields and lists unresolved names") {
  auto m = MapLegacy(Doc(R"(
kind: AgentWorkload
metadata: {name: dev-assistant}
spec:
  image: img
  runAsUser: 1000
  modelBindings: [gemini-flash, claude-sonnet, gpt-4o, openrouter/meta/llama]
  providers: [github-writer]
  tokens: {maxPerDay: 50000}
)"),
                     Resolve);
  CHECK(m.spec.at("models") == json::array{"google/gemini-2.5-flash", "anthropic/claude-sonnet-4-6",
                                           "openrouter/meta/llama"});
  CHECK(m.unresolved == std::vector<std::string>{"gpt-4o"});
  CHECK(m.spec.at("runAsUser") == 1000);
  CHECK(m.spec.at("providers") == json::array{"github-writer"});
  CHECK_FALSE(m.spec.contains("modelBindings"));
  CHECK(m.notes.size() == 6);
  CHECK(m.notes[4] ==
        "spec.modelBindings[2] gpt-4o → unresolved (no ModelProvider serves it; "
        "left out of models)");
}

TEST_CASE("MapLegacy of a v1 task: a template Agent plus a Session") {
  auto m = MapLegacy(Doc(R"(
kind: Agent
metadata: {name: fix-bug-42}
spec:
  type: task
  task: Fix the null pointer
  system: be careful
  schedule: "0 9 * * 1"
  webhook: true
  conversational: true
  mcpServers: [linear, {url: http://x}]
  managedAgentDefinitions: [tuner]
)"),
                     Resolve);
  CHECK(m.changed);
  REQUIRE(m.session_spec);
  CHECK(*m.session_spec == json::object{{"agent", "fix-bug-42"}, {"task", "Fix the null pointer"}});
  CHECK(m.spec == json::object{{"system", "be careful"},
                               {"triggers", json::array{json::object{{"schedule", "0 9 * * 1"}},
                                                        json::object{{"webhook", json::object{}}}}},
                               {"managedAgents", json::array{"tuner"}},
                               {"providers", json::array{"linear"}}});
  CHECK(m.notes.size() == 7);
}

TEST_CASE("MapLegacy of a v1 task referencing a template via agentDefinition") {
  auto m = MapLegacy(Doc(R"(
kind: Agent
metadata: {name: run-1}
spec: {type: task, agentDefinition: analyst, task: Analyze Q4, system: override}
)"),
                     Resolve);
  REQUIRE(m.session_spec);
  CHECK(*m.session_spec ==
        json::object{{"agent", "analyst"}, {"task", "Analyze Q4"}, {"system", "override"}});
  CHECK(m.spec.empty());
  CHECK(m.notes.back().find("spec.agentDefinition analyst") == 0);
}

TEST_CASE("MapLegacy: service type and nothing-legacy") {
  auto svc = MapLegacy(Doc("kind: Agent\nmetadata: {name: s}\nspec: {type: service, image: i}\n"),
                       Resolve);
  CHECK(svc.spec == json::object{{"image", "i"}, {"longRunning", true}, {"harness", "custom"}});
  auto current = MapLegacy(
      Doc("kind: Agent\nmetadata: {name: a}\nspec: {models: [a/b], harness: default}\n"), Resolve);
  CHECK_FALSE(current.changed);
  CHECK(current.notes.empty());
  CHECK(current.spec == json::object{{"models", json::array{"a/b"}}, {"harness", "default"}});
}

}  // namespace
}  // namespace pai::resource
