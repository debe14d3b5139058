// The terminal step: the provider call of ctx.model with its fallbacks (the in-process mock is
// answered by mock_answer.cc), and the answer of a non-streamed call (streams are relayed by
// relay/response_relay.cc). The client watch that cancels the call when the client leaves.
#include <sys/socket.h>

#include <chrono>

#include "common/log.h"
#include "common/strings.h"
#include "gateway/http/errors.h"
#include "gateway/providers/adapter.h"
#include "gateway/providers/mock_provider.h"
#include "gateway/providers/openai_request.h"
#include "gateway/relay/stream_relay.h"
#include "gateway/server/proxy_internal.h"
#include "gateway/server/server_impl.h"
#include "gateway/upstream/provider_request.h"
#include "gateway/upstream/upstream_response.h"

namespace pai::gateway {

// Client watch: while a provider call runs, a one-byte MSG_PEEK receive on the client socket
// notices the agent disconnecting (EOF or a reset) and closes the upstream call, so the
// provider stops generating. A callback, not a coroutine raced with `||`: the parallel group
// cost ~18 % of proxy throughput (docs/benchmarks.md). The shared ClientWatch outlives the
// connection; a generation number makes a late completion a no-op.
//
// Arming a watch costs a system call (Asio tries the receive at once; an async_wait would
// re-register the descriptor with EPOLL_CTL_MOD instead), which was one of the six system calls
// of a proxied call. So a watch is armed only once its call has been in flight for one to two
// periods of the shard's watch tick (kClientWatchDelay): a call answered sooner has no
// generation worth stopping, and a client that leaves a longer one is noticed within 10 ms of
// its call's start plus the time the kernel takes to report the close.
constexpr auto kClientWatchDelay = std::chrono::milliseconds(5);

static void ArmClientWatch(ClientConn* conn, uint64_t generation) {
  std::shared_ptr<ClientWatch> w = conn->watch;
  conn->stream.socket().async_receive(
      net::buffer(&w->peek, 1), MSG_PEEK,
      [w, generation](const beast::error_code& ec, std::size_t n) {
        // A matching generation means the request is still in its provider call. A socket
        // closed by the gateway itself (a write timeout) is no client leaving.
        if (w->generation != generation || ec == net::error::operation_aborted ||
            ec == net::error::bad_descriptor) {
          return;
        }
        if (ec || n == 0) {  // EOF or a reset: the client is gone
          w->gone = true;
          w->upstream.Cancel();  // also before the provider's response header
        }
        // n > 0: a pipelined request; the peer is alive and is not watched further.
      });
}

static void Unqueue(ClientWatch* w) {
  Shard* shard = w->conn->shard;
  (w->prev != nullptr ? w->prev->next : shard->watch_head) = w->next;
  (w->next != nullptr ? w->next->prev : shard->watch_tail) = w->prev;
  w->prev = w->next = nullptr;
  w->queued = false;
}

// TickClientWatches(): runs while watches wait; each tick arms those queued before the
// previous one.
static void TickClientWatches(Shard* shard) {
  shard->watch_tick.expires_after(kClientWatchDelay);
  shard->watch_tick.async_wait([shard](const beast::error_code& ec) {
    // Not running unless re-armed below (also when arming a watch throws).
    shard->watch_tick_running = false;
    if (ec) return;
    const uint64_t now = ++shard->watch_ticks;
    while (shard->watch_head != nullptr && shard->watch_head->queued_tick + 2 <= now) {
      ClientWatch* w = shard->watch_head;
      Unqueue(w);
      w->armed = true;
      ArmClientWatch(w->conn, w->generation);
    }
    if (shard->watch_head != nullptr) {
      shard->watch_tick_running = true;
      TickClientWatches(shard);
    }
  });
}

void StartClientWatch(ClientConn* conn) {
  Shard* shard = conn->shard;
  ClientWatch& w = *conn->watch;
  ++w.generation;
  w.upstream = CancelSlot{};
  w.gone = false;
  w.delivered = false;
  w.armed = false;
  w.conn = conn;
  w.queued_tick = shard->watch_ticks;
  w.queued = true;
  w.prev = shard->watch_tail;
  w.next = nullptr;
  (shard->watch_tail != nullptr ? shard->watch_tail->next : shard->watch_head) = &w;
  shard->watch_tail = &w;
  if (!shard->watch_tick_running) {
    shard->watch_tick_running = true;
    TickClientWatches(shard);
  }
}

void StopClientWatch(ClientConn* conn) {
  ClientWatch& w = *conn->watch;
  ++w.generation;
  w.upstream = CancelSlot{};
  if (w.queued) Unqueue(&w);
  if (w.armed) {
    w.armed = false;
    beast::error_code ignored;
    conn->stream.socket().cancel(ignored);  // no other operation is pending on it now
  }
}

ClientConn::~ClientConn() {
  if (watch->queued) Unqueue(watch.get());
}

namespace {
Task<absl::Status> Ready(absl::Status s) { co_return s; }
}  // namespace

// Not a coroutine: it returns the step's own coroutine (no frame of its own per call).
Task<absl::Status> GatewayImpl::Terminal(Shard* shard, ClientConn* conn, RequestContext* ctx) {
  if (ctx->route == Route::kModels || ctx->route == Route::kOther) {
    return Ready(absl::InternalError("no terminal step for route"));
  }
  if (AdapterOf(*ctx->model).in_process()) {
    if (ctx->route == Route::kEmbeddings) return AnswerMockEmbeddings(conn, ctx);
    return AnswerMockChat(conn, ctx);
  }
  return UpstreamExchange(shard, conn, ctx);
}

Task<absl::Status> GatewayImpl::UpstreamExchange(Shard* shard, ClientConn* conn,
                                                 RequestContext* ctx) {
  absl::Status result;
  UpstreamFailure failure;
  for (;;) {  // one turn per provider attempt (fallbacks)
    const ProviderRuntime& provider = *ctx->model->provider;
    auto built = provider.adapter->BuildRequest(*ctx);
    if (!built.ok()) {
      result = built.status();
      break;
    }
    UpstreamRequest up = ToHttpRequest(provider, std::move(*built), ctx->request_id, ctx->stream);

    const auto t0 = Clock::now();
    bool client_gone = false;
    failure = UpstreamFailure{};
    // While the provider call runs, a watch on the client socket closes it if the agent
    // disconnects, instead of generating tokens nobody will read.
    StartClientWatch(conn);
    ctx->upstream_sent = false;
    ctx->upstream_status = 0;
    result = co_await Exchange(shard, conn, ctx, &up, &conn->watch->upstream, &client_gone,
                               &failure, t0);
    ctx->upstream_sent = conn->watch->upstream.sent;
    // A client that leaves once it has the whole response did not abort the call.
    client_gone = (client_gone || conn->watch->gone) && !conn->watch->delivered;
    StopClientWatch(conn);
    ctx->model->metrics.calls->Increment();
    ctx->model->metrics.input_tokens->Increment(static_cast<double>(ctx->usage.prompt_tokens));
    ctx->model->metrics.output_tokens->Increment(static_cast<double>(ctx->usage.completion_tokens));
    if (client_gone) {
      ctx->reply.close = true;
      ctx->error_code = "client_closed";
      if (!ctx->reply.started) ctx->reply.status = 499;
      co_return absl::OkStatus();  // nobody to answer
    }
    // Fallback: the provider failed before anything reached the client. A guard's refusal of
    // the response is not a provider failure: the provider answered (and is charged).
    if (ctx->reply.started || ctx->guard_refused) break;
    if (ctx->route == Route::kCountTokens) break;  // not a model call: nothing to fall back on
    std::optional<Metrics::FallbackReason> reason;
    if (failure.status == 429) {
      reason = Metrics::FallbackReason::kUpstream429;
    } else if (failure.status >= 500 || failure.status == 401 || failure.status == 403) {
      reason = Metrics::FallbackReason::kUpstream5xx;
    } else if (!result.ok() && result.code() == absl::StatusCode::kDeadlineExceeded) {
      reason = Metrics::FallbackReason::kUpstreamTimeout;
    } else if (!result.ok() && result.code() == absl::StatusCode::kUnavailable) {
      reason = Metrics::FallbackReason::kUpstreamError;
    }
    if (!reason) break;
    const ModelRoute* from = ctx->model;
    if (!admission_->Fallback(*ctx, *reason).ok()) break;
    log::Info("fallback", {{"request_id", ctx->request_id},
                           {"from", from->ref},
                           {"to", ctx->model->ref},
                           {"upstream_status", failure.status},
                           {"error", std::string(result.message())}});
  }
  if (failure.status != 0 && !ctx->reply.started) {
    // The provider's own error answer, relayed with its status.
    auto res = JsonReply(*conn, *ctx, failure.status, std::move(failure.body));
    if (!failure.retry_after.empty()) res.Set("Retry-After", failure.retry_after);
    ctx->error_code = "upstream_status";
    co_await WriteReply(conn, ctx, res, options_.body_timeout);
    co_return absl::OkStatus();
  }
  co_return result;
}

Task<absl::Status> GatewayImpl::Exchange(Shard* shard, ClientConn* conn, RequestContext* ctx,
                                         UpstreamRequest* up, CancelSlot* cancel, bool* client_gone,
                                         UpstreamFailure* failure,
                                         std::chrono::steady_clock::time_point t0) {
  // No exception may leave: the request must still be settled and answered.
  try {
    absl::Status s = co_await ExchangeImpl(shard, conn, ctx, up, cancel, client_gone, failure, t0);
    co_return s;  // g++ 12: no `co_return co_await`
  } catch (const std::exception& e) {
    cancel->call = nullptr;
    log::Error("exception in upstream exchange",
               {{"request_id", ctx->request_id}, {"error", e.what()}});
    co_return MakeHttpError(502, "Internal error while calling the model provider",
                            "upstream_error");
  }
}

Task<absl::Status> GatewayImpl::ExchangeImpl(Shard* shard, ClientConn* conn, RequestContext* ctx,
                                             UpstreamRequest* up, CancelSlot* cancel,
                                             bool* client_gone, UpstreamFailure* failure,
                                             std::chrono::steady_clock::time_point t0) {
  const ModelRoute& model = *ctx->model;
  const ProviderRuntime& provider = *model.provider;
  auto started =
      co_await UpstreamCall::Start(*shard->pool, provider.endpoint, std::move(*up), cancel);
  if (!started.ok()) {
    if (started.status().code() != absl::StatusCode::kCancelled) {
      model.metrics.upstream_errors->Increment();
    }
    co_return started.status();
  }
  std::unique_ptr<UpstreamCall> call = std::move(*started);
  cancel->call = call.get();
  const int status = call->status();
  ctx->upstream_status = status;
  // A redirect, or a stream request answered without an event stream, is not relayed.
  if (absl::Status head =
          CheckUpstreamHead(status, call->content_type(), ctx->stream, provider.spec.name);
      !head.ok()) {
    cancel->call = nullptr;
    ctx->upstream_seconds = Seconds(Clock::now() - t0);
    model.metrics.upstream_errors->Increment();
    log::Warn("upstream answer refused", {{"request_id", ctx->request_id},
                                          {"provider", provider.spec.name},
                                          {"upstream_status", status},
                                          {"error", std::string(head.message())}});
    co_return head;
  }
  const KeyScrubber& scrubber = ctx->runtime->scrubber();
  if (status < 200 || status >= 300) {
    auto text = co_await call->ReadAll(kMaxErrorBody);
    cancel->call = nullptr;
    ctx->upstream_seconds = Seconds(Clock::now() - t0);
    if (status >= 500) model.metrics.upstream_errors->Increment();
    failure->status = status;
    if (status == 401 || status == 403) {
      // The gateway's credentials were refused: the agent's own token is fine, and the
      // provider's message may quote part of the key, so it is not relayed.
      failure->status = 502;
      ApiError e;
      e.http_status = 502;
      e.type = "api_error";
      e.code = "upstream_auth_error";
      e.message = pai::StrCat(
          "The model provider rejected the gateway's credentials for "
          "ModelProvider ",
          provider.spec.name, " (HTTP ", status, ")");
      failure->body = AnthropicRoute(ctx->route) ? AnthropicErrorBody(e) : OpenAIErrorBody(e);
      co_return absl::OkStatus();
    }
    ProviderError mapped =
        provider.adapter->MapError(*ctx, status, text.ok() ? std::move(*text) : std::string());
    failure->status = mapped.status;
    // Provider text may echo the key (escaped, or in part): scrubbed as the client gets it.
    if (const size_t n = scrubber.Scrub(mapped.body); n > 0) LogRedactions(*ctx, n);
    failure->body = std::move(mapped.body);
    failure->retry_after = SafeRetryAfter(call->retry_after(), scrubber);
    if (failure->retry_after.empty()) {
      failure->retry_after = SafeRetryAfter(mapped.retry_after, scrubber);
    }
    co_return absl::OkStatus();
  }
  // A 2xx answer to a stream request is an event stream here (CheckUpstreamHead).
  if (ctx->stream && ctx->native && !provider.adapter->Translates(*ctx)) {
    absl::Status s = co_await RelayNative(conn, ctx, call.get(), client_gone);
    cancel->call = nullptr;
    co_return s;
  }
  if (ctx->stream) {
    absl::Status s = co_await RelayUpstream(conn, ctx, call.get(), client_gone);
    cancel->call = nullptr;
    co_return s;
  }
  auto text = co_await call->ReadAll(options_.max_response_bytes);
  cancel->call = nullptr;
  ctx->upstream_seconds = Seconds(Clock::now() - t0);
  if (!text.ok()) {
    if (text.status().code() != absl::StatusCode::kCancelled) {
      model.metrics.upstream_errors->Increment();
    }
    co_return text.status();
  }
  model.metrics.upstream_duration->Observe(ctx->upstream_seconds);
  // Before usage and guards read it: they see what the client gets.
  if (const size_t n = scrubber.Scrub(*text); n > 0) LogRedactions(*ctx, n);
  // In the client's API: translated back where the request was (docs/providers.md). A
  // translating adapter parses the provider's answer here (and refuses one that is not JSON);
  // an answer relayed as it is gets its one parse below, which also checks it is JSON.
  auto answer = provider.adapter->ReadAnswer(*ctx, std::move(*text));
  if (!answer.ok()) {
    model.metrics.upstream_errors->Increment();
    co_return answer.status();
  }
  *text = std::move(answer->body);
  // /v1/responses to Anthropic or Gemini: the usage as the chat translation read it (cache
  // writes by TTL included; the Response's usage object has no field for them).
  const std::optional<Usage>& translated_usage = answer->usage;
  if (ctx->native) {
    // The native answer goes back as it is; usage, tool calls and text are read for the
    // budget, the audit chain and the response guards.
    if (ctx->route == Route::kCountTokens) {
      if (absl::Status json = CheckUpstreamJson(*text, provider.spec.name); !json.ok()) {
        model.metrics.upstream_errors->Increment();
        co_return json;
      }
    } else {
      NativeResult r =
          ctx->route == Route::kMessages ? AnthropicMessageResult(*text) : ResponsesResult(*text);
      if (!r.json) {
        model.metrics.upstream_errors->Increment();
        co_return UpstreamNotJson(provider.spec.name);
      }
      ctx->usage = translated_usage ? *translated_usage : r.usage;
      ctx->tool_calls = std::move(r.tool_calls);
      if (!ctx->usage.present) metrics_.stream_usage_missing().Increment();
      if (ctx->agent->scans_responses) {
        absl::Status g = co_await guards_->ScanResponse(*ctx, std::move(r.texts), false);
        if (!g.ok()) co_return g;
      }
    }
    ctx->response_bytes = static_cast<int64_t>(text->size());
    auto res = JsonReply(*conn, *ctx, 200, std::move(*text));
    if (ctx->route != Route::kCountTokens && !co_await BeforeSuccess(conn, ctx))
      co_return NotAudited();
    const beast::error_code wec = co_await WriteReply(conn, ctx, res, options_.body_timeout);
    conn->watch->delivered = !wec;
    co_return absl::OkStatus();
  }
  // A chat completion (or an embeddings list: usage only), read in its one parse.
  std::optional<ChatAnswer> read =
      ReadChatAnswer(*text, ctx->chat.has_value() && ctx->agent->scans_responses);
  if (!read) {
    model.metrics.upstream_errors->Increment();
    co_return UpstreamNotJson(provider.spec.name);
  }
  ctx->usage = read->usage;
  if (ctx->chat) ctx->tool_calls = std::move(read->tool_calls);
  ctx->response_bytes = static_cast<int64_t>(text->size());
  if (!ctx->usage.present) metrics_.stream_usage_missing().Increment();
  if (ctx->chat) {
    if (absl::Status g = co_await ScanChatResponse(ctx, std::move(read->contents)); !g.ok()) {
      co_return g;
    }
  }
  // Content-Type is the gateway's own (application/json): no provider header value is copied.
  auto res = JsonReply(*conn, *ctx, 200, std::move(*text));
  if (!co_await BeforeSuccess(conn, ctx)) co_return NotAudited();  // durable before success shows
  const beast::error_code wec = co_await WriteReply(conn, ctx, res, options_.body_timeout);
  conn->watch->delivered = !wec;
  co_return absl::OkStatus();
}

}  // namespace pai::gateway
