// RuntimeConfig: the loaded configuration in the form the request path uses — providers with
// their parsed upstream endpoint and ready Authorization header, agents with their model routes
// and pre-resolved metric handles. Built once per (re)load; immutable afterwards and shared by
// the requests that started on it (Snapshot<RuntimeConfig>).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "budget/budget_store.h"
#include "budget/price_table.h"
#include "config/manifest.h"
#include "gateway/relay/scrub.h"
#include "gateway/telemetry/metrics.h"

namespace pai::gateway {

class ProviderAdapter;  // providers/adapter.h

// UpstreamEndpoint: where a provider's API lives, from `spec.baseURL` only.
struct UpstreamEndpoint {
  bool tls = false;
  std::string host;         // DNS name or IP literal (no brackets)
  std::string port;         // "443"
  std::string base_path;    // "/v1" (no trailing slash; may be empty)
  std::string host_header;  // "api.openai.com" or "host:port" for non-default ports
  std::string pool_key;     // "https://api.openai.com:443"
  // What client-facing errors call it ("ModelProvider openai"): its address stays in the logs.
  std::string label;
};

// ProviderRuntime: a ModelProvider ready for requests.
struct ProviderRuntime {
  config::ModelProvider spec;
  const ProviderAdapter* adapter = nullptr;  // of spec.kind (providers/adapter.h); never null
  std::string budget_scope;  // its budget scope: its name, "namespace/name" outside "default"
  UpstreamEndpoint endpoint;
  // The credential header the provider's API expects — never logged:
  //   openai, openrouter: Authorization: Bearer <key>; anthropic: x-api-key: <key>;
  //   gemini: x-goog-api-key: <key> (never in the URL).
  std::string auth_header;    // "authorization" | "x-api-key" | "x-goog-api-key"
  std::string authorization;  // its value
};

// ModelRoute: one model an agent may call.
struct ModelRoute {
  std::string ref;                            // "<modelprovider>/<model-id>" as configured
  std::string model_id;                       // bare id sent upstream
  const ProviderRuntime* provider = nullptr;  // null when the ModelProvider is not configured
  size_t index = 0;                           // position in the agent's spec.models
  std::optional<budget::Price> price;         // spec.pricing, else data/prices.yaml
  ModelMetrics metrics;
};

// GuardBindingRuntime: a GuardBinding ready for requests.
struct GuardBindingRuntime {
  config::GuardBinding spec;
  UpstreamEndpoint endpoint;  // http classifiers: the classify URL (base_path = its path)
  std::string authorization;  // "Bearer <key>" when a key is configured — never logged
  GuardMetrics metrics;
  std::string_view classifier_name() const {
    return spec.classifier.type == config::GuardClassifier::Type::kHttp ? "http" : "builtin";
  }
};

// AgentGuardRuntime: one entry of an Agent's spec.guards[], resolved.
struct AgentGuardRuntime {
  const GuardBindingRuntime* binding = nullptr;
  bool prompts = true;
  bool responses = false;
  bool all_tools = false;          // toolResults.tools contains "*"
  std::vector<std::string> tools;  // toolResults.tools (without "*")
  bool enforce = false;            // effective enforcement: the binding's, tightened by the agent
  bool ScansTool(std::string_view name) const {
    if (all_tools) return true;
    for (const std::string& t : tools) {
      if (t == name) return true;
    }
    return false;
  }
  bool ScansToolResults() const { return all_tools || !tools.empty(); }
};

// AgentRuntime: an Agent and its routes (spec.models order: primary first).
struct AgentRuntime {
  config::Agent spec;
  std::string key;  // "namespace/name"
  std::vector<ModelRoute> models;
  budget::AgentLimits limits;
  AgentMetrics metrics;
  std::vector<AgentGuardRuntime> guards;  // spec.guards[] order
  bool scans_responses = false;           // some guard has scan.responses
};

class RuntimeConfig {
 public:
  // Build() derives the runtime form of `config`, resolving metric handles in `metrics`, and
  // compiles the builtin guard classifier when a GuardBinding uses it (once per process).
  // Errors: InvalidArgument when a provider's baseURL or a classifier URL cannot be parsed.
  static absl::StatusOr<std::shared_ptr<const RuntimeConfig>> Build(config::Config config,
                                                                    Metrics& metrics);

  // FindAgent() looks an agent up by "namespace/name"; null when absent.
  const AgentRuntime* FindAgent(std::string_view key) const;

  // ResolveModel() picks the route for `requested` on behalf of `agent`:
  //  - an exact "<modelprovider>/<model-id>" among the agent's models → that route;
  //  - a bare "<model-id>" equal to the id of one of the agent's models → the first such route;
  //  - a configured ModelProvider but a model the agent may not call → PermissionDenied (403,
  //    code model_not_allowed);
  //  - otherwise NotFound (404, code model_not_found), also when the agent's route names a
  //    ModelProvider that is not configured.
  absl::StatusOr<const ModelRoute*> ResolveModel(const AgentRuntime& agent,
                                                 std::string_view requested) const;

  const config::Config& config() const { return config_; }
  // scrubber() redacts the configured provider (and classifier) keys (scrub.h).
  const KeyScrubber& scrubber() const { return *scrubber_; }
  uint64_t generation() const { return generation_; }

 private:
  config::Config config_;
  std::map<std::string, ProviderRuntime> providers_;
  std::map<std::string, GuardBindingRuntime> guard_bindings_;
  absl::flat_hash_map<std::string, AgentRuntime> agents_;
  uint64_t generation_ = 0;
  std::unique_ptr<const KeyScrubber> scrubber_ = std::make_unique<KeyScrubber>();
};

// ParseEndpoint() parses an absolute http(s) base URL.
absl::StatusOr<UpstreamEndpoint> ParseEndpoint(std::string_view base_url);

}  // namespace pai::gateway
