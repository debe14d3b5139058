// Pieces shared by the provider translators (translate_anthropic, translate_gemini): reading
// Boost.JSON members without temporaries, and writing OpenAI chat.completion.chunk events and
// usage objects (OpenAI API reference, "The chat completion chunk object").
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "gateway/http/errors.h"
#include "gateway/providers/usage.h"
#include "gateway/relay/sse.h"

namespace pai::gateway {

// ChatStreamTranslator: one provider stream in the provider's own API (its SSE events) turned
// into OpenAI chat.completion.chunk events — the interface of anthropic::StreamTranslator and
// gemini::StreamTranslator, so the relay holds one translator whatever the provider
// (ProviderAdapter::MakeStreamTranslator() in adapter.h picks it). One per stream; not thread-safe.
class ChatStreamTranslator {
 public:
  virtual ~ChatStreamTranslator() = default;
  // Process() appends the chunks event `ev` yields to `out` (possibly none).
  virtual void Process(const SseEvent& ev, std::string& out) = 0;
  // Finish() appends the final chunk with the finish reason (if none was sent), the usage chunk
  // (if asked for) and `data: [DONE]`.
  virtual void Finish(std::string& out) = 0;
  // complete(): the provider ended its stream properly (a body that ends before was cut).
  virtual bool complete() const = 0;
  // failed(): the stream carried an error event; error() is its OpenAI form.
  virtual bool failed() const = 0;
  virtual const ApiError& error() const = 0;
};

}  // namespace pai::gateway

namespace pai::gateway::translate {

// Member() is the string member `key` of `o` ("" when absent or not a string): a view into `o`,
// never into a temporary.
std::string_view Member(const boost::json::object& o, std::string_view key);
// ObjectMember() is the object member `key` of `o`, or null.
const boost::json::object* ObjectMember(const boost::json::object& o, std::string_view key);
// IntMember() is the integer member `key` of `o` (0 when absent or not an integer).
int64_t IntMember(const boost::json::object& o, std::string_view key);

// DataUrl: the parts of a `data:<media type>;base64,<data>` URL.
struct DataUrl {
  std::string_view media_type;
  std::string_view data;
};
// ParseDataUrl() splits a base64 data URL. Errors: InvalidArgument (400, `param`) when the URL
// is not `data:<type>;base64,...`.
absl::StatusOr<DataUrl> ParseDataUrl(std::string_view url, std::string_view param);

// ToolArguments() parses an OpenAI tool call's `function.arguments` (a JSON string) into the
// object the provider APIs take ({} when empty). Errors: InvalidArgument (400, `param`) when it
// is not a JSON object.
absl::StatusOr<boost::json::value> ToolArguments(std::string_view arguments,
                                                 std::string_view param);

// OutputLimit() is the request's output limit (`max_completion_tokens`, else `max_tokens`)
// capped by the budget's `cap`; nullopt when neither sets one.
std::optional<int64_t> OutputLimit(const boost::json::object& request, std::optional<int64_t> cap);

// UsageJson() is an OpenAI `usage` object (prompt / completion / total tokens, cached tokens;
// completion_tokens_details.reasoning_tokens when there are any; Anthropic cache writes as
// `cache_creation_input_tokens` and `cache_creation` {ephemeral_5m_input_tokens,
// ephemeral_1h_input_tokens}, LiteLLM's convention, when there are any).
boost::json::object UsageJson(const Usage& u);

// AppendChunk() appends one `data: {chat.completion.chunk}` event with one choice (index 0),
// `delta_json` as its delta and `finish_reason` (null when empty).
void AppendChunk(std::string& out, std::string_view id, int64_t created, std::string_view model,
                 std::string_view delta_json, std::string_view finish_reason);

// AppendUsageChunk() appends the usage-only chunk (`choices: []`) OpenAI sends last when
// stream_options.include_usage is set.
void AppendUsageChunk(std::string& out, std::string_view id, int64_t created,
                      std::string_view model, const Usage& usage);

}  // namespace pai::gateway::translate
