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

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "budget/saturating.h"

namespace pai::gateway {

// Usage: a call's usage in OpenAI's terms, whatever the provider. A count the provider sent
// that is not an int64 (a fraction, a string, a number beyond INT64_MAX) is read as -1: the
// budget treats negative counts as missing usage (budget::ComputeCharge()).
struct Usage {
  bool present = false;           // a usage object with at least prompt_tokens was found
  int64_t prompt_tokens = 0;      // every input token, cache reads and writes included
  int64_t completion_tokens = 0;  // every output token, reasoning included
  int64_t total_tokens = 0;
  int64_t cached_tokens = 0;  // cache reads: prompt_tokens_details.cached_tokens
  // Cache writes (Anthropic usage.cache_creation_input_tokens) and, of them, those with a
  // 1-hour TTL (usage.cache_creation.ephemeral_1h_input_tokens); the rest are 5-minute writes.
  int64_t cache_creation_tokens = 0;
  int64_t cache_creation_1h_tokens = 0;
  // Reasoning tokens, part of completion_tokens (OpenAI
  // completion_tokens_details.reasoning_tokens / output_tokens_details.reasoning_tokens,
  // Gemini thoughtsTokenCount).
  int64_t reasoning_tokens = 0;
};

// ExtractUsage() reads `usage` from a complete JSON response body. A body that is not JSON or
// has no usage yields present == false. May reserve padding in `body` (no copy otherwise).
Usage ExtractUsage(std::string& body);

// ReadAnthropicUsage() reads an Anthropic `usage` object (Messages API reference: input_tokens,
// cache_creation_input_tokens, cache_read_input_tokens, cache_creation {ephemeral_5m_input_tokens,
// ephemeral_1h_input_tokens}, output_tokens): prompt_tokens is input + cache writes + cache
// reads. `input` / `output`: which parts to take (a streamed message_delta may restate them;
// members it does not carry keep their value).
void ReadAnthropicUsage(const boost::json::object& u, Usage* usage, bool input, bool output);

// ReadResponsesUsage() reads an OpenAI Responses `usage` object (input_tokens,
// input_tokens_details.cached_tokens, output_tokens, output_tokens_details.reasoning_tokens);
// present when it has input_tokens.
void ReadResponsesUsage(const boost::json::object& u, Usage* usage);

// ReadGeminiUsage() reads a Gemini `usageMetadata` object (API reference, "UsageMetadata"):
// prompt_tokens = promptTokenCount (cached content included), completion_tokens =
// candidatesTokenCount + thoughtsTokenCount (thinking is billed as output and is not part of
// candidatesTokenCount), cached_tokens = cachedContentTokenCount.
void ReadGeminiUsage(const boost::json::object& u, Usage* usage);

// ToolCall: one tool invocation in an LLM response (OpenAI: `message.tool_calls[]` with `id`
// and `function.name`; streamed as `delta.tool_calls[]` deltas keyed by `index`, the id and
// name arriving in the first delta).
struct ToolCall {
  int choice = 0;
  int index = 0;
  std::string id;
  std::string name;
};

// ChatAnswer: what the gateway reads from a complete chat.completion answer (OpenAI API
// reference, "The chat completion object").
struct ChatAnswer {
  Usage usage;                        // `usage`
  std::vector<ToolCall> tool_calls;   // every choice's `message.tool_calls`
  std::vector<std::string> contents;  // `choices[i].message.content` by index i (when asked)
};

// ReadChatAnswer() parses `body` once (simdjson On-Demand, every value consumed, so the whole
// document is checked against RFC 8259's grammar) and reads its usage, tool calls and, if
// `want_contents`, its message contents. nullopt when `body` is not one JSON object (not JSON,
// truncated, malformed anywhere, trailing content). May reserve padding in `body`.
// Thread safety: uses the thread's parser (json_parser.h); not to be nested in another lease.
std::optional<ChatAnswer> ReadChatAnswer(std::string& body, bool want_contents);

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

// SessionTotals: per-Session call totals since the gateway process started (GET /usage
// "sessions", keyed "namespace/session"). In memory only: a restart (not a configuration or
// token reload) resets them; the durable per-call record is the audit chain. One entry per
// Session that made a call (a few dozen bytes each).
// Thread safety: Add() and Snapshot() may be called from any thread (one mutex).
class SessionTotals {
 public:
  struct Totals {
    int64_t calls = 0;         // admitted calls (LLM_CALL records), failures included
    int64_t tokens = 0;        // charged tokens (what the agent's budget was charged)
    int64_t input_tokens = 0;  // as the provider reported them
    int64_t output_tokens = 0;
    int64_t nano_usd = 0;  // charged cost
  };
  void Add(const std::string& key, const Totals& t) {
    std::lock_guard<std::mutex> lock(mu_);
    Totals& e = by_key_[key];
    e.calls = budget::SatAdd(e.calls, t.calls);
    e.tokens = budget::SatAdd(e.tokens, t.tokens);
    e.input_tokens = budget::SatAdd(e.input_tokens, t.input_tokens);
    e.output_tokens = budget::SatAdd(e.output_tokens, t.output_tokens);
    e.nano_usd = budget::SatAdd(e.nano_usd, t.nano_usd);
  }
  // Snapshot() is every session's totals, sorted by key.
  std::map<std::string, Totals> Snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return by_key_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Totals> by_key_;
};

}  // namespace pai::gateway
