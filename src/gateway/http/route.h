// The agent-facing routes of the gateway port: path → route (matched once per request), the
// request id, and where an agent's credential is read from. No Beast: headers are passed as
// views. Route paths: OpenAI's API reference (chat/completions, embeddings, responses, models)
// and Anthropic's (messages, messages/count_tokens); docs/api.md lists them.
#pragma once

#include <string>
#include <string_view>

#include "gateway/telemetry/metrics.h"

namespace pai::gateway {

// RouteMatch: what a path selects. `method` is the one the route answers; `model_id` is the
// `{model}` of GET /v1/models/{model} (a view into the path).
struct RouteMatch {
  enum class Method { kGet, kPost };
  Route route = Route::kOther;
  Method method = Method::kGet;
  std::string_view model_id;
};

// MatchRoute() fills `*m` and returns true when `path` (without query) is an agent route,
// with or without the `/v1` prefix of OpenAI's base URL (except the Anthropic paths).
bool MatchRoute(std::string_view path, RouteMatch* m);

// IsAnthropicPath(): the routes where an agent may present its token as `x-api-key`.
inline bool IsAnthropicPath(std::string_view target) {
  return target.substr(0, 12) == "/v1/messages";
}

// AgentCredential() is the `Authorization` value an agent presented: the header itself, or on
// the Anthropic routes an `x-api-key` as "Bearer <key>" (Anthropic API reference,
// "Authentication": its SDKs send the key there). Empty when neither is present.
std::string AgentCredential(std::string_view target, std::string_view authorization,
                            std::string_view x_api_key);

// RequestId() keeps a well-formed client `x-request-id` (≤128 characters of [A-Za-z0-9-_.:])
// and generates 128 random bits in hex otherwise. Thread-safe (a generator per thread).
std::string RequestId(std::string_view client);

}  // namespace pai::gateway
