#include "gateway/http/route.h"

#include <algorithm>
#include <random>

#include "absl/strings/ascii.h"
#include "common/strings.h"

namespace pai::gateway {

// RequestId() keeps a well-formed client `x-request-id` (≤128 printable token characters) and
// generates one otherwise.
std::string RequestId(std::string_view client) {
  if (!client.empty() && client.size() <= 128 &&
      std::all_of(client.begin(), client.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':';
      })) {
    return std::string(client);
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t v = rng();
    for (int i = 0; i < 16; ++i) {
      id[half * 16 + i] = kHex[v & 15];
      v >>= 4;
    }
  }
  return id;
}

bool MatchRoute(std::string_view path, RouteMatch* m) {
  if (path == "/v1/chat/completions" || path == "/chat/completions") {
    *m = {Route::kChatCompletions, RouteMatch::Method::kPost, {}};
    return true;
  }
  if (path == "/v1/embeddings" || path == "/embeddings") {
    *m = {Route::kEmbeddings, RouteMatch::Method::kPost, {}};
    return true;
  }
  if (path == "/v1/messages") {
    *m = {Route::kMessages, RouteMatch::Method::kPost, {}};
    return true;
  }
  if (path == "/v1/messages/count_tokens") {
    *m = {Route::kCountTokens, RouteMatch::Method::kPost, {}};
    return true;
  }
  if (path == "/v1/responses" || path == "/responses") {
    *m = {Route::kResponses, RouteMatch::Method::kPost, {}};
    return true;
  }
  if (path == "/v1/models" || path == "/models") {
    *m = {Route::kModels, RouteMatch::Method::kGet, {}};
    return true;
  }
  constexpr std::string_view kModelPrefix = "/v1/models/";
  if (path.substr(0, kModelPrefix.size()) == kModelPrefix && path.size() > kModelPrefix.size()) {
    *m = {Route::kModels, RouteMatch::Method::kGet, path.substr(kModelPrefix.size())};
    return true;
  }
  return false;
}

std::string AgentCredential(std::string_view target, std::string_view authorization,
                            std::string_view x_api_key) {
  if (!authorization.empty()) return std::string(authorization);
  if (IsAnthropicPath(target) && !x_api_key.empty()) return pai::StrCat("Bearer ", x_api_key);
  return {};
}

}  // namespace pai::gateway
