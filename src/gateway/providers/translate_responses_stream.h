// A streamed chat completion (chat.completion.chunk events, as the Anthropic and Gemini
// translators produce them) turned into the OpenAI Responses API's streaming events, for
// /v1/responses calls to providers with their own API (docs/providers.md, "The Responses
// API"; request and Response object: translate_responses.h).
//
// Wire format: OpenAI API reference, "Responses streaming events" — each event is
// `event: <type>\ndata: {"type": <type>, "sequence_number": n, ...}\n\n` with n = 0, 1, 2, …:
//   response.created, response.in_progress (the Response, status in_progress, output []);
//   per output item: response.output_item.added (item status in_progress), for a message
//   response.content_part.added → response.output_text.delta* → response.output_text.done →
//   response.content_part.done, for a function call response.function_call_arguments.delta*
//   → response.function_call_arguments.done; then response.output_item.done (item status
//   completed); last response.completed (or response.incomplete: max_output_tokens /
//   content_filter) with the whole Response and its usage. A failure is an `error` event
//   ({type, code, message, param}) followed by response.failed (status failed, `error`
//   {code, message}). The shapes are those of the openai-node SDK's ResponseStreamEvent.
//
// Thread safety: none; one translator per stream.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/http/errors.h"
#include "gateway/relay/sse.h"

namespace pai::gateway::responses {

class StreamTranslator {
 public:
  // `request`: the Responses request (its settings are echoed in the Response); `created_at`:
  // Unix seconds.
  StreamTranslator(const boost::json::object& request, int64_t created_at);

  // Process() consumes chat.completion.chunk SSE bytes and appends Responses events to `out`.
  // The chat stream's `data: [DONE]` closes the open items and appends the final event
  // (response.completed / response.incomplete): hold [DONE] back until the call is accounted,
  // and the final event is held with it.
  void Process(std::string_view chat_events, std::string& out);

  // Fail() appends the `error` and `response.failed` events for `e` (the stream ends there).
  void Fail(const ApiError& e, std::string& out);

  bool completed() const { return completed_; }  // the final event was appended

 private:
  void OnChunk(const boost::json::object& chunk, std::string& out);
  void Start(const boost::json::object& chunk, std::string& out);
  void Text(std::string_view delta, std::string& out);
  void ToolCall(const boost::json::object& delta, std::string& out);
  void Close(size_t index, std::string& out);
  boost::json::object& Sync(size_t index);  // writes content_[index] into the output item
  void CloseAll(std::string& out);
  void Finish(std::string& out);
  void Emit(std::string_view type, boost::json::object event, std::string& out);

  boost::json::object response_;  // the Response being assembled (output, usage, status)
  SseParser parser_;
  int64_t sequence_ = 0;
  bool started_ = false;
  bool completed_ = false;
  std::string base_;          // id base of the response and its items
  std::vector<bool> closed_;  // by output index
  // By output index: the text of a message item, the arguments of a function call so far
  // (kept apart from response_ so that a delta costs its own length, not the item's).
  std::vector<std::string> content_;
  long open_message_ = -1;         // output index of the message item receiving text
  std::vector<size_t> tool_item_;  // chat tool_calls index → output index
  std::string finish_reason_;
};

}  // namespace pai::gateway::responses
