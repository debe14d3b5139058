// OpenAI Chat Completions ⇄ Anthropic Messages translation (issue 6; docs/providers.md when it
// is wired). Pure functions and one stream translator: no I/O.
//
// Wire formats: OpenAI API reference, "Create chat completion" (request, chat.completion
// object, chat.completion.chunk stream); Anthropic API reference, "Messages" (POST /v1/messages
// request and Message object), "Streaming Messages" (message_start, content_block_start /
// _delta / _stop with text_delta and input_json_delta, message_delta, message_stop, ping,
// error), "Errors" (error types and HTTP statuses, 529 overloaded_error).
//
// Thread safety: the functions are pure; a StreamTranslator belongs to one stream.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/http/errors.h"
#include "gateway/providers/translate_common.h"
#include "gateway/providers/usage.h"
#include "gateway/relay/sse.h"

namespace pai::gateway::anthropic {

// Anthropic requires max_tokens; an OpenAI request may omit it. Used when neither the request
// nor the budget sets a limit.
inline constexpr int64_t kDefaultMaxTokens = 4096;

struct RequestOptions {
  std::string model_id;                 // bare Anthropic model id
  std::optional<int64_t> output_limit;  // the budget's cap on output tokens
};

// ChatToMessages() translates an OpenAI chat completion request body into an Anthropic
// Messages request body:
//   system/developer messages → `system`; user/assistant turns (consecutive turns of one role
//   merged); text and image parts (data: URLs → base64 source, http(s) → url source);
//   assistant `tool_calls` → `tool_use` blocks (arguments parsed as JSON); `tool` messages →
//   `tool_result` blocks in a user turn; `tools` → `{name, description, input_schema}`;
//   `tool_choice` auto/none/required/{function} → auto/none/any/{tool}, and
//   `parallel_tool_calls: false` → `disable_parallel_tool_use`; `stop` → `stop_sequences`;
//   `temperature` (clamped to Anthropic's [0, 1]), `top_p` (dropped when temperature is set:
//   recent models refuse both), `stream`, `user` →
//   `metadata.user_id`; `max_tokens` = min(max_completion_tokens | max_tokens, budget cap),
//   else the cap, else kDefaultMaxTokens.
// Dropped (no Anthropic equivalent, no effect on the answer's shape): frequency_penalty,
// presence_penalty, seed, logit_bias, stream_options, store, service_tier, metadata,
// reasoning_effort, prediction.
// Errors: InvalidArgument (400, code `unsupported_parameter` or `invalid_request_error`, param
// = the field) for what cannot be translated: n > 1, logprobs, audio or file parts,
// response_format other than text, malformed tool arguments, a body that is not a chat request.
absl::StatusOr<std::string> ChatToMessages(std::string_view chat_body, const RequestOptions& opts);

// MessageToChatCompletion() translates an Anthropic Message object into an OpenAI
// chat.completion object: text blocks joined into `message.content`, `tool_use` blocks into
// `message.tool_calls` (input serialised as `arguments`), `stop_reason` end_turn /
// stop_sequence / pause_turn → "stop", max_tokens and model_context_window_exceeded →
// "length", tool_use → "tool_calls",
// refusal → "content_filter"; usage: prompt_tokens = input + cache read + cache creation,
// completion_tokens = output, prompt_tokens_details.cached_tokens = cache read. `model` is the
// bare model id (as the OpenAI path answers). Thinking blocks are dropped.
// Errors: InvalidArgument when the body is not a Message object.
absl::StatusOr<std::string> MessageToChatCompletion(std::string_view message_body,
                                                    std::string_view model, int64_t created);

// StreamTranslator: Anthropic stream events in, chat.completion.chunk events out.
class StreamTranslator final : public ChatStreamTranslator {
 public:
  // `model`: the name the client asked for; `include_usage`: the client asked for
  // stream_options.include_usage (the usage chunk is sent only then; usage is always read).
  StreamTranslator(std::string model, bool include_usage, int64_t created);

  // Process() appends to `out` the SSE events (`data: {...}\n\n`) for one Anthropic event.
  // An Anthropic `error` event appends nothing: failed() turns true and error() is the OpenAI
  // error the relay reports (as its one error event).
  void Process(const SseEvent& ev, std::string& out) override;

  // Finish() appends the usage chunk (if asked for) and `data: [DONE]`; call it only after
  // message_stop, when the call is accounted (the relay holds [DONE] until the audit record is
  // durable).
  void Finish(std::string& out) override;

  const Usage& usage() const { return usage_; }
  // final_usage() is true once message_delta reported the output: before that, usage() holds
  // only message_start's placeholder output count (a cut stream is not "reported").
  bool final_usage() const { return final_usage_; }
  const std::vector<ToolCall>& tool_calls() const { return tool_calls_; }
  bool stopped() const { return stopped_; }  // message_stop seen
  bool complete() const override { return stopped_; }
  bool failed() const override { return failed_; }  // an error event seen
  const ApiError& error() const override { return error_; }

 private:
  void Chunk(std::string_view delta_json, std::string_view finish_reason, std::string& out);

  std::string model_;
  bool include_usage_;
  int64_t created_;
  std::string id_;
  Usage usage_;
  std::vector<ToolCall> tool_calls_;
  std::vector<int> tool_index_;       // Anthropic content block index → OpenAI tool_calls index
  std::vector<bool> tool_args_seen_;  // by OpenAI tool_calls index
  bool final_usage_ = false;          // message_delta's usage seen
  std::string finish_reason_;
  bool stopped_ = false;
  bool failed_ = false;
  ApiError error_;
};

// ErrorToOpenAI() maps an Anthropic error answer (HTTP status + `{"type":"error","error":
// {"type","message"}}`) to the OpenAI error the gateway's OpenAI routes return:
//   400 invalid_request_error → 400 invalid_request_error; 401 authentication_error and 403
//   permission_error → 502 upstream_auth_error (the gateway's credentials); 404 not_found_error
//   → 404; 413 request_too_large → 413; 429 rate_limit_error → 429 rate_limit_exceeded;
//   other 5xx → 502 (code: Anthropic's type); 529 overloaded_error → 503 upstream_overloaded.
// `code` carries Anthropic's error type; the message is Anthropic's (never containing a key).
ApiError ErrorToOpenAI(int status, std::string_view body);

}  // namespace pai::gateway::anthropic
