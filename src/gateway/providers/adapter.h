// ProviderAdapter: everything about a call that depends on the kind of its ModelProvider — the
// credential header, the request in the provider's API, the answer and the stream back in the
// client's API, the provider's errors, its public tokenizer and its token-counting endpoint.
// One adapter per kind (openai, openrouter, anthropic, gemini, mock); the request path asks the
// adapter instead of testing the kind. No Beast: an adapter builds the parts of a request
// (path, body, its own headers), the upstream client sends them.
//
// Wire formats: OpenAI API reference (Chat Completions, Embeddings, Responses), Anthropic API
// reference (Messages, Count tokens, Errors), Gemini API reference (generateContent,
// streamGenerateContent, countTokens, Errors) — docs/providers.md says what is translated.
//
// Thread safety: adapters are immutable singletons; every member is safe from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "config/manifest.h"
#include "gateway/config/runtime.h"
#include "gateway/providers/translate_common.h"
#include "gateway/providers/usage.h"
#include "tokenizer/tokenizer.h"

namespace pai::gateway {

struct RequestContext;

// ProviderRequest: one request to a provider, apart from what every request carries (host,
// credential, content-type, accept, user-agent, x-request-id; upstream/ sets those).
struct ProviderRequest {
  std::string path;  // appended to the provider's base path, e.g. "/chat/completions"
  std::string body;  // JSON
  // The provider's own headers (anthropic-version, anthropic-beta, OpenRouter's attribution).
  std::vector<std::pair<std::string, std::string>> headers;
};

// ProviderAnswer: a provider's 2xx JSON answer in the client's API.
struct ProviderAnswer {
  std::string body;
  // The usage read while translating, when the client's form cannot carry all of it (a
  // Response's usage has no cache writes); nullopt: read it from `body`.
  std::optional<Usage> usage;
};

// ProviderError: a provider's error answer in the client's API, before scrubbing.
struct ProviderError {
  int status = 0;           // the HTTP status the client gets
  std::string body;         // an OpenAI (or, on the Anthropic routes, Anthropic) error object
  std::string retry_after;  // a delay the provider gave in its body (seconds), else empty
};

class ProviderAdapter {
 public:
  virtual ~ProviderAdapter() = default;

  virtual config::ProviderKind kind() const = 0;

  // Serves() is whether a provider of this kind answers `route` (in its own API or translated).
  // The admit stage never sends a request to a route that is not served.
  virtual bool Serves(Route route) const = 0;

  // in_process(): the answer is made inside the gateway (the mock); no upstream call is made
  // and BuildRequest() is not used.
  virtual bool in_process() const { return false; }

  // Credential() is the header that carries the provider key (name lowercase, value): never
  // logged, never in a URL.
  virtual std::pair<std::string, std::string> Credential(std::string_view api_key) const = 0;

  // InputEncoding() is the public tokenizer of `model_id` on this kind, or nullopt where it is
  // not public (docs/budgets.md, "Input bound").
  virtual std::optional<tokenizer::EncodingId> InputEncoding(std::string_view model_id) const = 0;

  // Translates() is whether ctx's request is put into another API than the client's (then the
  // answer and the stream are translated back). ctx.model is set.
  virtual bool Translates(const RequestContext& /*ctx*/) const { return false; }

  // BuildRequest() is ctx's request for its current model (ctx.model, of this kind), with the
  // output limit of ctx.reservation imposed. Built from the client's body only: no header of
  // the agent is forwarded. Errors: InvalidArgument (400, with `param`) for what the provider's
  // API cannot take; ResourceExhausted (429 insufficient_quota) when the budget leaves less
  // output than the API's minimum.
  virtual absl::StatusOr<ProviderRequest> BuildRequest(const RequestContext& ctx) const = 0;

  // ReadAnswer() is the provider's 2xx JSON answer `body` (already checked to be JSON) in the
  // client's API. Errors: Unavailable (502 upstream_error) when a translated answer cannot be
  // read.
  virtual absl::StatusOr<ProviderAnswer> ReadAnswer(const RequestContext& ctx,
                                                    std::string body) const;

  // MakeStreamTranslator() is the translator of the provider's event stream into
  // chat.completion.chunk events (always with a usage chunk), or null when the provider's
  // events are the client's (relayed as they are). `created`: Unix seconds.
  virtual std::unique_ptr<ChatStreamTranslator> MakeStreamTranslator(const RequestContext& ctx,
                                                                     int64_t created) const;

  // MapError() is the provider's error answer (`status`, `body`: up to 1 MiB) in the client's
  // API: the provider's own error shape mapped, or a generic error when the body is not JSON.
  // 401/403 (the gateway's credentials) are the caller's business, not mapped here.
  virtual ProviderError MapError(const RequestContext& ctx, int status, std::string body) const;

  // CountsTokens(): the provider has a token-counting endpoint the gateway speaks.
  virtual bool CountsTokens() const { return false; }

  // BuildCount() is the request counting the input tokens of ctx's request on `route` (of this
  // kind), with the headers the call itself would carry. Errors: InvalidArgument (the request
  // cannot be put in the API), Unimplemented (CountsTokens() is false).
  virtual absl::StatusOr<ProviderRequest> BuildCount(const RequestContext& ctx,
                                                     const ModelRoute& route) const;

  // ReadCount() is the count in a 2xx answer to BuildCount()'s request. Errors: Unavailable
  // (no count in it).
  virtual absl::StatusOr<int64_t> ReadCount(std::string_view body) const;
};

// AdapterFor() is the adapter of `kind` (a static object: never null, never freed).
const ProviderAdapter& AdapterFor(config::ProviderKind kind);

// AdapterOf() is the adapter of a route's provider (route.provider set).
inline const ProviderAdapter& AdapterOf(const ModelRoute& route) {
  return *route.provider->adapter;
}

}  // namespace pai::gateway
