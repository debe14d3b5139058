// Stream limits: how much and how long one streamed provider response may run
// (docs/configuration.md, "Streams"; issue 12 item 5).
//
// A provider that ignores the output limit, or streams bytes that never form an event, must not
// hold an agent's slot and reservation (or the gateway's memory) without end. Three bounds:
//  - event bytes: one SSE event's raw bytes (enforced by SseParser);
//  - stream bytes: the provider bytes of one response, at most
//      kSlackBytes + kRequestEchoes × request bytes + output limit × bytes_per_token
//    (and never above max_stream_bytes, which is also the bound without an output limit);
//    responses echo the request (the Responses API's response.created / .in_progress /
//    .completed events carry its instructions and tools), hence the request term;
//  - duration: from the response header to the end of the stream, at most
//      kSlackDuration + output limit × ms_per_token
//    (and never above max_duration, which is also the bound without an output limit): a
//    provider that ignores the limit cannot hold the slot for an hour on a 100-token call.
// Past a bound the gateway ends the stream towards the client with the API's error event.
//
// Thread safety: StreamMeter is per stream (one shard thread); the rest is immutable.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/status.h"

namespace pai::gateway {

class Metrics;
struct RequestContext;

struct StreamLimits {
  size_t max_event_bytes = 4u << 20;     // one SSE event (raw bytes, blank line included)
  size_t bytes_per_token = 4096;         // provider bytes allowed per output token
  size_t max_stream_bytes = 256u << 20;  // ceiling; the bound when no output limit applies
  std::chrono::milliseconds max_duration{3'600'000};  // ceiling; the bound without an output limit
  std::chrono::milliseconds ms_per_token{50};  // stream time allowed per output token (≥ 20/s)
  static constexpr size_t kSlackBytes = 1u << 20;
  static constexpr std::chrono::milliseconds kSlackDuration{120'000};  // time to first token
  static constexpr size_t kRequestEchoes = 4;
};

// StreamLimit: which bound a stream crossed (the metric's `limit` label).
enum class StreamLimit { kEventBytes = 0, kStreamBytes, kDuration, kCount };
std::string_view StreamLimitLabel(StreamLimit limit);

// StreamByteBound() is the stream-bytes bound for a request of `request_bytes` whose output is
// limited to `output_limit` tokens (unset: no limit known). Saturating.
size_t StreamByteBound(const StreamLimits& limits, std::optional<int64_t> output_limit,
                       size_t request_bytes);

// StreamDurationBound() is the duration bound for an output limit of `output_limit` tokens
// (unset: no limit known). Saturating.
std::chrono::milliseconds StreamDurationBound(const StreamLimits& limits,
                                              std::optional<int64_t> output_limit);

// StreamMeter: counts one stream's provider bytes against its bounds.
class StreamMeter {
 public:
  using Clock = std::chrono::steady_clock;
  StreamMeter(const StreamLimits& limits, std::optional<int64_t> output_limit, size_t request_bytes,
              Clock::time_point start);

  // Add() counts `n` provider bytes; false once the stream-bytes bound is exceeded.
  bool Add(size_t n) {
    bytes_ += n;
    return bytes_ <= max_bytes_;
  }
  // Expired() is whether `now` is past the duration bound.
  bool Expired(Clock::time_point now) const { return now >= deadline_; }

  Clock::time_point deadline() const { return deadline_; }
  size_t max_bytes() const { return max_bytes_; }
  std::chrono::milliseconds max_duration() const { return max_duration_; }
  size_t bytes() const { return bytes_; }

 private:
  size_t max_bytes_;
  std::chrono::milliseconds max_duration_;
  size_t bytes_ = 0;
  Clock::time_point deadline_;
};

// StreamLimitError() is the status a stream ends with past `limit`: 502 (code
// upstream_stream_too_large / upstream_event_too_large) or 504 (upstream_stream_timeout).
absl::Status StreamLimitError(StreamLimit limit, const StreamLimits& limits,
                              const StreamMeter& meter);

// StreamOutputLimit() is the output the request may produce (its reservation's limit), if known.
std::optional<int64_t> StreamOutputLimit(const RequestContext& ctx);

// StreamLimitHit() records a stream that crossed `limit` (pai_gateway_stream_limit_exceeded_total,
// a warning line) and returns StreamLimitError(); the access log and the LLM_CALL record carry
// its status and code once the relay reports it.
absl::Status StreamLimitHit(Metrics& metrics, StreamLimit limit, const StreamMeter& meter,
                            const RequestContext& ctx, const StreamLimits& limits);

// StreamReadFailure(): a provider read that failed past the stream's deadline is the duration
// limit (StreamLimitHit); any other failure, and a cancellation, is returned as it is.
absl::Status StreamReadFailure(Metrics& metrics, absl::Status read, const StreamMeter& meter,
                               const RequestContext& ctx, const StreamLimits& limits);

}  // namespace pai::gateway
