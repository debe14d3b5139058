// The body a request is sent to its provider in: the client's body spliced for OpenAI-style
// providers, a translation for Anthropic and Gemini (docs/providers.md), and the body of a
// provider token count. No Beast; pure functions of the request context.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/providers/translate_common.h"

namespace pai::gateway {

// Dialect: the API a chat (or Responses) request is sent in. OpenAI and OpenRouter take the
// client's body spliced; Anthropic and Gemini take a translation.
enum class Dialect { kOpenAI, kAnthropic, kGemini };

// DialectOf() is the dialect of ctx's request to its current model (ctx.model set). Embeddings
// and native Messages requests are kOpenAI (sent as they are).
Dialect DialectOf(const RequestContext& ctx);

// TranslatedBody() is the body of ctx's chat (or Responses) request for a provider with its
// own API (`dialect` kAnthropic or kGemini), the output limit `cap` imposed if given. Errors:
// InvalidArgument (400) for what cannot be put in that API.
absl::StatusOr<std::string> TranslatedBody(const RequestContext& ctx, const ModelRoute& model,
                                           Dialect dialect, std::optional<int64_t> cap);

// CountBody() is the body of a token count of ctx's request on `model` (anthropic or gemini):
// Anthropic's count_tokens takes the prompt members of a Messages request (model, messages,
// system, tools, tool_choice, thinking, mcp_servers; Anthropic API reference, "Count tokens in
// a Message"); Gemini's countTokens a whole GenerateContentRequest with its `model` as
// "models/{id}" (Gemini API reference, "models.countTokens"). Errors as TranslatedBody().
absl::StatusOr<std::string> CountBody(const RequestContext& ctx, const ModelRoute& model);

// UpstreamBody() is the client's body rewritten for the current model of `ctx` (OpenAI
// dialect): the bare model id, the output limit the reservation imposes, and (streams) a
// request for usage.
std::string UpstreamBody(const RequestContext& ctx);

// MakeChatStreamTranslator() is the translator of a `dialect` stream (kAnthropic, kGemini) into
// chat.completion.chunk events for `model_id` (always with a usage chunk: the relay needs it),
// or null for kOpenAI (its chunks are relayed as they are).
std::unique_ptr<ChatStreamTranslator> MakeChatStreamTranslator(Dialect dialect,
                                                               const std::string& model_id,
                                                               int64_t created);

}  // namespace pai::gateway
