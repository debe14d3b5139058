// The streamed answers: a provider stream relayed to the client, translated to OpenAI's
// chat.completion.chunk events where the provider speaks its own API (RelayUpstream), or
// passed through in the client's own API (RelayNative); bounded by relay/stream_limits.h.

#include "absl/time/clock.h"
#include "common/json_util.h"
#include "common/strings.h"
#include "gateway/http/errors.h"
#include "gateway/providers/adapter.h"
#include "gateway/providers/translate_responses_stream.h"
#include "gateway/relay/stream_limits.h"
#include "gateway/relay/stream_relay.h"
#include "gateway/server/proxy_internal.h"
#include "gateway/server/server_impl.h"

namespace pai::gateway {

void TranslateEvents(SseParser& parser, std::string_view bytes, ChatStreamTranslator& translator,
                     std::string& out) {
  parser.Feed(bytes, [&](const SseEvent& ev) { translator.Process(ev, out); });
}
// NextPiece() reads the provider's next bytes into `*piece` (empty at the end of the stream),
// counted against the stream's size bound. Errors: the read's failure (StreamReadFailure), or
// the size bound crossed (StreamLimitHit; the call is cancelled).
static Task<absl::Status> NextPiece(Metrics& metrics, UpstreamCall* call, StreamMeter& meter,
                                    const RequestContext& ctx, const StreamLimits& limits,
                                    std::string_view* piece) {
  auto read = co_await call->ReadSome();
  if (!read.ok()) co_return StreamReadFailure(metrics, read.status(), meter, ctx, limits);
  *piece = *read;
  if (!piece->empty() && !meter.Add(piece->size())) {
    call->Cancel();
    co_return StreamLimitHit(metrics, StreamLimit::kStreamBytes, meter, ctx, limits);
  }
  co_return absl::OkStatus();
}

Task<absl::Status> GatewayImpl::RelayUpstream(ClientConn* conn, RequestContext* ctx,
                                              UpstreamCall* call, bool* client_gone) {
  const ModelRoute& model = *ctx->model;
  const auto t0 = Clock::now();
  const StreamLimits& limits = options_.stream_limits;
  StreamMeter meter(limits, StreamOutputLimit(*ctx), ctx->body->size(), t0);
  call->set_deadline(meter.deadline());
  // /v1/responses (anthropic, gemini): the chat chunks are turned into Responses events last.
  std::optional<responses::StreamTranslator> to_responses;
  if (ctx->native) to_responses.emplace(*ctx->native->doc, absl::ToUnixSeconds(absl::Now()));
  auto for_client = [&to_responses](std::string& events) {
    if (!to_responses) return;
    std::string chat_events = std::move(events);
    events.clear();
    to_responses->Process(chat_events, events);
  };
  ChatStreamRelay relay((ctx->chat && ctx->chat->client_include_usage) || to_responses,
                        limits.max_event_bytes);
  if (ctx->agent->scans_responses) relay.CollectContent();
  // Providers with their own API: their events are translated into chat.completion.chunk
  // events first, then relayed like OpenAI's (usage always requested from the translator: the
  // relay drops the usage chunk when the client did not ask for it).
  const std::unique_ptr<ChatStreamTranslator> translator =
      model.provider->adapter->MakeStreamTranslator(*ctx, absl::ToUnixSeconds(absl::Now()));
  SseParser provider_events(limits.max_event_bytes);
  std::string translated;
  ChunkWriter w{conn, options_.body_timeout, ctx};
  ctx->reply.status = 200;
  if (auto ec = co_await w.Header(); ec) {
    *client_gone = true;
    co_return absl::CancelledError("client write failed");
  }
  std::string out;
  bool first = true;
  absl::Status upstream_status;
  for (;;) {
    std::string_view piece;
    upstream_status = co_await NextPiece(metrics_, call, meter, *ctx, limits, &piece);
    if (!upstream_status.ok() || piece.empty()) break;
    out.clear();
    bool stop = false;
    if (!translator) {  // OpenAI's own chunks
      relay.Process(piece, out);
    } else {
      translated.clear();
      TranslateEvents(provider_events, piece, *translator, translated);
      relay.Process(translated, out);
      for_client(out);
      const ApiError* failed = translator->failed() ? &translator->error() : nullptr;
      if (failed) {
        upstream_status = MakeHttpError(failed->http_status, failed->message, failed->code);
        call->Cancel();
        stop = true;
      }
    }
    if (!stop && (relay.overflowed() || provider_events.overflowed())) {
      upstream_status = StreamLimitHit(metrics_, StreamLimit::kEventBytes, meter, *ctx, limits);
      call->Cancel();
      stop = true;
    }
    if (out.empty()) {
      if (stop) break;
      continue;
    }
    if (first) {
      first = false;
      model.metrics.time_to_first_token->Observe(Seconds(Clock::now() - t0));
    }
    ctx->response_bytes += static_cast<int64_t>(out.size());
    if (auto ec = co_await w.Body(out); ec) {
      *client_gone = true;
      call->Cancel();
      ctx->usage = relay.usage();
      // What the client already received is audited even though the stream was cut.
      co_await ScanStreamedResponse(ctx, relay);
      co_return absl::CancelledError("client write failed");
    }
    if (stop) break;
  }
  // A translated stream ends with the translator's final chunks (usage, [DONE]); an Anthropic
  // stream that ended without message_stop was cut.
  if (upstream_status.ok() && translator) {
    translated.clear();
    // A final event without its blank line (Gemini's error objects come so) is still an event.
    TranslateEvents(provider_events, "\n\n", *translator, translated);
    const ApiError* failed = translator->failed() ? &translator->error() : nullptr;
    if (failed) {
      upstream_status = MakeHttpError(failed->http_status, failed->message, failed->code);
    } else if (!translator->complete()) {
      upstream_status =
          MakeHttpError(502, "The model provider's stream ended early", "upstream_error");
    } else {
      translator->Finish(translated);
      std::string tail;
      relay.Process(translated, tail);
      for_client(tail);
      if (!tail.empty()) {
        ctx->response_bytes += static_cast<int64_t>(tail.size());
        if (auto ec = co_await w.Body(tail); ec) {
          *client_gone = true;
          ctx->usage = relay.usage();
          co_await ScanStreamedResponse(ctx, relay);
          co_return absl::CancelledError("client write failed");
        }
      }
    }
  }
  ctx->upstream_seconds = Seconds(Clock::now() - t0);
  ctx->usage = relay.usage();
  out.clear();
  // Audit-only scan of what was streamed, on a clean end and after an upstream failure alike.
  co_await ScanStreamedResponse(ctx, relay);
  // A clean end may leave a final event without its blank line: relay it. After a failure the
  // pending bytes are a torn event and are dropped, so the error event below starts clean.
  if (upstream_status.ok()) {
    ctx->tool_calls = relay.tool_calls();
    ScrubForRecords(*ctx, nullptr, &ctx->tool_calls);
    if (co_await BeforeSuccess(conn, ctx)) {  // before the client sees [DONE]
      relay.Finish(out);
      for_client(out);
    } else {
      upstream_status = NotAudited();  // reported below as an error event, not [DONE]
    }
  }
  if (!upstream_status.ok()) {
    if (upstream_status.code() == absl::StatusCode::kCancelled || *client_gone) {
      co_return absl::CancelledError("client closed the connection");
    }
    if (ToApiError(upstream_status).code != "audit_unavailable") {
      model.metrics.upstream_errors->Increment();
    }
    // The status line is gone: report the failure as an SSE error event (the OpenAI SDKs raise
    // it as an APIError) and end the body properly.
    const ApiError e = ToApiError(upstream_status);
    ctx->error_code = e.code;
    ctx->reply.status = e.http_status;
    if (to_responses) {
      to_responses->Fail(e, out);
    } else {
      pai::StrAppend(&out, "data: ", OpenAIErrorBody(e), "\n\n");
    }
  } else {
    model.metrics.upstream_duration->Observe(ctx->upstream_seconds);
    if (!ctx->usage.present) metrics_.stream_usage_missing().Increment();
  }
  const beast::error_code ec = co_await w.Last(out);
  if (ec) {
    *client_gone = true;
    ctx->reply.close = true;
  }
  // A failure reported as an error event still ends the chunked body properly: the connection
  // stays usable (closing it here would race a client that already pooled it).
  co_return absl::OkStatus();
}

Task<absl::Status> GatewayImpl::RelayNative(ClientConn* conn, RequestContext* ctx,
                                            UpstreamCall* call, bool* client_gone) {
  const ModelRoute& model = *ctx->model;
  const auto t0 = Clock::now();
  const bool anthropic = AnthropicRoute(ctx->route);
  const StreamLimits& limits = options_.stream_limits;
  StreamMeter meter(limits, StreamOutputLimit(*ctx), ctx->body->size(), t0);
  call->set_deadline(meter.deadline());
  NativeStreamRelay relay(anthropic, limits.max_event_bytes);
  ChunkWriter w{conn, options_.body_timeout, ctx};
  ctx->reply.status = 200;
  if (auto ec = co_await w.Header(); ec) {
    *client_gone = true;
    co_return absl::CancelledError("client write failed");
  }
  std::string out;
  bool first = true;
  absl::Status upstream_status;
  for (;;) {
    std::string_view piece;
    upstream_status = co_await NextPiece(metrics_, call, meter, *ctx, limits, &piece);
    if (!upstream_status.ok() || piece.empty()) break;
    out.clear();
    relay.Process(piece, out);
    const bool stop = relay.overflowed();
    if (stop) {
      upstream_status = StreamLimitHit(metrics_, StreamLimit::kEventBytes, meter, *ctx, limits);
      call->Cancel();
    }
    if (out.empty()) {
      if (stop) break;
      continue;
    }
    if (first) {
      first = false;
      model.metrics.time_to_first_token->Observe(Seconds(Clock::now() - t0));
    }
    ctx->response_bytes += static_cast<int64_t>(out.size());
    if (auto ec = co_await w.Body(out); ec) {
      *client_gone = true;
      call->Cancel();
      ctx->usage = relay.usage();
      co_return absl::CancelledError("client write failed");
    }
    if (stop) break;
  }
  ctx->upstream_seconds = Seconds(Clock::now() - t0);
  ctx->usage = relay.usage();
  ctx->tool_calls = relay.tool_calls();
  ScrubForRecords(*ctx, nullptr, &ctx->tool_calls);
  out.clear();
  if (ctx->agent->scans_responses) {  // audit-only: the client has the stream already
    std::vector<GuardText> texts = relay.texts();
    ScrubForRecords(*ctx, &texts, nullptr);
    if (!texts.empty()) (void)co_await guards_->ScanResponse(*ctx, std::move(texts), true);
  }
  // An error event from the provider was relayed as it is: recorded, not reported twice.
  bool reported = false;
  if (upstream_status.ok() && relay.failed()) {
    upstream_status =
        MakeHttpError(relay.error().http_status, relay.error().message, relay.error().code);
    reported = true;
  } else if (upstream_status.ok() && !relay.completed()) {
    upstream_status =
        MakeHttpError(502, "The model provider's stream ended early", "upstream_error");
  }
  if (upstream_status.ok()) {
    if (co_await BeforeSuccess(conn, ctx)) {  // before the client sees the final event
      relay.Finish(out);
    } else {
      upstream_status = NotAudited();
    }
  }
  if (!upstream_status.ok()) {
    if (upstream_status.code() == absl::StatusCode::kCancelled || *client_gone) {
      co_return absl::CancelledError("client closed the connection");
    }
    if (ToApiError(upstream_status).code != "audit_unavailable") {
      model.metrics.upstream_errors->Increment();
    }
    // The status line is gone: an error event in the route's API (Anthropic "Streaming
    // Messages": event error; OpenAI Responses streaming: event error).
    const ApiError e = ToApiError(upstream_status);
    ctx->error_code = e.code;
    ctx->reply.status = e.http_status;
    if (reported) {
      // nothing more to send
    } else if (anthropic) {
      pai::StrAppend(&out, "event: error\ndata: ", AnthropicErrorBody(e), "\n\n");
    } else {
      std::string data = "{\"type\":\"error\",\"code\":";
      AppendJsonString(data, e.code);
      data += ",\"message\":";
      AppendJsonString(data, e.message);
      data += ",\"param\":null}";
      pai::StrAppend(&out, "event: error\ndata: ", data, "\n\n");
    }
  } else {
    model.metrics.upstream_duration->Observe(ctx->upstream_seconds);
    if (!ctx->usage.present) metrics_.stream_usage_missing().Increment();
  }
  const beast::error_code ec = co_await w.Last(out);
  if (ec) {
    *client_gone = true;
    ctx->reply.close = true;
  }
  // A failure reported as an error event still ends the chunked body properly: the connection
  // stays usable (closing it here would race a client that already pooled it).
  co_return absl::OkStatus();
}

}  // namespace pai::gateway
