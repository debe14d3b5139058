// OpenAI Chat Completions ⇄ Gemini generateContent translation (issue 6; docs/providers.md
// when it is wired). Pure functions and one stream translator: no I/O.
//
// Wire formats: OpenAI API reference, "Create chat completion" (request, chat.completion,
// chat.completion.chunk); Gemini API reference, "Generating content" (POST
// models/{model}:generateContent and :streamGenerateContent?alt=sse — Content, Part with text /
// inlineData / fileData / functionCall / functionResponse, systemInstruction, Tool with
// functionDeclarations, ToolConfig.functionCallingConfig, GenerationConfig,
// GenerateContentResponse with candidates[].finishReason and usageMetadata), and the Google API
// error format (`{"error":{"code","message","status"}}`). The key goes in the
// `x-goog-api-key` header, never in the URL.
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

namespace pai::gateway::gemini {

struct RequestOptions {
  std::optional<int64_t> output_limit;  // the budget's cap on output tokens
};

// Path() is the API path for `model_id`, appended to the provider's base URL
// (".../v1beta"): "/models/<id>:generateContent" or
// "/models/<id>:streamGenerateContent?alt=sse".
std::string Path(std::string_view model_id, bool stream);

// ChatToGenerateContent() translates an OpenAI chat completion request body:
//   system/developer → systemInstruction; user → role "user", assistant → role "model"
//   (consecutive turns of one role merged); text parts; images (data: URLs → inlineData,
//   http(s) → fileData); assistant tool_calls → functionCall parts (args parsed as JSON);
//   tool messages → functionResponse parts ({name, response: {content}}, the name found from
//   the assistant tool call with that id); tools → functionDeclarations; tool_choice auto /
//   none / required / {function} → functionCallingConfig AUTO / NONE / ANY / ANY with
//   allowedFunctionNames; temperature, top_p, stop, n (not with stream), response_format
//   json_object / json_schema → generationConfig (responseMimeType, responseJsonSchema);
//   maxOutputTokens = min( client limit, budget cap).
// Errors: InvalidArgument (400 `unsupported_parameter` / `invalid_request_error`, param) for
// logprobs, audio/file parts, malformed tool arguments, a body that is not a chat request.
absl::StatusOr<std::string> ChatToGenerateContent(std::string_view chat_body,
                                                  const RequestOptions& opts);

// GenerateContentToChatCompletion() translates a GenerateContentResponse into a chat.completion:
// one choice per candidate; text parts joined; functionCall parts → tool_calls (id: the
// part's `id`, else "call_<candidate>_<n>"; a `thoughtSignature` travels in the id after
// "#sig=" and is restored on the functionCall part when the client sends the call back, as
// Gemini 3 requires); a prompt blocked by `promptFeedback.blockReason` → one choice with
// finish_reason "content_filter"; finishReason STOP → "stop" (or "tool_calls" when
// the candidate called a function), MAX_TOKENS → "length", SAFETY / RECITATION / BLOCKLIST /
// PROHIBITED_CONTENT / SPII / IMAGE_SAFETY → "content_filter", others → "stop"; usage:
// prompt_tokens = promptTokenCount, completion_tokens = candidatesTokenCount +
// thoughtsTokenCount, cached_tokens = cachedContentTokenCount.
// Errors: InvalidArgument when the body is not a GenerateContentResponse.
absl::StatusOr<std::string> GenerateContentToChatCompletion(std::string_view body,
                                                            std::string_view model,
                                                            int64_t created);

// StreamTranslator: streamGenerateContent SSE events (each a GenerateContentResponse) in,
// chat.completion.chunk events out. Gemini has no end event: the stream ends when the body
// does, so Finish() is called at the clean end of the upstream body.
class StreamTranslator final : public ChatStreamTranslator {
 public:
  StreamTranslator(std::string model, bool include_usage, int64_t created);
  void Process(const SseEvent& ev, std::string& out) override;
  // Finish() appends the final chunk with the finish reason (if none was sent), the usage
  // chunk (if asked for) and `data: [DONE]`.
  void Finish(std::string& out) override;
  const Usage& usage() const { return usage_; }
  const std::vector<ToolCall>& tool_calls() const { return tool_calls_; }
  // finished() — a finishReason arrived (a body that ends without one was cut); failed() — the
  // stream carried an error object (Gemini reports mid-stream failures inside the 200 stream),
  // error() is its OpenAI form.
  bool finished() const { return finished_; }
  bool complete() const override { return finished_; }
  bool failed() const override { return failed_; }
  const ApiError& error() const override { return error_; }

 private:
  void Chunk(std::string_view delta_json, std::string_view finish_reason, std::string& out);

  std::string model_;
  bool include_usage_;
  int64_t created_;
  std::string id_;
  bool started_ = false;
  bool finished_ = false;
  bool failed_ = false;
  ApiError error_;
  Usage usage_;
  std::vector<ToolCall> tool_calls_;
};

// ErrorToOpenAI() maps a Google API error answer to the OpenAI error of the gateway's OpenAI
// routes: 400 → 400 invalid_request_error (but 400 with reason API_KEY_INVALID, 401 and 403
// → 502 upstream_auth_error: the gateway's credentials); 404 → 404;
// 429 RESOURCE_EXHAUSTED → 429 rate_limit_exceeded; 500 → 502; 503 UNAVAILABLE → 503
// upstream_overloaded; 504 DEADLINE_EXCEEDED → 504 upstream_timeout. `code` carries the
// Google `status`.
ApiError ErrorToOpenAI(int status, std::string_view body);

}  // namespace pai::gateway::gemini
