// Server-sent events and OpenAI's streamed Chat Completions (`stream: true`).
//
// Wire format (OpenAI API reference, "Chat Completions — streaming"): `data: <json>` lines, events
// separated by a blank line, the stream ends with `data: [DONE]`. Each chunk is a
// `chat.completion.chunk`: `choices[0].delta` carries `content` fragments and `tool_calls`
// fragments keyed by `index` (the first fragment of a call has `id`, `type` and
// `function.name`; `function.arguments` arrives in pieces to concatenate); with
// `stream_options.include_usage` a last chunk has empty `choices` and `usage`. A chunk may carry
// `{"error": {...}}` instead (a failure after the response started).
//
// Thread safety: none; one instance per stream.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace pai::harness {

// SseParser splits a byte stream into SSE events and calls `on_data` with each event's data
// (multiple data lines joined by '\n'). Comments (":...") and other fields are ignored.
class SseParser {
 public:
  explicit SseParser(std::function<void(std::string_view)> on_data)
      : on_data_(std::move(on_data)) {}
  void Feed(std::string_view bytes);
  // Finish() dispatches a last event not followed by a blank line.
  void Finish();

 private:
  void Line(std::string_view line);
  std::function<void(std::string_view)> on_data_;
  std::string pending_;  // a partial line
  std::string data_;     // the current event's data
  bool has_data_ = false;
};

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text as the model wrote it
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
};

// ModelReply is one assistant answer.
struct ModelReply {
  std::string model;  // as reported by the response (the gateway may have fallen back)
  std::string content;
  std::vector<ToolCall> tool_calls;  // in index order
  Usage usage;
  std::string finish_reason;
};

// ChatStreamAssembler folds chunks (the data of each SSE event) into a ModelReply.
class ChatStreamAssembler {
 public:
  // AddChunk() takes one event's data. Errors: InvalidArgument for a chunk that is not JSON,
  // Unavailable carrying the message of an in-stream {"error":{...}}.
  absl::Status AddChunk(std::string_view data);
  bool done() const { return done_; }
  // complete() is true when the answer is whole: [DONE] seen, or a finish_reason (some
  // translations end the stream without [DONE]).
  bool complete() const { return done_ || !reply_.finish_reason.empty(); }
  // Take() returns the reply (call once, after the stream ended).
  ModelReply Take();

 private:
  ModelReply reply_;
  std::map<int64_t, ToolCall> calls_;
  bool done_ = false;
};

// ParseCompletion() reads a non-streamed `chat.completion` JSON body (a gateway or server that
// ignored `stream: true`).
absl::Status ParseCompletion(std::string_view body, ModelReply& out);

}  // namespace pai::harness
