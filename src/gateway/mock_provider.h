// The `mock` ModelProvider: answers in-process, in OpenAI's wire format (OpenAI API reference:
// the chat completion object, chat completion chunk objects over SSE ending in
// "data: [DONE]", the embeddings list object), so the gateway works offline and the quick start
// needs no key. Deterministic: the same request gives the same answer.
//
// Token counts are estimates (about 4 bytes of JSON per prompt token, one token per word of
// output) and are reported in `usage` like a real provider's.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "gateway/openai_request.h"

namespace pai::gateway {

// MockChatCompletion() returns a `chat.completion` object for the request.
// `max_output` (the request's max_tokens / max_completion_tokens, or the budget's cap) truncates
// the answer to that many tokens with finish_reason "length", as a provider does.
std::string MockChatCompletion(const ChatCompletionRequest& req, std::string_view model_id,
                               size_t body_bytes, std::string_view request_id,
                               std::optional<int64_t> max_output);

// MockChatStream() returns the whole SSE byte stream of `chat.completion.chunk` events; with
// `include_usage`, every chunk has "usage": null and a final chunk with empty `choices` carries
// the usage, as OpenAI sends it.
std::string MockChatStream(const ChatCompletionRequest& req, std::string_view model_id,
                           size_t body_bytes, std::string_view request_id, bool include_usage,
                           std::optional<int64_t> max_output);

// MockEmbeddings() returns an embeddings `list` with one 8-dimensional vector per input.
std::string MockEmbeddings(std::string_view model_id, size_t body_bytes);

}  // namespace pai::gateway
