// ChatStreamRelay: the gateway's view of a streamed chat completion (OpenAI API reference,
// "The chat completion chunk object"; SSE framing as in sse.h).
//
// Bytes from the provider go in; the bytes for the client come out event by event, unchanged,
// as soon as each event is complete. Along the way the relay reads `usage` so that a streamed
// call is accounted exactly.
//
// Usage chunk policy (docs/architecture.md, "Streaming"): the gateway always asks the provider
// for usage (`stream_options.include_usage: true`). When the client did not ask for it, the
// provider's usage-only chunk (`"choices": []` with `usage`) is not forwarded, so the client sees
// the stream it asked for; OpenAI's `"usage": null` members on the other chunks are left as
// they are (clients must accept them either way).
//
// Thread safety: none; one relay per stream.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gateway/providers/usage.h"
#include "gateway/relay/sse.h"
#include "gateway/stages/guard_targets.h"

namespace pai::gateway {

class ChatStreamRelay {
 public:
  // `max_event_bytes`: the largest provider event accepted (SseParser); past it overflowed().
  explicit ChatStreamRelay(bool client_wants_usage,
                           size_t max_event_bytes = SseParser::kDefaultMaxEventBytes)
      : client_wants_usage_(client_wants_usage), parser_(max_event_bytes) {}

  // Process() consumes provider bytes and appends what the client should receive to `out`.
  void Process(std::string_view in, std::string& out);

  // Finish() appends the held-back "[DONE]" event and any incomplete final event (a provider
  // that ended without a blank line). The relay withholds "[DONE]" from Process() so the
  // gateway can make the call's audit record durable before the client sees the end.
  void Finish(std::string& out);

  // CollectContent() makes the relay assemble the assistant text (response guards); off by
  // default, as it costs a parse per content chunk.
  void CollectContent() { collect_content_ = true; }
  // ContentTexts() is the assembled text per choice (empty unless CollectContent() was called).
  std::vector<GuardText> ContentTexts() const { return content_.Texts(); }

  // tool_calls() are the tool invocations assembled from the stream's deltas, in order.
  const std::vector<ToolCall>& tool_calls() const { return tool_calls_; }

  // overflowed(): an event exceeded the limit; the relay ignores all further input.
  bool overflowed() const { return parser_.overflowed(); }

  const Usage& usage() const { return usage_; }
  bool saw_done() const { return saw_done_; }
  int events() const { return events_; }

 private:
  bool client_wants_usage_;
  SseParser parser_;
  Usage usage_;
  bool saw_done_ = false;
  int events_ = 0;
  std::string held_done_;
  std::vector<ToolCall> tool_calls_;
  bool collect_content_ = false;
  StreamContentCollector content_;
};

}  // namespace pai::gateway
