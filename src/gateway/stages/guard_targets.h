// What the guards scan (docs/guard.md, "What is scanned"), read from OpenAI-format bodies:
//  - prompts: the content of every `user` message (a string, or the `text` of its content
//    parts of type "text", joined by newlines); on /v1/embeddings, the `input` strings;
//  - tool results: `tool` messages, named by the `function.name` of the assistant
//    `tool_calls[]` entry whose `id` is the message's `tool_call_id` (legacy `function`
//    messages carry `name` themselves);
//  - responses: `choices[].message.content` of a chat completion.
// System, developer and assistant messages of a request are the operator's and the model's own
// words and are not scanned.
//
// Wire format: OpenAI API reference, "Create chat completion" (messages, content parts,
// tool_calls, tool_call_id), "Create embeddings" (input), the chat completion object.
// Thread safety: pure functions (one simdjson parser per thread).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace pai::gateway {

enum class GuardTarget { kPrompt = 0, kToolResult = 1, kResponse = 2 };
inline constexpr int kGuardTargets = 3;
std::string_view GuardTargetName(GuardTarget t);  // "prompt" | "tool_result" | "response"

// GuardText: one text to classify, with where it came from.
struct GuardText {
  GuardTarget target = GuardTarget::kPrompt;
  std::string param;  // the request/response field, as in OpenAI error `param`:
                      // "messages[2].content", "input[0]", "choices[0].message.content"
  std::string tool;   // kToolResult: the tool's name ("" when no call id matched)
  std::string role;   // "user" | "tool" | "assistant" (classifiers that take messages)
  std::string text;
};

// ChatRequestGuardTexts() appends the prompts and tool results of a chat completions request
// body. `body` may gain simdjson padding (no other change). Errors: InvalidArgument when the
// body is not a JSON object with a `messages` array (the parse stage has already refused such
// bodies, so this is defensive).
absl::Status ChatRequestGuardTexts(std::string& body, std::vector<GuardText>* out);

// EmbeddingsGuardTexts() appends the `input` strings of an embeddings request (token-id arrays
// are not text and are skipped).
absl::Status EmbeddingsGuardTexts(std::string& body, std::vector<GuardText>* out);

// ChatContentGuardTexts() is one kResponse GuardText per non-empty message content, `contents`
// by choice index (ChatAnswer::contents), each named `choices[i].message.content`.
std::vector<GuardText> ChatContentGuardTexts(std::vector<std::string> contents);

// StreamContentCollector: assembles `choices[i].delta.content` of a streamed chat completion,
// chunk by chunk, for response scanning after the stream ends.
class StreamContentCollector {
 public:
  // Add() reads one SSE `data:` payload (a chat.completion.chunk).
  void Add(std::string_view data);
  // Texts() returns one kResponse GuardText per choice that produced content.
  std::vector<GuardText> Texts() const;

 private:
  std::vector<std::string> content_;  // by choice index
};

}  // namespace pai::gateway
