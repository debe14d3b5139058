// Parsing and rewriting of OpenAI request bodies on the hot path.
//
// Wire format: OpenAI API reference, "Create chat completion" (POST /v1/chat/completions) and
// "Create embeddings" (POST /v1/embeddings). The gateway reads only the members it acts on
// (`model`, `messages`, `stream`, `stream_options`, `max_tokens`, `max_completion_tokens`,
// `n`, `input`) with simdjson On-Demand, records their byte spans, and forwards everything else
// byte for byte: the upstream body is the client's body with a few spans spliced, never a
// re-serialisation.
//
// Bodies are std::string whose capacity should leave SIMDJSON_PADDING (64) spare bytes after
// size(); otherwise the parser copies the body once.
//
// Errors: InvalidArgument with OpenAI `code` "invalid_json" or "invalid_request_error" and a
// `param` naming the field (see errors.h).
// Thread safety: the functions use one simdjson parser per thread; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace pai::gateway {

// Span: a byte range of the original body.
struct Span {
  size_t offset = 0;
  size_t length = 0;
  bool present() const { return length != 0; }
};

// ChatCompletionRequest: what the gateway needs from a chat completion request.
struct ChatCompletionRequest {
  std::string model;                  // as sent: "<modelprovider>/<model-id>"
  bool stream = false;                // `stream: true`
  bool client_include_usage = false;  // `stream_options.include_usage: true`
  std::optional<int64_t> max_tokens;
  std::optional<int64_t> max_completion_tokens;
  size_t message_count = 0;
  size_t object_open = 0;    // offset of the top-level '{'
  Span model_span;           // the `model` value, quotes included
  Span stream_options_span;  // the `stream_options` value
  Span max_tokens_span;
  Span max_completion_tokens_span;
  size_t image_parts = 0;  // "image_url" content parts (priced per image, not per byte)
  // `n`: how many choices to generate (1 when absent or null), each up to the output limit;
  // Gemini's candidateCount after translation.
  int64_t n = 1;
};

// EmbeddingsRequest: what the gateway needs from an embeddings request.
struct EmbeddingsRequest {
  std::string model;
  size_t object_open = 0;
  Span model_span;
};

// ParseChatCompletionRequest() validates `body` (a JSON object with a string `model` and a
// non-empty `messages` array of objects with a string `role`) and extracts the fields above.
absl::StatusOr<ChatCompletionRequest> ParseChatCompletionRequest(std::string& body);

// ParseEmbeddingsRequest() validates `body` (a string `model`, an `input` string or array).
absl::StatusOr<EmbeddingsRequest> ParseEmbeddingsRequest(std::string& body);

// UpstreamOptions: how the upstream body differs from the client's.
struct UpstreamChatOptions {
  std::string_view model_id;  // bare id sent upstream, e.g. "gpt-4o-mini"
  // Output limit the budget imposes: written into `max_completion_tokens` / `max_tokens` where
  // the client set them, else inserted as `output_field`.
  std::optional<int64_t> output_limit;
  std::string_view output_field = "max_tokens";
  // For streams: ask upstream for the final usage chunk (`stream_options.include_usage`), so
  // streamed calls are accounted exactly.
  bool force_include_usage = true;
};

// BuildUpstreamChatBody() returns the body to send upstream: `model` replaced by the bare id
// and, for streams, `stream_options.include_usage` set to true (other `stream_options` members
// are kept).
std::string BuildUpstreamChatBody(std::string_view body, const ChatCompletionRequest& req,
                                  const UpstreamChatOptions& options);

// BuildUpstreamEmbeddingsBody() returns the body with `model` replaced by the bare id.
std::string BuildUpstreamEmbeddingsBody(std::string_view body, const EmbeddingsRequest& req,
                                        std::string_view model_id);

// BodyRewriter: applies non-overlapping span replacements and member insertions to a JSON
// object text in one pass. Used by the Build* functions; public for the budget module, which
// rewrites the output-limit fields.
class BodyRewriter {
 public:
  BodyRewriter(std::string_view original, size_t object_open)
      : original_(original), object_open_(object_open) {}

  // Replace() substitutes the bytes of `span` with `text` (raw JSON).
  void Replace(Span span, std::string text);
  // InsertMember() adds `"key": value_json` as the first member of the top-level object.
  void InsertMember(std::string_view key, std::string_view value_json);
  // Finish() produces the rewritten text.
  std::string Finish() const;

 private:
  struct Edit {
    size_t offset;
    size_t length;
    std::string text;
  };
  std::string_view original_;
  size_t object_open_;
  std::vector<Edit> edits_;
  std::string inserted_;  // members inserted after '{', each followed by ','
};

}  // namespace pai::gateway
