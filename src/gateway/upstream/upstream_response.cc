#include "gateway/upstream/upstream_response.h"

#include <simdjson.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/log.h"
#include "common/strings.h"
#include "gateway/http/errors.h"

namespace pai::gateway {
namespace {

absl::Status UpstreamError(std::string_view provider, std::string_view what) {
  return MakeHttpError(502, pai::StrCat("ModelProvider ", provider, " ", what), "upstream_error");
}

}  // namespace

absl::Status CheckUpstreamHead(int status, std::string_view content_type, bool stream_requested,
                               std::string_view provider) {
  if (status >= 300 && status < 400) {
    return UpstreamError(provider, pai::StrCat("answered with a redirect (HTTP ", status,
                                               "); the gateway follows none"));
  }
  if (stream_requested && status >= 200 && status < 300 &&
      !absl::StartsWithIgnoreCase(absl::StripLeadingAsciiWhitespace(AV(content_type)),
                                  "text/event-stream")) {
    return UpstreamError(provider, "did not answer the stream request with an event stream");
  }
  return absl::OkStatus();
}

absl::Status CheckUpstreamJson(const std::string& body, std::string_view provider) {
  thread_local simdjson::dom::parser parser;
  // The DOM parse validates the whole document; it copies the body only when its buffer lacks
  // simdjson's padding (ReadAll() reserves it when the length is known).
  const bool padded = body.capacity() - body.size() >= simdjson::SIMDJSON_PADDING;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size(), /*realloc_if_needed=*/!padded).get(doc) !=
      simdjson::SUCCESS) {
    return UpstreamNotJson(provider);
  }
  return absl::OkStatus();
}

absl::Status UpstreamNotJson(std::string_view provider) {
  return UpstreamError(provider, "answered with a body that is not JSON");
}

void LogRedactions(const RequestContext& ctx, size_t count) {
  log::Warn("provider key redacted from a provider answer",
            {{"request_id", ctx.request_id},
             {"provider", ctx.model && ctx.model->provider ? ctx.model->provider->spec.name : ""},
             {"stretches", static_cast<int64_t>(count)}});
}

std::string SafeRetryAfter(std::string_view value, const KeyScrubber& scrubber) {
  value = SV(absl::StripAsciiWhitespace(AV(value)));
  if (value.empty() || value.size() > 64) return {};
  // delay-seconds is digits; an IMF-fixdate is letters, digits, ' ', ',' and ':'.
  for (char c : value) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != ' ' && c != ',' && c != ':') {
      return {};
    }
  }
  if (scrubber.Contains(value)) return {};
  return std::string(value);
}

}  // namespace pai::gateway
