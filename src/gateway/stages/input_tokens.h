// The input side of a budget reservation: a strict upper bound of the input tokens a provider
// will bill for a request, computed before the call (docs/budgets.md, "Input upper bound").
//
// Where the model's tokenizer is public (OpenAI's o200k_base / cl100k_base; the mock provider
// is treated as OpenAI with o200k_base), the bound is the tokens of every text the provider
// renders into the prompt plus a bound on its framing:
//   - chat completions: 3 tokens per message (+1 when it has a `name`) and 3 for the reply's
//     priming (OpenAI cookbook, "How to count tokens with tiktoken"), plus the tokens of every
//     string of the message (role, content parts, names, tool call ids, names and arguments);
//     each tool call adds kTokensPerToolCall, each tool result kTokensPerToolResult and the
//     tokens of the name of the function it answers (kUnknownToolName when no call in the
//     request has its id): the harmony format OpenAI published for its models frames a call
//     with 11 tokens around the function's name and arguments and a result with 11 around its
//     name and content (`<|start|>functions.NAME to=assistant<|channel|>commentary<|message|>
//     … <|end|>`), of which the message framing counts 4;
//   - tools / functions: each function tool as the TypeScript-like declaration OpenAI
//     published for its models' prompts (the harmony format; tool_tokens.h: properties that are
//     not plain types as their JSON text) plus kToolSlack, any other tool as its JSON text, and
//     kToolsEnd once: the `# Tools` / `## functions` / `namespace functions { … }` frame (13),
//     the developer message's framing (4) and the system line that routes calls to
//     `functions` (15);
//   - any other member that is not a sampling or transport parameter (response_format,
//     tool_choice, unknown members): the tokens of its JSON text;
//   - image parts (`image_url`): kImageTokens each; audio and file parts: their bytes.
// Embeddings: the tokens of the `input` strings. Elsewhere (Anthropic, Gemini, models whose
// tokenizer is unknown) the bound is the body's
// size in bytes (a token is at least one byte) plus kImageTokens per image part.
//
// Thread safety: pure functions (the tokenizer is thread-safe).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "config/manifest.h"
#include "gateway/telemetry/metrics.h"
#include "tokenizer/tokenizer.h"

namespace pai::gateway {

// Declared in pipeline.h / runtime.h / openai_request.h / native_request.h (not included here,
// so that the mock provider can use this header without the pipeline's names).
struct RequestContext;
struct ModelRoute;
struct ChatCompletionRequest;
struct NativeRequest;

inline constexpr int64_t kImageTokens = 2000;  // upper bound per image part (high detail)
inline constexpr int64_t kTokensPerMessage = 3;
inline constexpr int64_t kTokensPerName = 1;
inline constexpr int64_t kReplyPriming = 3;
inline constexpr int64_t kToolsEnd = 32;
inline constexpr int64_t kTokensPerToolCall = 11;
inline constexpr int64_t kTokensPerToolResult = 8;
inline constexpr int64_t kUnknownToolName = 16;

// InputMethod: how an InputBound was obtained.
enum class InputMethod {
  kBodyBytes,      // body bytes + images (no public tokenizer, or no limit needs a tight bound)
  kTokenizer,      // the model's own BPE + framing
  kProviderCount,  // the provider's count endpoint plus a margin (admission.h)
};
std::string_view InputMethodName(InputMethod m);  // "body_bytes", "tokenizer", "provider_count"

struct InputBound {
  int64_t upper = 0;     // ≥ the input tokens the provider bills (strict)
  int64_t estimate = 0;  // for maxPerRequest: the token count, or bytes ÷ 4
  InputMethod method = InputMethod::kBodyBytes;
};

// EncodingFor() is the tokenizer of `model_id` on a provider of `kind`: OpenAI models by
// tiktoken's table (tokenizer::EncodingForModel), OpenRouter's "openai/<id>" likewise, every
// mock model o200k_base; nullopt elsewhere.
std::optional<tokenizer::EncodingId> EncodingFor(config::ProviderKind kind,
                                                 std::string_view model_id);

// ChatInputTokens() is the bound above for a chat completions body (already validated by
// ParseChatCompletionRequest). Errors: InvalidArgument when the body cannot be read.
absl::StatusOr<int64_t> ChatInputTokens(const std::string& body, const tokenizer::Encoding& enc);

// EmbeddingsInputTokens() is the bound for an embeddings body: the tokens of its `input`
// strings (one per token id given as a number). Errors: InvalidArgument when unreadable.
absl::StatusOr<int64_t> EmbeddingsInputTokens(const std::string& body,
                                              const tokenizer::Encoding& enc);

// ResponsesInputTokens() is the bound for a Responses API body: `instructions` and each
// `input` item as a message, `tools` as above, other prompt members as their JSON text.
int64_t ResponsesInputTokens(const boost::json::object& body, const tokenizer::Encoding& enc);

// InputBoundOf() is the bound of a parsed request body on `route` (`chat` / `native`: its
// parse, for the chat completions / Responses routes) with encoding `enc` (nullopt: the byte
// bound). Falls back to the byte bound when the body cannot be read.
InputBound InputBoundOf(Route route, std::optional<tokenizer::EncodingId> enc,
                        const std::string& body, const ChatCompletionRequest* chat,
                        const NativeRequest* native);

// CountRequestTokens() parses a chat completions (`route` kChatCompletions), Responses
// (kResponses) or embeddings (kEmbeddings) body and returns its bound for `model_id` on a provider
// of `kind`, whatever the limits: `pai-gateway count-tokens`. Errors: the parser's InvalidArgument.
absl::StatusOr<InputBound> CountRequestTokens(Route route, config::ProviderKind kind,
                                              std::string_view model_id, std::string body);

// InputBoundFor() is the bound of ctx's request when sent to `route`. The tokenizer runs only
// when a limit that the input bound affects applies (agent tokens or USD per day, tokens per
// request, provider tokens per day); otherwise, and when it fails, the byte bound is used.
InputBound InputBoundFor(const RequestContext& ctx, const ModelRoute& route);

}  // namespace pai::gateway
