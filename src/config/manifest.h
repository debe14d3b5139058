// Gateway configuration read from Pai resource manifests (YAML, multi-document, `---`), the same
// documents `pai apply -f` accepts. Shapes: shared/design/ARCHITECTURE.md ("Configuration =
// Pai resource manifests"); Secret follows Kubernetes' core/v1 Secret (`stringData`, `data`).
//
// Kinds used: Secret (v1), ModelProvider, GuardBinding, Agent (pai.io/v1). Other kinds and unknown
// fields are accepted and reported in Config::ignored (the gateway logs them at debug level).
//
// Errors name the source file, the document index (1-based) and the field path, e.g.
//   "agents.yaml: document 2 (Agent default/coder): spec.models[1]: expected a string".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace pai::config {

// ProviderKind: the API dialect and defaults of a ModelProvider (`spec.provider`).
enum class ProviderKind { kOpenAI, kAnthropic, kGemini, kOpenRouter, kMock };

std::string_view ProviderKindName(ProviderKind kind);

// ModelProvider: one LLM API subscription. Models are addressed as `<name>/<model-id>`.
struct ModelProvider {
  std::string name;
  std::string ns;  // metadata.namespace, default "default"
  ProviderKind kind = ProviderKind::kOpenAI;
  // Absolute http(s) URL without query, e.g. "https://api.openai.com/v1"; the API paths
  // ("/chat/completions", ...) are appended. Empty for kMock.
  std::string base_url;
  // The provider's real API key. Never log it; it only goes upstream.
  std::string api_key;
  // Where the key came from, safe to log: "secret default/openai-key#api-key" or
  // "env OPENAI_API_KEY".
  std::string api_key_source;
  int64_t max_tokens_day = 0;  // 0 = unlimited (enforced by the budget module)
  // spec.pricing: per model id, its price fields as written (LiteLLM's names in USD per token,
  // or the older camelCase input / output / cachedInput in USD per 1M tokens and maxOutput;
  // budget::PriceFromFields() reads them, and validated them at load); overrides
  // data/prices.yaml.
  struct ModelPrice {
    std::vector<std::pair<std::string, double>> fields;
  };
  std::map<std::string, ModelPrice> pricing;

  // Key() is "namespace/name": an Agent's `<modelprovider>/<model-id>` names a ModelProvider of
  // the Agent's own namespace (tenants never share a provider key by accident).
  std::string Key() const { return ns + "/" + name; }
};

// GuardBinding: a prompt-injection classifier and how its verdicts are applied (docs/guard.md).
enum class GuardEnforcement { kAudit, kEnforce };  // `audit` | `enforce`
enum class GuardFailureMode { kOpen, kClosed };    // `open` | `closed`
std::string_view GuardEnforcementName(GuardEnforcement e);

struct GuardClassifier {
  enum class Type { kBuiltin, kHttp };
  // The request/response shape of an http classifier (`spec.classifier.format`):
  //  kPlain    POST {"text": ...} -> {"label": ..., "score": ...} (or a list of them, as
  //            Hugging Face text-classification servers answer)
  //  kLlmGuard LLM Guard API: POST /analyze/prompt {"prompt": ...} ->
  //            {"is_valid": bool, "scanners": {"PromptInjection": risk, ...}}
  //  kLakera   Lakera Guard v2: POST /v2/guard {"messages": [{"role","content"}]} ->
  //            {"flagged": bool, ...}
  enum class Format { kPlain, kLlmGuard, kLakera };
  Type type = Type::kBuiltin;
  Format format = Format::kPlain;
  std::string url;           // http: absolute http(s) URL of the classify endpoint
  int64_t timeout_ms = 200;  // http: bound on connect, first byte and each read
  // Longest text (bytes) sent in one classification; longer texts are split into overlapping
  // windows and the highest score counts. 0 = no limit (the builtin default).
  int64_t max_chars = 0;
  // kPlain: labels whose `score` is the injection probability (compared case-insensitively);
  // for any other label the probability is 1 - score.
  std::vector<std::string> positive_labels;
  std::string api_key;         // optional `Authorization: Bearer` key; never logged
  std::string api_key_source;  // "secret ns/name#key" | "env NAME" | ""
};

struct GuardBinding {
  std::string name;
  std::string ns;
  GuardClassifier classifier;
  double threshold = 0.8;  // a score >= threshold is a violation; (0, 1]
  GuardEnforcement enforcement = GuardEnforcement::kAudit;
  GuardFailureMode failure_mode = GuardFailureMode::kOpen;

  // Key() is "namespace/name"; an Agent's guards[].binding names a binding of its namespace.
  std::string Key() const { return ns + "/" + name; }
};

// AgentGuard: one entry of an Agent's `spec.guards[]`.
struct AgentGuard {
  std::string binding;     // GuardBinding metadata.name
  bool prompts = true;     // scan.prompts: user-role content
  bool responses = false;  // scan.responses: assistant output (audit-only when streaming)
  // scan.toolResults.tools: tool names whose results (tool-role messages) are scanned; "*"
  // scans all; empty = off.
  std::vector<std::string> tool_results;
  // enforcement override; may only tighten the binding's (a loosening one is a config error).
  std::optional<GuardEnforcement> enforcement;
};

// Agent limits (enforced by the budget module; 0 = unlimited).
struct AgentTokens {
  int64_t max_per_day = 0;
  int64_t max_per_request = 0;
};
struct AgentRateLimits {
  int64_t max_requests_per_minute = 0;
  int64_t max_concurrent_requests = 0;
  double max_cost_per_day_usd = 0;
};

// Agent: an identity that may call the listed models.
struct Agent {
  std::string ns;
  std::string name;
  // `<modelprovider>/<model-id>`; first = primary, the rest are fallbacks.
  std::vector<std::string> models;
  AgentTokens tokens;
  AgentRateLimits rate_limits;
  std::vector<AgentGuard> guards;  // spec.guards[]

  std::string Key() const { return ns + "/" + name; }
};

// Config: everything the gateway needs from the manifests. Immutable once loaded.
struct Config {
  // All three by "namespace/name". Agents name ModelProviders and GuardBindings without a
  // namespace: the Agent's own namespace is meant, or "default" when the Agent's namespace has
  // none of that name (FindScoped()). pai-server renders only references that resolve in the
  // Agent's own namespace, so tenants never reach another namespace's provider keys.
  std::map<std::string, ModelProvider> providers;
  std::map<std::string, Agent> agents;
  std::map<std::string, GuardBinding> guard_bindings;
  // Human-readable notes on what was accepted but ignored (unknown kinds and fields), and on
  // references that do not resolve (an Agent model naming a missing ModelProvider).
  std::vector<std::string> ignored;
  std::vector<std::string> warnings;
};

// FindScoped() looks `name` up in `map` (keyed "namespace/name") for an Agent of namespace
// `ns`: "ns/name", else "default/name". Null when neither exists.
template <typename Map>
const typename Map::mapped_type* FindScoped(const Map& map, std::string_view ns,
                                            std::string_view name) {
  auto it = map.find(std::string(ns) + "/" + std::string(name));
  if (it == map.end()) it = map.find("default/" + std::string(name));
  return it == map.end() ? nullptr : &it->second;
}

// Source: one manifest text and the name used in error messages (usually its path).
struct Source {
  std::string name;
  std::string text;
};

// ParseManifests() builds a Config from the concatenation of `sources` (documents are merged;
// Secret references resolve across files). `env` resolves `spec.apiKeyEnv` (pass the process
// environment in production, a fixed map in tests).
// Errors: InvalidArgument naming the file, document and field path.
absl::StatusOr<Config> ParseManifests(const std::vector<Source>& sources,
                                      const std::map<std::string, std::string>& env);

// ExpandPaths() turns files and directories into the list of manifest files: a directory
// contributes its *.yaml, *.yml and *.json files (not recursive), sorted by name.
// Errors: NotFound when a path does not exist, InvalidArgument when a directory has no manifest.
absl::StatusOr<std::vector<std::string>> ExpandPaths(const std::vector<std::string>& paths);

// ReadSources() reads every file of ExpandPaths(paths).
absl::StatusOr<std::vector<Source>> ReadSources(const std::vector<std::string>& paths);

// ProcessEnvironment() returns the process environment as a map.
std::map<std::string, std::string> ProcessEnvironment();

// SplitModelRef() splits "<modelprovider>/<model-id>" at the first '/'. The model id may itself
// contain '/' (OpenRouter: "openrouter/meta-llama/llama-3.1-8b"). False when there is no '/' or
// either side is empty.
bool SplitModelRef(std::string_view ref, std::string_view* provider, std::string_view* model_id);

}  // namespace pai::config
