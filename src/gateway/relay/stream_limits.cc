#include "gateway/relay/stream_limits.h"

#include <algorithm>
#include <limits>

#include "budget/saturating.h"
#include "common/log.h"
#include "common/strings.h"
#include "gateway/http/errors.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/telemetry/metrics.h"

namespace pai::gateway {
namespace {

size_t SatMul(size_t a, size_t b) {
  if (a != 0 && b > std::numeric_limits<size_t>::max() / a) {
    return std::numeric_limits<size_t>::max();
  }
  return a * b;
}

size_t SatAdd(size_t a, size_t b) {
  return b > std::numeric_limits<size_t>::max() - a ? std::numeric_limits<size_t>::max() : a + b;
}

}  // namespace

std::string_view StreamLimitLabel(StreamLimit limit) {
  switch (limit) {
    case StreamLimit::kEventBytes:
      return "event_bytes";
    case StreamLimit::kStreamBytes:
      return "stream_bytes";
    case StreamLimit::kDuration:
      return "duration";
    case StreamLimit::kCount:
      break;
  }
  return "unknown";
}

size_t StreamByteBound(const StreamLimits& limits, std::optional<int64_t> output_limit,
                       size_t request_bytes) {
  if (!output_limit || *output_limit < 0) return limits.max_stream_bytes;
  size_t bound =
      SatAdd(StreamLimits::kSlackBytes, SatMul(StreamLimits::kRequestEchoes, request_bytes));
  bound = SatAdd(bound, SatMul(static_cast<size_t>(*output_limit), limits.bytes_per_token));
  return std::min(bound, limits.max_stream_bytes);
}

std::chrono::milliseconds StreamDurationBound(const StreamLimits& limits,
                                              std::optional<int64_t> output_limit) {
  if (!output_limit || *output_limit < 0) return limits.max_duration;
  const size_t per_token = static_cast<size_t>(std::max<int64_t>(0, limits.ms_per_token.count()));
  const size_t ms = SatAdd(static_cast<size_t>(StreamLimits::kSlackDuration.count()),
                           SatMul(static_cast<size_t>(*output_limit), per_token));
  const size_t ceiling = static_cast<size_t>(std::max<int64_t>(0, limits.max_duration.count()));
  return std::chrono::milliseconds(static_cast<int64_t>(std::min(ms, ceiling)));
}

StreamMeter::StreamMeter(const StreamLimits& limits, std::optional<int64_t> output_limit,
                         size_t request_bytes, Clock::time_point start)
    : max_bytes_(StreamByteBound(limits, output_limit, request_bytes)),
      max_duration_(StreamDurationBound(limits, output_limit)),
      deadline_(start + max_duration_) {}

absl::Status StreamLimitError(StreamLimit limit, const StreamLimits& limits,
                              const StreamMeter& meter) {
  switch (limit) {
    case StreamLimit::kEventBytes:
      return MakeHttpError(502,
                           pai::StrCat("The model provider sent a stream event larger than ",
                                       limits.max_event_bytes, " bytes"),
                           "upstream_event_too_large");
    case StreamLimit::kDuration:
      return MakeHttpError(
          504,
          pai::StrCat("The model provider's stream ran longer than ",
                      meter.max_duration().count() / 1000, " s for the request's output limit"),
          "upstream_stream_timeout");
    default:
      return MakeHttpError(502,
                           pai::StrCat("The model provider's stream exceeded ", meter.max_bytes(),
                                       " bytes for the request's output limit"),
                           "upstream_stream_too_large");
  }
}

std::optional<int64_t> StreamOutputLimit(const RequestContext& ctx) {
  // The reservation's limit is per choice; a stream carries every choice (`n`).
  if (ctx.reservation && ctx.reservation->output_limit) {
    return budget::SatMul(*ctx.reservation->output_limit,
                          std::max<int64_t>(1, ctx.reservation->choices));
  }
  return std::nullopt;
}

absl::Status StreamLimitHit(Metrics& metrics, StreamLimit limit, const StreamMeter& meter,
                            const RequestContext& ctx, const StreamLimits& limits) {
  metrics.stream_limit_exceeded(limit).Increment();
  boost::json::object fields{{"request_id", ctx.request_id},
                             {"limit", StreamLimitLabel(limit)},
                             {"bytes", meter.bytes()},
                             {"max_bytes", meter.max_bytes()}};
  if (ctx.model) fields["model"] = ctx.model->ref;
  log::Warn("stream limit exceeded", std::move(fields));
  return StreamLimitError(limit, limits, meter);
}

absl::Status StreamReadFailure(Metrics& metrics, absl::Status read, const StreamMeter& meter,
                               const RequestContext& ctx, const StreamLimits& limits) {
  if (read.code() == absl::StatusCode::kCancelled) return read;
  if (!meter.Expired(StreamMeter::Clock::now())) return read;
  return StreamLimitHit(metrics, StreamLimit::kDuration, meter, ctx, limits);
}

}  // namespace pai::gateway
