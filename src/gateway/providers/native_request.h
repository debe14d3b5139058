// The native (non chat-completions) routes: Anthropic's Messages API (POST /v1/messages,
// POST /v1/messages/count_tokens) and OpenAI's Responses API (POST /v1/responses). The gateway
// forwards these bodies as they are, after rewriting `model` (the bare id) and capping the
// output limit in the API's own field (`max_tokens` / `max_output_tokens`); it reads usage,
// tool calls and text from the answers for budgets, audit and guards.
//
// Wire formats: Anthropic API reference, "Messages" and "Count Message tokens" (request,
// Message object, content blocks text / image / tool_use / tool_result, usage), "Streaming
// Messages"; OpenAI API reference, "Responses" (request `input` as a string or items with
// `input_text` parts, `function_call_output` items; the Response object with `output` items
// `message` (`output_text` parts) and `function_call`, `usage.input_tokens` /
// `output_tokens` / `input_tokens_details.cached_tokens`; streaming events ending in
// `response.completed`).
//
// Thread safety: pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/http/errors.h"
#include "gateway/providers/translate_anthropic.h"
#include "gateway/providers/usage.h"
#include "gateway/relay/sse.h"
#include "gateway/relay/stream_relay.h"
#include "gateway/stages/guard_targets.h"

namespace pai::gateway {

// NativeRequest: what the gateway reads from a native request body.
struct NativeRequest {
  std::string model;  // as sent: "<modelprovider>/<model-id>" or a bare id
  bool stream = false;
  std::optional<int64_t> max_output;  // max_tokens / max_output_tokens as sent
  // The parsed body, parsed once: the upstream rewrite and the guards read it.
  std::shared_ptr<const boost::json::object> doc;
};

// ParseAnthropicMessagesRequest() validates a Messages (or count_tokens) body: a JSON object
// with a string `model`, a `messages` list and, for Messages, an integer `max_tokens` >= 1
// (`require_max_tokens`). Errors: InvalidArgument with `param`.
absl::StatusOr<NativeRequest> ParseAnthropicMessagesRequest(std::string_view body,
                                                            bool require_max_tokens);

// ParseResponsesRequest() validates a Responses body: a JSON object with a string `model` and
// an `input` (string or list). Errors: InvalidArgument with `param`.
absl::StatusOr<NativeRequest> ParseResponsesRequest(std::string_view body);

// RewriteNativeBody() sets `model` to `model_id` and, when `cap` is set, `output_field` to
// min(its value, cap) (added when absent). With Anthropic extended thinking (`thinking.type`
// "enabled"), `thinking.budget_tokens` is kept below the new max_tokens; a cap that leaves
// less than the API's minimum thinking budget (1024) is a 429 insufficient_quota. Errors:
// InvalidArgument when the body is not an object (validated upstream in practice).
absl::StatusOr<std::string> RewriteNativeBody(const boost::json::object& body,
                                              std::string_view model_id,
                                              std::string_view output_field,
                                              std::optional<int64_t> cap);

// AnthropicRequestGuardTexts(): user-role text (string content or text blocks) as prompts,
// `tool_result` blocks as tool results named by the preceding `tool_use` block with that id.
// `param` is "messages[i].content". Errors: InvalidArgument when unreadable.
absl::Status AnthropicRequestGuardTexts(const boost::json::object& body,
                                        std::vector<GuardText>* out);

// ResponsesRequestGuardTexts(): `input` as a string (param "input") or its user items' text
// (`input_text` parts; param "input[i].content") and `function_call_output` items as tool
// results named by the `function_call` item with that `call_id` ("input[i].output").
absl::Status ResponsesRequestGuardTexts(const boost::json::object& body,
                                        std::vector<GuardText>* out);

// NativeResult: what a complete native answer holds for accounting and the guards.
struct NativeResult {
  bool json = false;  // the body parsed as one JSON object
  Usage usage;
  std::vector<ToolCall> tool_calls;
  std::vector<GuardText> texts;  // assistant text (kResponse)
};

// AnthropicMessageResult() reads a Message object; ResponsesResult() a Response object
// (also the `response` of a `response.completed` event).
NativeResult AnthropicMessageResult(std::string_view body);
NativeResult ResponsesResult(std::string_view body);

// NativeStreamRelay: a native stream (Anthropic Messages or OpenAI Responses), relayed event by
// event unchanged, except that its final event — `message_stop`, or `response.completed` /
// `response.incomplete` — is held until Finish(), so that the gateway can make the call's audit
// record durable before the client sees the end. Usage, tool calls and the assistant text are
// read on the way. Not thread-safe; one per stream.
class NativeStreamRelay {
 public:
  // `max_event_bytes`: the largest provider event accepted (SseParser); past it overflowed().
  explicit NativeStreamRelay(bool anthropic,
                             size_t max_event_bytes = SseParser::kDefaultMaxEventBytes);
  // Process() consumes provider bytes and appends the events the client gets now to `out`.
  void Process(std::string_view bytes, std::string& out);
  // Finish() appends the held final event.
  void Finish(std::string& out);
  bool completed() const { return completed_; }             // the final event arrived
  bool overflowed() const { return parser_.overflowed(); }  // an event exceeded the limit
  // failed(): the provider reported an error event (relayed as it is); error() is its status.
  bool failed() const { return failed_; }
  const ApiError& error() const { return error_; }
  // usage(): reported only when the stream carried its final usage (Anthropic: message_delta;
  // Responses: the final event); a cut stream's usage is not "reported", so the budget's
  // no-usage rule charges it.
  Usage usage() const;
  const std::vector<ToolCall>& tool_calls() const;
  std::vector<GuardText> texts() const;

 private:
  bool anthropic_;
  SseParser parser_;
  anthropic::StreamTranslator translator_;  // Anthropic: reads usage / tool calls
  ChatStreamRelay view_;                    // Anthropic: assembles the text from the translation
  NativeResult responses_;                  // Responses: from the final event
  std::string held_;
  bool completed_ = false;
  bool failed_ = false;
  ApiError error_;
};

}  // namespace pai::gateway
