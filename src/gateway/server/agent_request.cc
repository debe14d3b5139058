// One agent request from its headers to its access-log line: route, pipeline, terminal step,
// the response side (settlement, audit record, metrics, access log).
#include <sys/socket.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/json_util.h"
#include "common/log.h"
#include "common/strings.h"
#include "gateway/http/errors.h"
#include "gateway/http/route.h"
#include "gateway/providers/mock_provider.h"
#include "gateway/providers/openai_request.h"
#include "gateway/providers/translate_anthropic.h"
#include "gateway/providers/translate_gemini.h"
#include "gateway/providers/translate_responses.h"
#include "gateway/providers/translate_responses_stream.h"
#include "gateway/relay/stream_limits.h"
#include "gateway/relay/stream_relay.h"
#include "gateway/relay/stream_writer.h"
#include "gateway/server/proxy_internal.h"
#include "gateway/server/server_impl.h"
#include "gateway/telemetry/log_fields.h"
#include "gateway/upstream/upstream_response.h"

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

net::awaitable<bool> WaitDurable(audit::Chain* chain, uint64_t seq) {
  if (seq != 0 && seq <= chain->durable_seq()) co_return true;
  auto ex = co_await net::this_coro::executor;
  struct State {
    explicit State(const net::any_io_executor& e) : timer(e, Clock::time_point::max()) {}
    net::steady_timer timer;
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

net::awaitable<bool> GatewayImpl::RecordCall(RequestContext* ctx, int status,
                                             Durability durability) {
  // Without the chain (--no-audit) there is nothing to record: the access log covers calls.
  if (!chain_ || !ctx->admitted || ctx->call_recorded || !ctx->agent || !ctx->model) {
    co_return true;
  }
  ctx->call_recorded = true;
  budget::Charge charge = ctx->charge;
  if (ctx->reservation) {  // before settlement: the same figure Settle() will charge
    const budget::Usage u = UsageOf(*ctx);
    charge = budget::ComputeCharge(*ctx->reservation, u);
  }
  audit::Event ev;
  ev.type = "LLM_CALL";
  ev.ns = ctx->agent->spec.ns;
  ev.agent = ctx->agent->spec.name;
  auto& d = ev.detail;
  d["request_id"] = ctx->request_id;
  if (!ctx->session.empty()) d["session"] = ctx->session;
  d["route"] = RouteLabel(ctx->route);
  d["model"] = ctx->model->ref;
  d["provider"] = ctx->model->provider ? ctx->model->provider->spec.name : "";
  d["input_tokens"] = ctx->usage.prompt_tokens;
  d["output_tokens"] = ctx->usage.completion_tokens;
  d["cached_tokens"] = ctx->usage.cached_tokens;
  d["usage_reported"] = ctx->usage.present;
  d["charged_tokens"] = charge.tokens;
  d["cost_usd"] = static_cast<double>(charge.nano_usd) / 1e9;
  d["latency_ms"] = static_cast<int64_t>(Seconds(Clock::now() - ctx->start) * 1000);
  d["status"] = status;
  d["stream"] = ctx->stream;
  const bool fell_back = !ctx->first_model.empty() && ctx->first_model != ctx->model->ref;
  d["fallback_used"] = fell_back;
  if (fell_back) d["requested_model"] = ctx->first_model;
  if (!ctx->error_code.empty()) d["error_code"] = ctx->error_code;
  uint64_t last = events_->EmitSeq(std::move(ev));
  for (const ToolCall& tc : ctx->tool_calls) {
    audit::Event t;
    t.type = "TOOL_CALL";
    t.ns = ctx->agent->spec.ns;
    t.agent = ctx->agent->spec.name;
    t.detail["request_id"] = ctx->request_id;
    if (!ctx->session.empty()) t.detail["session"] = ctx->session;
    t.detail["model"] = ctx->model->ref;
    t.detail["tool_name"] = tc.name;
    t.detail["call_id"] = tc.id;
    t.detail["choice"] = tc.choice;
    t.detail["index"] = tc.index;
    last = events_->EmitSeq(std::move(t));
  }
  if (durability == Durability::kWait && chain_) {
    const auto t0 = Clock::now();
    const bool ok = last != 0 && co_await WaitDurable(chain_.get(), last);
    metrics_.audit_wait().Observe(Seconds(Clock::now() - t0));
    if (!ok) {
      log::Error("audit record not durable: the call is not reported as a success",
                 {{"request_id", ctx->request_id}});
      co_return false;
    }
  }
  co_return true;
}

net::awaitable<absl::Status> GatewayImpl::ScanChatResponse(RequestContext* ctx, std::string& body) {
  if (!ctx->agent->scans_responses) co_return absl::OkStatus();
  std::vector<GuardText> texts;
  ChatResponseGuardTexts(body, &texts);
  co_return co_await guards_->ScanResponse(*ctx, std::move(texts), /*streamed=*/false);
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

net::awaitable<void> GatewayImpl::ScanStreamedResponse(RequestContext* ctx,
                                                       const ChatStreamRelay& relay) {
  if (!ctx->agent->scans_responses) co_return;
  std::vector<GuardText> texts = relay.ContentTexts();  // named: no temporary in co_await
  if (texts.empty()) co_return;
  ScrubForRecords(*ctx, &texts, nullptr);
  (void)co_await guards_->ScanResponse(*ctx, std::move(texts), /*streamed=*/true);
}

net::awaitable<bool> GatewayImpl::BeforeSuccess(RequestContext* ctx) {
  // Settle and release the request's slot before the client can see the end of the response:
  // a client that sends its next request as soon as it has the answer must find the budget
  // and its concurrency slot already free.
  admission_->Finish(*ctx);
  co_return co_await RecordCall(ctx, 200, Durability::kWait);
}

net::awaitable<void> GatewayImpl::HandleAgentRequest(Shard* shard, ClientConn* conn,
                                                     http::request<http::string_body>* req) {
  RequestContext ctx;
  ctx.start = Clock::now();
  ctx.request_id = RequestId(req->base()["x-request-id"]);
  ctx.runtime = runtime_.Get();
  ctx.body = &req->body();
  ctx.classifier = shard->classifier.get();
  ctx.input_counter = shard->counter.get();
  // Anthropic's SDKs send the key as x-api-key (Anthropic API reference, "Authentication").
  const std::string credential = AgentCredential(
      req->target(), req->base()[http::field::authorization], req->base()["x-api-key"]);
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
  // Counted until this frame ends, whatever ends it (an exception, or shutdown destroying it).
  struct InFlight {
    GatewayImpl* gw;
    explicit InFlight(GatewayImpl* g) : gw(g) {
      gw->active_requests_.fetch_add(1, std::memory_order_relaxed);
      gw->metrics_.in_flight().Increment();
    }
    ~InFlight() {
      gw->metrics_.in_flight().Decrement();
      gw->active_requests_.fetch_sub(1, std::memory_order_relaxed);
    }
  };
  std::optional<InFlight> in_flight(std::in_place, this);

  const std::string_view target = req->target();
  const std::string_view path = target.substr(0, target.find('?'));
  RouteMatch match;
  absl::Status status;
  if (!MatchRoute(path, &match)) {
    status = MakeHttpError(404, pai::StrCat("Invalid URL (", req->method_string(), " ", path, ")"),
                           "unknown_url");
  } else if (req->method() !=
             (match.method == RouteMatch::Method::kPost ? http::verb::post : http::verb::get)) {
    ctx.route = match.route;
    status = MakeHttpError(
        405,
        pai::StrCat("Method ", req->method_string(), " is not allowed on ", path, "; use ",
                    (match.method == RouteMatch::Method::kPost ? "POST" : "GET")),
        "method_not_allowed");
  } else if (chain_ && !chain_->healthy() && match.route != Route::kModels) {
    ctx.route = match.route;
    // No call the chain cannot record: an auditor must be able to trust it is complete.
    status = MakeHttpError(503,
                           "The audit chain is stopped; calls are refused until it is repaired "
                           "(see the gateway log).",
                           "audit_unavailable");
  } else {
    ctx.route = match.route;
    size_t ran = 0;
    status = co_await pipeline_->RunRequest(ctx, &ran);
    if (status.ok()) {
      if (match.route == Route::kModels) {
        // GET /v1/models and /v1/models/{model}: only the caller's allowed models.
        const int64_t created = 0;
        if (match.model_id.empty()) {
          std::string body = "{\"object\":\"list\",\"data\":[";
          bool first = true;
          for (const ModelRoute& r : ctx.agent->models) {
            if (!r.provider) continue;
            if (!first) body += ",";
            first = false;
            body += ModelObject(r, created);
          }
          body += "]}";
          auto res = JsonResponse(200, std::move(body), conn->keep_alive, ctx.request_id);
          ctx.http_status = 200;
          co_await WriteResponse(conn, res, options_.body_timeout);
        } else {
          auto route = ctx.runtime->ResolveModel(*ctx.agent, match.model_id);
          if (!route.ok()) {
            status = route.status();
          } else {
            auto res =
                JsonResponse(200, ModelObject(**route, created), conn->keep_alive, ctx.request_id);
            ctx.http_status = 200;
            co_await WriteResponse(conn, res, options_.body_timeout);
          }
        }
      } else {
        status = co_await Terminal(shard, conn, &ctx);
      }
    }
    pipeline_->RunResponse(ctx, ran);
  }

  if (!status.ok()) {
    const ApiError e = ToApiError(status);
    ctx.error_code = e.code.empty() ? std::string(absl::StatusCodeToString(status.code())) : e.code;
    if (!conn->response_started) {
      ctx.http_status = e.http_status;
      auto res = JsonResponse(
          e.http_status, AnthropicRoute(ctx.route) ? AnthropicErrorBody(e) : OpenAIErrorBody(e),
          conn->keep_alive, ctx.request_id);
      AddHeaders(res, ctx);
      if (e.http_status == 405) {
        res.set(http::field::allow, (match.method == RouteMatch::Method::kPost ? "POST" : "GET"));
      }
      co_await WriteResponse(conn, res, options_.body_timeout);
    } else {
      conn->keep_alive = false;  // the response was cut short; the connection cannot be reused
    }
  }
  if (ctx.http_status == 0) ctx.http_status = 499;  // client closed before any response
  // Every admitted call has its LLM_CALL record, failures and aborts included.
  (void)co_await RecordCall(&ctx, ctx.http_status, Durability::kNoWait);
  if (ctx.admitted && ctx.agent && !ctx.session.empty()) {
    SessionTotals::Totals t;
    t.calls = 1;
    t.tokens = ctx.charge.tokens;
    t.input_tokens = ctx.usage.prompt_tokens;
    t.output_tokens = ctx.usage.completion_tokens;
    t.nano_usd = ctx.charge.nano_usd;
    session_totals_.Add(pai::StrCat(ctx.agent->spec.ns, "/", ctx.session), t);
  }

  const double latency = Seconds(Clock::now() - ctx.start);
  metrics_.requests(ctx.route, ctx.http_status).Increment();
  metrics_.duration(ctx.route).Observe(latency);
  in_flight.reset();

  if (!options_.access_log) co_return;
  boost::json::object line;
  line["request_id"] = ctx.request_id;
  line["method"] = std::string_view(req->method_string());
  line["route"] = RouteLabel(ctx.route);
  if (ctx.agent) line["agent"] = ctx.agent->spec.Key();
  if (!ctx.session.empty()) line["session"] = ctx.session;
  if (ctx.model) {
    line["model"] = ctx.model->ref;
    if (ctx.model->provider) line["provider"] = ctx.model->provider->spec.name;
  } else if (const std::string_view m =
                 match.model_id.empty() ? RequestedModel(ctx) : match.model_id;
             !m.empty()) {
    line["requested_model"] = LogSafe(m);  // e.g. model_not_found: what was asked for
  }
  if (ctx.route == Route::kOther) line["path"] = LogPath(target);  // unknown paths
  line["status"] = ctx.http_status;
  line["latency_ms"] = static_cast<int64_t>(latency * 1000);
  if (ctx.upstream_seconds >= 0) {
    line["upstream_latency_ms"] = static_cast<int64_t>(ctx.upstream_seconds * 1000);
  }
  line["stream"] = ctx.stream;
  if (ctx.attempts > 1) line["attempts"] = ctx.attempts;
  if (ctx.charge.tokens > 0) {
    line["charged_tokens"] = ctx.charge.tokens;
    line["cost_usd"] = static_cast<double>(ctx.charge.nano_usd) / 1e9;
  }
  line["input_tokens"] = ctx.usage.prompt_tokens;
  line["output_tokens"] = ctx.usage.completion_tokens;
  if (!ctx.error_code.empty()) line["error_code"] = ctx.error_code;
  log::Info("access", std::move(line));
}

}  // namespace pai::gateway
