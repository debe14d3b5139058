#include "config/default_config.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/strings.h"

namespace pai::config {
namespace {

struct RealProvider {
  const char* name;      // ModelProvider name
  const char* provider;  // spec.provider
  const char* env;       // apiKeyEnv
  const char* model;     // the model the demo agent may call
};

constexpr RealProvider kRealProviders[] = {
    {"openai", "openai", "OPENAI_API_KEY", "gpt-4o-mini"},
    {"anthropic", "anthropic", "ANTHROPIC_API_KEY", "claude-sonnet-4-5"},
    {"gemini", "gemini", "GEMINI_API_KEY", "gemini-2.5-flash"},
    {"openrouter", "openrouter", "OPENROUTER_API_KEY", "openai/gpt-4o-mini"},
};

}  // namespace

std::string DefaultManifest(const std::map<std::string, std::string>& env) {
  std::string out =
      "# Embedded default configuration of pai-gateway (used when no -f is given).\n"
      "apiVersion: pai.io/v1\n"
      "kind: ModelProvider\n"
      "metadata: {name: mock}\n"
      "spec: {provider: mock}\n";
  std::vector<std::string> models = {"mock/gpt-4o-mini", "mock/text-embedding-3-small"};
  for (const RealProvider& p : kRealProviders) {
    auto it = env.find(p.env);
    if (it == env.end() || it->second.empty()) continue;
    pai::StrAppend(&out,
                   "---\napiVersion: pai.io/v1\nkind: ModelProvider\nmetadata: {name: ", p.name,
                   "}\nspec: {provider: ", p.provider, ", apiKeyEnv: ", p.env, "}\n");
    models.push_back(pai::StrCat(p.name, "/", p.model));
  }
  // The builtin prompt-injection guard, in audit mode: flagged prompts are forwarded and
  // recorded (GUARD.VIOLATION_AUDIT), so the quick start shows guards without refusing anything.
  pai::StrAppend(&out,
                 "---\napiVersion: pai.io/v1\nkind: GuardBinding\n"
                 "metadata: {name: prompt-guard-default}\n"
                 "spec: {classifier: {type: builtin}, threshold: 0.8, enforcement: audit}\n"
                 "---\napiVersion: pai.io/v1\nkind: Agent\n"
                 "metadata: {name: demo, namespace: default}\n"
                 "spec:\n  models: [",
                 absl::StrJoin(models, ", "),
                 "]\n  guards:\n  - binding: prompt-guard-default\n"
                 "    scan: {prompts: true, responses: true, toolResults: {tools: [\"*\"]}}\n");
  return out;
}

}  // namespace pai::config
