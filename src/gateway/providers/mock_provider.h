// The `mock` ModelProvider: answers in-process, in OpenAI's wire format (OpenAI API reference:
// the chat completion object, chat completion chunk objects over SSE ending in
// "data: [DONE]", the embeddings list object), so the gateway works offline and the quick start
// needs no key. Deterministic: the same request gives the same answer.
//
// Without `tools` in the request, the answer is a fixed text. With `tools` (function tools), a
// script drives a real tool loop offline (docs/providers.md, "The mock's tool script"):
//   0. the last user message contains "loop forever" (any case) → a `bash` tool call
//      {"command":"echo still looping"}, every time (budget tests);
//   0b. `web_fetch` offered, no `tool` message yet, and the last user message contains
//      "fetch http..." → a `web_fetch` tool call {"url": that URL} (egress tests);
//   1. `write` offered and no `tool` message yet → a `write` tool call
//      {"path":"hello.txt","content":"Hello from Pai!\n"};
//   2. `bash` offered and the last `tool` message answers a `write` call → a `bash` tool call
//      {"command":"cat hello.txt && ls -l"};
//   3. otherwise → a text answer quoting the first line of the last tool result (the fixed
//      text when there is no tool result).
// A tool call is answered with finish_reason "tool_calls": `message.tool_calls` when not
// streamed; streamed as OpenAI streams it, a first `delta.tool_calls` chunk with the id, type
// and function name and empty arguments, then chunks with argument fragments, then the
// finish_reason chunk and (with include_usage) the usage chunk. Call ids are
// "call_mock_<number of messages in the request>". The output limit cuts a text answer
// (finish_reason "length") but never a tool call: its reported output tokens are capped at the
// limit instead, so that a scripted loop ends on a budget refusal, not on broken arguments.
//
// Token counts are estimates (about 4 bytes of JSON per prompt token, one token per word of
// text output, about 4 bytes of arguments per tool-call token) and are reported in `usage` like
// a real provider's.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "gateway/providers/openai_request.h"

namespace pai::gateway {

// MockPlan: what the mock answers to one chat completion request.
struct MockPlan {
  bool tool_call = false;  // a tool call (else a text answer)
  std::string text;        // text answer
  std::string call_id;     // tool call: "call_mock_<n>"
  std::string tool_name;   // tool call: "write" or "bash"
  std::string arguments;   // tool call: the arguments, JSON text
};

// PlanMockReply() applies the script above to a chat completion request body (a body that is
// not JSON gets the fixed text).
MockPlan PlanMockReply(std::string_view body);

// MockChatCompletion() returns a `chat.completion` object for the request `body`.
// `max_output` (the request's max_tokens / max_completion_tokens, or the budget's cap) truncates
// a text answer to that many tokens with finish_reason "length", as a provider does (a tool
// call is not cut; see above).
std::string MockChatCompletion(const ChatCompletionRequest& req, std::string_view body,
                               std::string_view model_id, std::string_view request_id,
                               std::optional<int64_t> max_output);

// MockChatStream() returns the whole SSE byte stream of `chat.completion.chunk` events; with
// `include_usage`, every chunk has "usage": null and a final chunk with empty `choices` carries
// the usage, as OpenAI sends it.
std::string MockChatStream(const ChatCompletionRequest& req, std::string_view body,
                           std::string_view model_id, std::string_view request_id,
                           bool include_usage, std::optional<int64_t> max_output);

// MockEmbeddings() returns an embeddings `list` with one 8-dimensional vector per input.
std::string MockEmbeddings(std::string_view model_id, size_t body_bytes);

}  // namespace pai::gateway
