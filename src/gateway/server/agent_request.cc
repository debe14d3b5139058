// One agent request from its headers to its access-log line: route, pipeline, terminal step,
// the response side (settlement, audit record, metrics, access log).

#include "common/json_util.h"
#include "common/log.h"
#include "common/strings.h"
#include "gateway/http/errors.h"
#include "gateway/http/route.h"
#include "gateway/relay/stream_relay.h"
#include "gateway/server/proxy_internal.h"
#include "gateway/server/server_impl.h"
#include "gateway/stages/outcome.h"

namespace pai::gateway {
namespace {

std::string ModelObject(const ModelRoute& r, int64_t created) {
  std::string out = "{\"id\":";
  AppendJsonString(out, r.ref);
  pai::StrAppend(&out, ",\"object\":\"model\",\"created\":", created, ",\"owned_by\":");
  AppendJsonString(out, r.provider ? r.provider->spec.name : "");
  out += "}";
  return out;
}

}  // namespace

absl::Status NotAudited() {
  return MakeHttpError(503,
                       "The call's audit record could not be made durable; its result is "
                       "withheld (see the gateway log).",
                       "audit_unavailable");
}

Task<bool> WaitDurable(audit::Chain* chain, uint64_t seq) {
  auto ex = co_await net::this_coro::executor;
  struct State {
    explicit State(const Executor& e) : timer(e, Clock::time_point::max()) {}
    SteadyTimer timer;
    std::atomic<int> result{-1};
  };
  auto st = std::make_shared<State>(ex);
  chain->WhenDurable(seq, [st, ex](bool ok) {
    st->result = ok ? 1 : 0;
    net::post(ex, [st] { st->timer.cancel(); });
  });
  // The posted cancel runs on this thread, so it cannot slip in before the wait starts.
  if (st->result.load() == -1) co_await st->timer.async_wait(kTuple);
  co_return st->result.load() == 1;
}

JsonAnswer JsonReply(const ClientConn& conn, RequestContext& ctx, int status, std::string body) {
  ctx.reply.status = status;
  JsonAnswer res(status, std::move(body), conn.keep_alive && !ctx.reply.close, ctx.request_id);
  for (const auto& [name, value] : ctx.reply.headers) res.Set(name, value);
  return res;
}

Task<beast::error_code> WriteReply(ClientConn* conn, RequestContext* ctx, JsonAnswer& res,
                                   std::chrono::milliseconds timeout) {
  ctx->reply.started = true;
  const beast::error_code ec = co_await WriteResponse(conn, res, timeout);
  if (ec) ctx->reply.close = true;
  co_return ec;
}

Task<bool> GatewayImpl::RecordSuccess(ClientConn* conn, RequestContext* ctx) {
  // Without the chain (--no-audit) there is nothing to record: the access log covers calls.
  if (!chain_ || !ctx->admitted || ctx->call_recorded || !ctx->agent || !ctx->model) {
    co_return true;  // not an admitted call, or recorded already
  }
  // With other requests in progress on this shard, the records wait in the chain's buffer for
  // one write(2) at the end of this turn of the event loop, shared with the calls that succeed
  // in the same turn; alone, this call writes at once (nobody to share with, and a turn more of
  // latency). Either way the response waits until its records are written. Alone in the
  // strict mode, it also syncs them itself: the shard has nothing else to do while the disk
  // works, and the syncer's wake-up and the answer's hand-off back cost more than the sync.
  Shard* shard = conn->shard;
  const bool batch = shard->busy_conns > 1;
  const bool sync_here = !batch && chain_->sync() == audit::Sync::kStrict;
  const uint64_t last = EmitCallRecords(*events_, *ctx, 200, batch || sync_here);
  const auto t0 = Clock::now();
  if (batch && last != 0 && last > chain_->durable_seq()) co_await JoinAuditFlush(shard);
  // Written by the flush it joined (the usual case): no WaitDurable() and no frame for it.
  bool ok = last != 0 && (sync_here ? chain_->FlushAndSync(last) : last <= chain_->durable_seq());
  if (last != 0 && !ok && !sync_here) ok = co_await WaitDurable(chain_.get(), last);
  metrics_.audit_wait().Observe(Seconds(Clock::now() - t0));
  if (!ok) {
    log::Error("audit record not durable: the call is not reported as a success",
               {{"request_id", ctx->request_id}});
  }
  co_return ok;
}

Task<absl::Status> GatewayImpl::ScanChatResponse(RequestContext* ctx,
                                                 std::vector<std::string> contents) {
  if (!ctx->agent->scans_responses) co_return absl::OkStatus();
  co_return co_await guards_->ScanResponse(*ctx, ChatContentGuardTexts(std::move(contents)),
                                           /*streamed=*/false);
}

void ScrubForRecords(const RequestContext& ctx, std::vector<GuardText>* texts,
                     std::vector<ToolCall>* calls) {
  if (!ctx.runtime) return;
  const KeyScrubber& scrubber = ctx.runtime->scrubber();
  if (texts) {
    for (GuardText& t : *texts) scrubber.Scrub(t.text);
  }
  if (calls) {
    for (ToolCall& c : *calls) {
      scrubber.Scrub(c.id);
      scrubber.Scrub(c.name);
    }
  }
}

Task<void> GatewayImpl::ScanStreamedResponse(RequestContext* ctx, const ChatStreamRelay& relay) {
  if (!ctx->agent->scans_responses) co_return;
  std::vector<GuardText> texts = relay.ContentTexts();  // named: no temporary in co_await
  if (texts.empty()) co_return;
  ScrubForRecords(*ctx, &texts, nullptr);
  (void)co_await guards_->ScanResponse(*ctx, std::move(texts), /*streamed=*/true);
}

Task<std::tuple<beast::error_code>> GatewayImpl::JoinAuditFlush(Shard* shard) {
  if (!shard->audit_flush_posted) {
    shard->audit_flush_posted = true;
    // Runs after the handlers already queued on this shard: the calls completing in this turn.
    net::post(shard->ioc, [this, shard] {
      shard->audit_flush_posted = false;
      // The waiters are woken however the flush ends (an exception included).
      struct Wake {
        Shard* shard;
        ~Wake() { shard->audit_flushed.cancel(); }
      } wake{shard};
      events_->Flush();  // a failure stops the chain: WaitDurable() then answers false
    });
  }
  return shard->audit_flushed.async_wait(kTuple);
}

Task<bool> GatewayImpl::BeforeSuccess(ClientConn* conn, RequestContext* ctx) {
  // Settle and release the request's slot before the client can see the end of the response:
  // a client that sends its next request as soon as it has the answer must find the budget
  // and its concurrency slot already free.
  admission_->Finish(*ctx);
  return RecordSuccess(conn, ctx);
}

Task<void> GatewayImpl::HandleAgentRequest(Shard* shard, ClientConn* conn,
                                           http::request<http::string_body>* req) {
  RequestContext ctx;
  ctx.start = Clock::now();
  ctx.request_id = RequestId(req->base()["x-request-id"]);
  ctx.runtime = runtime_.Get();
  ctx.body = &req->body();
  ctx.classifier = shard->classifier.get();
  ctx.input_counter = shard->counter.get();
  ctx.method = req->method_string();
  ctx.target = req->target();
  // Anthropic's SDKs send the key as x-api-key (Anthropic API reference, "Authentication").
  // The credential ServeAgent() read from these headers to authenticate the connection.
  const std::string credential = std::move(conn->credential);
  ctx.authorization = credential;
  ctx.anthropic_version = req->base()["anthropic-version"];
  // anthropic-beta may be sent several times: all values, comma-joined.
  std::string anthropic_beta;
  for (auto [it, end] = req->base().equal_range("anthropic-beta"); it != end; ++it) {
    pai::StrAppend(&anthropic_beta, anthropic_beta.empty() ? "" : ",",
                   std::string_view(it->value()));
  }
  ctx.anthropic_beta = anthropic_beta;
  ctx.preauthenticated_agent = std::move(conn->preauthenticated_agent);
  ctx.preauthenticated_session = std::move(conn->preauthenticated_session);
  // The route is matched once; the route stage refuses what is not an agent call.
  const std::string_view path = ctx.target.substr(0, ctx.target.find('?'));
  if (RouteMatch match; MatchRoute(path, &match)) {
    ctx.route = match.route;
    ctx.path_model = match.model_id;
    const http::verb want =
        match.method == RouteMatch::Method::kPost ? http::verb::post : http::verb::get;
    if (req->method() != want) ctx.wrong_method_allowed = want == http::verb::post ? "POST" : "GET";
  }
  // Counted until this frame ends, whatever ends it (an exception, or shutdown destroying it).
  struct InFlight {
    GatewayImpl* gw;
    // pai_gateway_requests_in_flight is this count, read when /metrics is scraped.
    explicit InFlight(GatewayImpl* g) : gw(g) {
      gw->active_requests_.fetch_add(1, std::memory_order_relaxed);
    }
    ~InFlight() { gw->active_requests_.fetch_sub(1, std::memory_order_relaxed); }
  } in_flight(this);

  // The pipeline in, the terminal step, the pipeline out (BuildPipeline(): settlement, the
  // error answer, the audit record, metrics, the access log).
  size_t ran = 0;
  ctx.outcome = co_await pipeline_->RunRequest(ctx, &ran);
  if (ctx.outcome.ok() && ctx.route == Route::kModels) {
    ctx.outcome = co_await ServeModels(conn, &ctx);  // g++ 12: no co_await inside `?:`
  } else if (ctx.outcome.ok()) {
    ctx.outcome = co_await Terminal(shard, conn, &ctx);
  }
  pipeline_->RunResponse(ctx, ran);
  if (!ctx.reply.error_body.empty()) {
    auto res = JsonReply(*conn, ctx, ctx.reply.status, std::move(ctx.reply.error_body));
    co_await WriteReply(conn, &ctx, res, options_.body_timeout);
  }
  if (ctx.reply.close) conn->keep_alive = false;
}

Task<absl::Status> GatewayImpl::ServeModels(ClientConn* conn, RequestContext* ctx) {
  // GET /v1/models and /v1/models/{model}: only the caller's allowed models.
  const int64_t created = 0;
  std::string body;
  if (ctx->path_model.empty()) {
    body = "{\"object\":\"list\",\"data\":[";
    bool first = true;
    for (const ModelRoute& r : ctx->agent->models) {
      if (!r.provider) continue;
      if (!first) body += ",";
      first = false;
      body += ModelObject(r, created);
    }
    body += "]}";
  } else {
    auto route = ctx->runtime->ResolveModel(*ctx->agent, ctx->path_model);
    if (!route.ok()) co_return route.status();
    body = ModelObject(**route, created);
  }
  auto res = JsonReply(*conn, *ctx, 200, std::move(body));
  co_await WriteReply(conn, ctx, res, options_.body_timeout);
  co_return absl::OkStatus();
}

}  // namespace pai::gateway
