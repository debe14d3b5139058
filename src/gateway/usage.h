// Token usage extraction from OpenAI-format responses.
//
// Wire format: OpenAI API reference, the chat completion object (`usage.prompt_tokens`,
// `usage.completion_tokens`, `usage.total_tokens`, `usage.prompt_tokens_details.cached_tokens`),
// the chat completion chunk object (with `stream_options.include_usage`, a final chunk whose
// `choices` is empty carries `usage`; every other chunk has `"usage": null`), and the
// embeddings response (`usage.prompt_tokens`, `usage.total_tokens`).
//
// Thread safety: one simdjson parser per thread; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pai::gateway {

struct Usage {
  bool present = false;  // a usage object with at least prompt_tokens was found
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
  int64_t cached_tokens = 0;  // prompt_tokens_details.cached_tokens
};

// ExtractUsage() reads `usage` from a complete JSON response body. A body that is not JSON or
// has no usage yields present == false. May reserve padding in `body` (no copy otherwise).
Usage ExtractUsage(std::string& body);

// ToolCall: one tool invocation in an LLM response (OpenAI: `message.tool_calls[]` with `id`
// and `function.name`; streamed as `delta.tool_calls[]` deltas keyed by `index`, the id and
// name arriving in the first delta).
struct ToolCall {
  int choice = 0;
  int index = 0;
  std::string id;
  std::string name;
};

// ExtractToolCalls() reads every choice's `message.tool_calls` from a chat completion body.
std::vector<ToolCall> ExtractToolCalls(std::string& body);

// ExtractToolCallDeltas() reads the `delta.tool_calls` of one chunk (id/name may be empty in
// continuation deltas).
std::vector<ToolCall> ExtractToolCallDeltas(std::string_view data);

// ChunkInfo: what the relay needs from one streamed `data:` payload.
struct ChunkInfo {
  bool done = false;           // the "[DONE]" sentinel
  bool json = false;           // the payload parsed as a JSON object
  bool choices_empty = false;  // `choices` present and empty (OpenAI's usage-only chunk)
  Usage usage;
};

// InspectChunk() inspects one SSE data payload of a chat completion stream.
ChunkInfo InspectChunk(std::string_view data);

}  // namespace pai::gateway
