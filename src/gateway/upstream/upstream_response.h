// Validation of a provider's answer before any of it is relayed, and the sanitising of the few
// provider header values the gateway passes on.
//
// Thread safety: pure functions (one simdjson parser per thread).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/relay/scrub.h"

namespace pai::gateway {

// CheckUpstreamHead() refuses, as 502 `upstream_error` (errors.h), a provider answer the gateway
// must not relay: a redirect (any 3xx: the gateway follows none, and a Location may point
// anywhere) and a 2xx answer to a stream request that is not `text/event-stream`.
// `provider` is the ModelProvider name the message names (never its address).
absl::Status CheckUpstreamHead(int status, std::string_view content_type, bool stream_requested,
                               std::string_view provider);

// CheckUpstreamJson() refuses (502 `upstream_error`) a non-stream 2xx body that is not one
// whole JSON document (RFC 8259), e.g. a proxy's HTML page.
absl::Status CheckUpstreamJson(const std::string& body, std::string_view provider);

// UpstreamNotJson() is CheckUpstreamJson()'s refusal, for readers that check in their own parse.
absl::Status UpstreamNotJson(std::string_view provider);

// LogRedactions() logs (warn) that `count` stretches of a provider key were redacted from the
// answer to request `ctx` — the provider echoes the gateway's key; the key itself is not logged.
void LogRedactions(const RequestContext& ctx, size_t count);

// SafeRetryAfter() is `value` when it is a Retry-After value (RFC 9110 §10.2.3: delay-seconds or
// an HTTP-date) holding no key run (`scrubber`); otherwise empty (the header is dropped).
std::string SafeRetryAfter(std::string_view value, const KeyScrubber& scrubber);

}  // namespace pai::gateway
