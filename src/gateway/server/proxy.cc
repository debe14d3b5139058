// Agent routes: the pipeline around each request and the upstream exchange with its relay.
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
#include "gateway/providers/mock_provider.h"
#include "gateway/providers/openai_request.h"
#include "gateway/providers/translate_anthropic.h"
#include "gateway/providers/translate_gemini.h"
#include "gateway/providers/translate_responses.h"
#include "gateway/providers/translate_responses_stream.h"
#include "gateway/relay/stream_limits.h"
#include "gateway/relay/stream_relay.h"
#include "gateway/relay/stream_writer.h"
#include "gateway/server/server_impl.h"
#include "gateway/telemetry/log_fields.h"
#include "gateway/upstream/upstream_response.h"

namespace pai::gateway {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxErrorBody = 1u << 20;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// RequestId() keeps a well-formed client `x-request-id` (≤128 printable token characters) and
// generates one otherwise.
std::string RequestId(std::string_view client) {
  if (!client.empty() && client.size() <= 128 &&
      std::all_of(client.begin(), client.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':';
      })) {
    return std::string(client);
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t v = rng();
    for (int i = 0; i < 16; ++i) {
      id[half * 16 + i] = kHex[v & 15];
      v >>= 4;
    }
  }
  return id;
}

// IsAnthropicPath(): the routes where an agent may present its token as x-api-key.
bool IsAnthropicPath(std::string_view target) { return target.substr(0, 12) == "/v1/messages"; }

struct RouteMatch {
  Route route = Route::kOther;
  http::verb method = http::verb::get;
  std::string_view model_id;  // for GET /v1/models/{model}
};

bool MatchRoute(std::string_view path, RouteMatch* m) {
  if (path == "/v1/chat/completions" || path == "/chat/completions") {
    *m = {Route::kChatCompletions, http::verb::post, {}};
    return true;
  }
  if (path == "/v1/embeddings" || path == "/embeddings") {
    *m = {Route::kEmbeddings, http::verb::post, {}};
    return true;
  }
  if (path == "/v1/messages") {
    *m = {Route::kMessages, http::verb::post, {}};
    return true;
  }
  if (path == "/v1/messages/count_tokens") {
    *m = {Route::kCountTokens, http::verb::post, {}};
    return true;
  }
  if (path == "/v1/responses" || path == "/responses") {
    *m = {Route::kResponses, http::verb::post, {}};
    return true;
  }
  if (path == "/v1/models" || path == "/models") {
    *m = {Route::kModels, http::verb::get, {}};
    return true;
  }
  constexpr std::string_view kModelPrefix = "/v1/models/";
  if (path.substr(0, kModelPrefix.size()) == kModelPrefix && path.size() > kModelPrefix.size()) {
    *m = {Route::kModels, http::verb::get, path.substr(kModelPrefix.size())};
    return true;
  }
  return false;
}

std::string ModelObject(const ModelRoute& r, int64_t created) {
  std::string out = "{\"id\":";
  AppendJsonString(out, r.ref);
  pai::StrAppend(&out, ",\"object\":\"model\",\"created\":", created, ",\"owned_by\":");
  AppendJsonString(out, r.provider ? r.provider->spec.name : "");
  out += "}";
  return out;
}

// Client watch: while a provider call runs, a plain async_wait on the client socket notices
// the agent disconnecting (the socket turns readable with EOF) and closes the upstream call, so
// the provider stops generating. A callback, not a coroutine raced with `||`: the parallel
// group cost ~18 % of proxy throughput (docs/benchmarks.md). The shared ClientWatch outlives
// the connection; a generation number makes a late completion a no-op.
void ArmClientWatch(ClientConn* conn, uint64_t generation) {
  std::shared_ptr<ClientWatch> w = conn->watch;
  conn->stream.socket().async_wait(tcp::socket::wait_read, [w, generation,
                                                            conn](const beast::error_code& ec) {
    // A matching generation means the request is still in its provider call, so `conn`
    // and its socket are alive.
    if (ec || w->generation != generation) return;
    char c;
    const ssize_t n = ::recv(conn->stream.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      w->gone = true;
      w->upstream.Cancel();  // also before the provider's response header
    } else if (n < 0) {
      ArmClientWatch(conn, generation);  // spurious wake-up
    }
    // n > 0: a pipelined request; the peer is alive and is not watched further.
  });
}

void StartClientWatch(ClientConn* conn) {
  ClientWatch& w = *conn->watch;
  ++w.generation;
  w.upstream = CancelSlot{};
  w.gone = false;
  w.delivered = false;
  ArmClientWatch(conn, w.generation);
}

void StopClientWatch(ClientConn* conn) {
  ++conn->watch->generation;
  conn->watch->upstream = CancelSlot{};
  beast::error_code ignored;
  conn->stream.socket().cancel(ignored);  // no other operation is pending on it now
}

// AddHeaders() adds the request's extra response headers (x-ratelimit-*, Retry-After).
template <typename Response>
void AddHeaders(Response& res, const RequestContext& ctx) {
  for (const auto& [name, value] : ctx.response_headers) res.set(name, value);
}

// ChunkWriter: the streamed response to the client (chunked, or close-delimited towards
// HTTP/1.0), scrubbed of provider keys (internal/stream_writer.h).
using ChunkWriter = StreamWriter;

// NotAudited(): the status a call gets when its audit record could not be made durable — the
// provider answered, but the gateway does not report a success it cannot prove.
absl::Status NotAudited() {
  return MakeHttpError(503,
                       "The call's audit record could not be made durable; its result is "
                       "withheld (see the gateway log).",
                       "audit_unavailable");
}

// WaitDurable() suspends the request until the audit chain has acknowledged record `seq`:
// in group mode it already is (EmitSeq() wrote it) and nothing suspends; in strict mode the
// chain's syncer thread posts the wake-up to this shard after its fdatasync. False when the
// chain stopped.
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

// TranslateEvents() feeds provider bytes through the SSE parser into the translator of the
// provider's dialect, appending chat.completion.chunk events to `out`.
void TranslateEvents(SseParser& parser, std::string_view bytes,
                     anthropic::StreamTranslator* from_anthropic,
                     gemini::StreamTranslator* from_gemini, std::string& out) {
  parser.Feed(bytes, [&](const SseEvent& ev) {
    if (from_anthropic) from_anthropic->Process(ev, out);
    if (from_gemini) from_gemini->Process(ev, out);
  });
}

}  // namespace

net::awaitable<absl::StatusOr<std::string>> ShardClassifierClient::Post(
    const GuardBindingRuntime& binding, std::string body) {
  const int64_t timeout_ms = binding.spec.classifier.timeout_ms;
  auto& pool = pools_[timeout_ms];
  if (!pool) {
    const std::chrono::milliseconds t{timeout_ms};
    pool = std::make_unique<UpstreamPool>(ex_, tls_ctx_, UpstreamTimeouts{t, t, t}, nullptr);
  }
  const UpstreamEndpoint& ep = binding.endpoint;
  http::request<http::string_body> req{http::verb::post, ep.base_path, 11};
  req.set(http::field::host, ep.host_header);
  if (!binding.authorization.empty()) req.set(http::field::authorization, binding.authorization);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::accept, "application/json");
  req.set(http::field::user_agent, "pai-gateway/0.1");
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();
  // The upstream client words its errors for model providers; here the peer is a classifier.
  auto reword = [](const absl::Status& s) {
    return absl::Status(s.code(),
                        absl::StrReplaceAll(s.message(), {{"The model provider", "The classifier"},
                                                          {"model provider", "classifier"}}));
  };
  auto started = co_await UpstreamCall::Start(*pool, ep, std::move(req));
  if (!started.ok()) co_return reword(started.status());
  std::unique_ptr<UpstreamCall> call = std::move(*started);
  const int status = call->status();
  auto text = co_await call->ReadAll(1u << 20);
  if (!text.ok()) co_return reword(text.status());
  if (status < 200 || status >= 300) {
    co_return absl::UnavailableError(pai::StrCat("classifier answered HTTP ", status));
  }
  co_return std::move(*text);
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

// ScrubForRecords(): a stream's relay reads the provider's raw bytes; what its guards (an
// external classifier may be called) and audit records get is scrubbed of provider keys as the
// client's bytes are.
static void ScrubForRecords(const RequestContext& ctx, std::vector<GuardText>* texts,
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
  ctx.authorization = req->base()[http::field::authorization];
  // Anthropic's SDKs send the key as x-api-key (Anthropic API reference, "Authentication").
  std::string x_api_key_bearer;
  if (ctx.authorization.empty() && IsAnthropicPath(req->target())) {
    if (const std::string_view k = req->base()["x-api-key"]; !k.empty()) {
      x_api_key_bearer = pai::StrCat("Bearer ", k);
      ctx.authorization = x_api_key_bearer;
    }
  }
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
  } else if (req->method() != match.method) {
    ctx.route = match.route;
    status = MakeHttpError(405,
                           pai::StrCat("Method ", req->method_string(), " is not allowed on ", path,
                                       "; use ", http::to_string(match.method)),
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
        res.set(http::field::allow, http::to_string(match.method));
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

net::awaitable<absl::Status> GatewayImpl::Terminal(Shard* shard, ClientConn* conn,
                                                   RequestContext* ctx) {
  if (ctx->route == Route::kChatCompletions) co_return co_await ProxyChat(shard, conn, ctx);
  if (ctx->route == Route::kEmbeddings) co_return co_await ProxyEmbeddings(shard, conn, ctx);
  if (ctx->route == Route::kMessages)
    co_return co_await UpstreamExchange(shard, conn, ctx, "/messages");
  if (ctx->route == Route::kCountTokens) {
    co_return co_await UpstreamExchange(shard, conn, ctx, "/messages/count_tokens");
  }
  if (ctx->route == Route::kResponses)
    co_return co_await UpstreamExchange(shard, conn, ctx, "/responses");
  co_return absl::InternalError("no terminal step for route");
}

net::awaitable<absl::Status> GatewayImpl::ProxyChat(Shard* shard, ClientConn* conn,
                                                    RequestContext* ctx) {
  const ModelRoute& model = *ctx->model;
  const ChatCompletionRequest& chat = *ctx->chat;
  if (model.provider->spec.kind != config::ProviderKind::kMock) {
    co_return co_await UpstreamExchange(shard, conn, ctx, "/chat/completions");
  }
  // The mock answers in-process but through the same relay and accounting as a provider, and
  // honours the output limit like one.
  const auto t0 = Clock::now();
  const std::optional<int64_t> max_output =
      ctx->reservation ? ctx->reservation->output_limit : std::nullopt;
  if (!chat.stream) {
    std::string body =
        MockChatCompletion(chat, *ctx->body, model.model_id, ctx->request_id, max_output);
    ctx->usage = ExtractUsage(body);
    ctx->tool_calls = ExtractToolCalls(body);
    ctx->upstream_seconds = Seconds(Clock::now() - t0);
    ctx->response_bytes = static_cast<int64_t>(body.size());
    if (absl::Status g = co_await ScanChatResponse(ctx, body); !g.ok()) co_return g;
    auto res = JsonResponse(200, std::move(body), conn->keep_alive, ctx->request_id);
    AddHeaders(res, *ctx);
    ctx->http_status = 200;
    if (!co_await BeforeSuccess(ctx)) co_return NotAudited();
    auto ec = co_await WriteResponse(conn, res, options_.body_timeout);
    if (ec) conn->keep_alive = false;
  } else {
    const std::string events = MockChatStream(chat, *ctx->body, model.model_id, ctx->request_id,
                                              /*include_usage=*/true, max_output);
    ChatStreamRelay relay(chat.client_include_usage);
    if (ctx->agent->scans_responses) relay.CollectContent();
    std::string out;
    relay.Process(events, out);
    ctx->usage = relay.usage();
    ctx->tool_calls = relay.tool_calls();
    ScrubForRecords(*ctx, nullptr, &ctx->tool_calls);
    ctx->upstream_seconds = Seconds(Clock::now() - t0);
    ctx->response_bytes = static_cast<int64_t>(out.size());
    ChunkWriter w{conn, options_.body_timeout, ctx};
    ctx->http_status = 200;
    beast::error_code ec = co_await w.Header();
    if (!ec) ec = co_await w.Body(out);
    out.clear();
    co_await ScanStreamedResponse(ctx, relay);  // audit-only: the client has it already
    if (co_await BeforeSuccess(ctx)) {          // before the client sees [DONE]
      relay.Finish(out);
    } else {
      const ApiError e = ToApiError(NotAudited());
      ctx->http_status = e.http_status;
      ctx->error_code = e.code;
      pai::StrAppend(&out, "data: ", OpenAIErrorBody(e), "\n\n");
      conn->keep_alive = false;
    }
    if (!ec) ec = co_await w.Body(out);
    if (!ec) ec = co_await w.End();
    if (ec) conn->keep_alive = false;
  }
  model.metrics.calls->Increment();
  model.metrics.input_tokens->Increment(static_cast<double>(ctx->usage.prompt_tokens));
  model.metrics.output_tokens->Increment(static_cast<double>(ctx->usage.completion_tokens));
  co_return absl::OkStatus();
}

net::awaitable<absl::Status> GatewayImpl::ProxyEmbeddings(Shard* shard, ClientConn* conn,
                                                          RequestContext* ctx) {
  const ModelRoute& model = *ctx->model;
  if (model.provider->spec.kind != config::ProviderKind::kMock) {
    const config::ProviderKind kind = model.provider->spec.kind;
    if (kind == config::ProviderKind::kAnthropic || kind == config::ProviderKind::kGemini) {
      co_return MakeError(
          absl::StatusCode::kInvalidArgument,
          pai::StrCat("Embeddings are not available for ModelProvider ", model.provider->spec.name,
                      " (provider ", config::ProviderKindName(kind), ")"),
          "unsupported_model", "model");
    }
    co_return co_await UpstreamExchange(shard, conn, ctx, "/embeddings");
  }
  std::string body = MockEmbeddings(model.model_id, ctx->body->size());
  ctx->usage = ExtractUsage(body);
  ctx->upstream_seconds = 0;
  ctx->response_bytes = static_cast<int64_t>(body.size());
  model.metrics.calls->Increment();
  model.metrics.input_tokens->Increment(static_cast<double>(ctx->usage.prompt_tokens));
  auto res = JsonResponse(200, std::move(body), conn->keep_alive, ctx->request_id);
  AddHeaders(res, *ctx);
  ctx->http_status = 200;
  if (!co_await BeforeSuccess(ctx)) co_return NotAudited();
  co_await WriteResponse(conn, res, options_.body_timeout);
  co_return absl::OkStatus();
}

namespace {

// UpstreamBody() is the client's body rewritten for the current model of `ctx`: the bare model
// id, the output limit the reservation imposes, and (streams) a request for usage.
// Dialect: the API a chat request is sent in (docs/providers.md). OpenAI and OpenRouter take
// the client's body spliced; Anthropic and Gemini take a translation.
enum class Dialect { kOpenAI, kAnthropic, kGemini };

Dialect DialectOf(const RequestContext& ctx) {
  // /v1/responses to anthropic / gemini goes through the chat translation
  // (translate_responses.h).
  if (!ctx.chat && ctx.route != Route::kResponses) return Dialect::kOpenAI;
  switch (ctx.model->provider->spec.kind) {
    case config::ProviderKind::kAnthropic:
      return Dialect::kAnthropic;
    case config::ProviderKind::kGemini:
      return Dialect::kGemini;
    default:
      return Dialect::kOpenAI;
  }
}

// TranslatedBody() is the body of a chat request for a provider with its own API; errors are
// the client's (400: what cannot be translated).
// `cap`: the output limit to impose (the reserved output), if any.
absl::StatusOr<std::string> TranslatedBody(const RequestContext& ctx, const ModelRoute& model,
                                           Dialect dialect, std::optional<int64_t> cap) {
  const std::string* chat = ctx.body;
  std::string from_responses;
  if (ctx.native) {
    auto translated = responses::ResponsesToChat(*ctx.native->doc);
    if (!translated.ok()) return translated.status();
    from_responses = std::move(*translated);
    chat = &from_responses;
  }
  if (dialect == Dialect::kAnthropic) {
    return anthropic::ChatToMessages(*chat, {model.model_id, cap});
  }
  return gemini::ChatToGenerateContent(*chat, {cap});
}

// CountBody() is the body of a token count of ctx's request on `model` (anthropic or gemini):
// Anthropic's count_tokens takes the prompt members of a Messages request (model, messages,
// system, tools, tool_choice, thinking, mcp_servers; Anthropic API reference, "Count tokens in
// a Message"); Gemini's countTokens a whole GenerateContentRequest with its `model` as
// "models/{id}" (Gemini API reference, "models.countTokens").
absl::StatusOr<std::string> CountBody(const RequestContext& ctx, const ModelRoute& model) {
  const bool anthropic = model.provider->spec.kind == config::ProviderKind::kAnthropic;
  boost::json::object doc;
  if (ctx.route == Route::kMessages && ctx.native) {
    doc = *ctx.native->doc;  // the client's own Messages request
  } else {
    auto body = TranslatedBody(ctx, model, anthropic ? Dialect::kAnthropic : Dialect::kGemini,
                               std::nullopt);
    if (!body.ok()) return body.status();
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(*body, ec);
    if (ec || !v.is_object()) return absl::InternalError("translated body is not a JSON object");
    doc = std::move(v.get_object());
  }
  boost::json::object out;
  if (anthropic) {
    for (const std::string_view key :
         {"messages", "system", "tools", "tool_choice", "thinking", "mcp_servers"}) {
      if (const boost::json::value* v = doc.if_contains(key)) out[key] = *v;
    }
    out["model"] = model.model_id;
  } else {
    doc["model"] = pai::StrCat("models/", model.model_id);
    out["generateContentRequest"] = std::move(doc);
  }
  return boost::json::serialize(out);
}

std::string UpstreamBody(const RequestContext& ctx) {
  const ModelRoute& model = *ctx.model;
  if (ctx.embeddings)
    return BuildUpstreamEmbeddingsBody(*ctx.body, *ctx.embeddings, model.model_id);
  UpstreamChatOptions opts;
  opts.model_id = model.model_id;
  if (ctx.reservation && ctx.reservation->impose_output_limit) {
    opts.output_limit = ctx.reservation->output_limit;
  }
  // OpenAI deprecated max_tokens for max_completion_tokens (reasoning models reject the old
  // name); other OpenAI-compatible servers mostly know only max_tokens.
  opts.output_field = model.provider->spec.kind == config::ProviderKind::kOpenAI
                          ? "max_completion_tokens"
                          : "max_tokens";
  return BuildUpstreamChatBody(*ctx.body, *ctx.chat, opts);
}

}  // namespace

net::awaitable<absl::StatusOr<int64_t>> ShardInputCounter::CountInput(const RequestContext& ctx,
                                                                      const ModelRoute& route) {
  auto body = CountBody(ctx, route);
  if (!body.ok()) co_return body.status();
  const ProviderRuntime& provider = *route.provider;
  const UpstreamEndpoint& ep = provider.endpoint;
  const bool anthropic = provider.spec.kind == config::ProviderKind::kAnthropic;
  const std::string target =
      anthropic ? ep.base_path + "/messages/count_tokens"
                : pai::StrCat(ep.base_path, "/models/", route.model_id, ":countTokens");
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, ep.host_header);
  req.set(provider.auth_header, provider.authorization);
  if (anthropic) {
    // The headers the call itself will carry (UpstreamExchange): on the Anthropic routes the
    // client's version and betas (betas change what is counted, e.g. tool types), else
    // 2023-06-01 and no beta — a beta the call does not send must not lower the count.
    const bool native = AnthropicRoute(ctx.route);
    req.set("anthropic-version", native && !ctx.anthropic_version.empty()
                                     ? ctx.anthropic_version
                                     : std::string_view("2023-06-01"));
    if (native && !ctx.anthropic_beta.empty()) req.set("anthropic-beta", ctx.anthropic_beta);
  }
  req.set(http::field::content_type, "application/json");
  req.set(http::field::accept, "application/json");
  req.set(http::field::user_agent, "pai-gateway/0.1");
  req.set("x-request-id", ctx.request_id);
  req.keep_alive(true);
  req.body() = std::move(*body);
  req.prepare_payload();
  // One deadline for the whole count (connect, a stale-connection retry, the answer): the
  // request's slot is held meanwhile.
  const auto deadline = Clock::now() + kCountTimeout;
  CancelSlot slot;
  net::steady_timer timer(co_await net::this_coro::executor, deadline);
  timer.async_wait([&slot](beast::error_code ec) {
    if (!ec) slot.Cancel();  // on operation_aborted (the count ended first) `slot` is not used
  });
  auto started = co_await UpstreamCall::Start(pool_, ep, std::move(req), &slot);
  if (!started.ok()) {
    co_return slot.cancelled ? absl::DeadlineExceededError("the provider's token count timed out")
                             : started.status();
  }
  std::unique_ptr<UpstreamCall> call = std::move(*started);
  call->set_deadline(deadline);
  const int status = call->status();
  auto text = co_await call->ReadAll(size_t{64} * 1024);
  if (!text.ok()) co_return text.status();
  if (status < 200 || status >= 300) {
    co_return absl::UnavailableError(pai::StrCat("ModelProvider ", provider.spec.name,
                                                 " answered HTTP ", status, " to the token count"));
  }
  // {"input_tokens": N} (Anthropic) / {"totalTokens": N, ...} (Gemini).
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(*text, ec);
  const boost::json::value* n = nullptr;
  if (!ec && v.is_object())
    n = v.get_object().if_contains(anthropic ? "input_tokens" : "totalTokens");
  if (!n || !n->is_int64() || n->get_int64() < 0) {
    co_return absl::UnavailableError(pai::StrCat("ModelProvider ", provider.spec.name,
                                                 " answered the token count without a count"));
  }
  co_return n->get_int64();
}

net::awaitable<absl::Status> GatewayImpl::UpstreamExchange(Shard* shard, ClientConn* conn,
                                                           RequestContext* ctx, std::string path) {
  absl::Status result;
  UpstreamFailure failure;
  for (;;) {
    const ProviderRuntime& provider = *ctx->model->provider;
    const UpstreamEndpoint& ep = provider.endpoint;
    // The upstream request is built from scratch: the agent's headers (its token above all)
    // are never forwarded; the URL comes only from the ModelProvider.
    const Dialect dialect = DialectOf(*ctx);
    std::string body;
    std::string target = ep.base_path + path;
    if (ctx->native && dialect == Dialect::kOpenAI) {
      // Native routes: the client's body in the provider's own API, model and output cap set.
      std::optional<int64_t> cap;
      if (ctx->reservation && ctx->reservation->impose_output_limit) {
        cap = ctx->reservation->output_limit;
      }
      const std::string_view field = ctx->route == Route::kMessages    ? "max_tokens"
                                     : ctx->route == Route::kResponses ? "max_output_tokens"
                                                                       : "";
      if (ctx->route == Route::kResponses && cap && *cap < 16) {
        // The Responses API refuses max_output_tokens below 16; a budget that leaves less
        // cannot be honoured by it (OpenAI API reference, "Create a model response").
        result = MakeHttpError(429,
                               pai::StrCat("The remaining budget allows ", *cap,
                                           " output tokens; the Responses API needs at least 16."),
                               "insufficient_quota");
        break;
      }
      auto rewritten = RewriteNativeBody(*ctx->native->doc, ctx->model->model_id, field, cap);
      if (!rewritten.ok()) {
        result = rewritten.status();
        break;
      }
      body = std::move(*rewritten);
    } else if (dialect == Dialect::kOpenAI) {
      body = UpstreamBody(*ctx);
    } else {
      std::optional<int64_t> cap;
      if (ctx->reservation) cap = ctx->reservation->output_limit;  // the reserved output
      auto translated = TranslatedBody(*ctx, *ctx->model, dialect, cap);
      if (!translated.ok()) {
        result = translated.status();
        break;
      }
      body = std::move(*translated);
      target = dialect == Dialect::kAnthropic
                   ? ep.base_path + "/messages"
                   : ep.base_path + gemini::Path(ctx->model->model_id, ctx->stream);
    }
    http::request<http::string_body> up{http::verb::post, target, 11};
    up.set(http::field::host, ep.host_header);
    up.set(provider.auth_header, provider.authorization);
    if (dialect == Dialect::kAnthropic) up.set("anthropic-version", "2023-06-01");
    if (AnthropicRoute(ctx->route)) {
      // The client's API version and beta flags (Anthropic API reference, "Versions", "Beta
      // headers"); 2023-06-01 when it sent none.
      up.set("anthropic-version", ctx->anthropic_version.empty() ? std::string_view("2023-06-01")
                                                                 : ctx->anthropic_version);
      if (!ctx->anthropic_beta.empty()) up.set("anthropic-beta", ctx->anthropic_beta);
    }
    up.set(http::field::content_type, "application/json");
    up.set(http::field::accept, ctx->stream ? "text/event-stream" : "application/json");
    up.set(http::field::user_agent, "pai-gateway/0.1");
    up.set("x-request-id", ctx->request_id);
    if (provider.spec.kind == config::ProviderKind::kOpenRouter) {
      // OpenRouter's app attribution headers (openrouter.ai/docs, "API reference").
      up.set("HTTP-Referer", "https://pai.io");
      up.set("X-Title", "pai-gateway");
    }
    up.keep_alive(true);
    up.body() = std::move(body);
    up.prepare_payload();

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
      conn->keep_alive = false;
      ctx->error_code = "client_closed";
      if (!conn->response_started) ctx->http_status = 499;
      co_return absl::OkStatus();  // nobody to answer
    }
    // Fallback: the provider failed before anything reached the client. A guard's refusal of
    // the response is not a provider failure: the provider answered (and is charged).
    if (conn->response_started || ctx->guard_refused) break;
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
  if (failure.status != 0 && !conn->response_started) {
    // The provider's own error answer, relayed with its status.
    auto res =
        JsonResponse(failure.status, std::move(failure.body), conn->keep_alive, ctx->request_id);
    if (!failure.retry_after.empty()) res.set(http::field::retry_after, failure.retry_after);
    AddHeaders(res, *ctx);
    ctx->http_status = failure.status;
    ctx->error_code = "upstream_status";
    co_await WriteResponse(conn, res, options_.body_timeout);
    co_return absl::OkStatus();
  }
  co_return result;
}

net::awaitable<absl::Status> GatewayImpl::Exchange(Shard* shard, ClientConn* conn,
                                                   RequestContext* ctx,
                                                   http::request<http::string_body>* up,
                                                   CancelSlot* cancel, bool* client_gone,
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

net::awaitable<absl::Status> GatewayImpl::ExchangeImpl(Shard* shard, ClientConn* conn,
                                                       RequestContext* ctx,
                                                       http::request<http::string_body>* up,
                                                       CancelSlot* cancel, bool* client_gone,
                                                       UpstreamFailure* failure,
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
  if (absl::Status head = CheckUpstreamHead(status, call->header()[http::field::content_type],
                                            ctx->stream, provider.spec.name);
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
    std::string err = text.ok() ? std::move(*text) : std::string();
    std::string retry_in_body;
    if (DialectOf(*ctx) == Dialect::kGemini) {
      // Google sends the delay in the body (google.rpc.RetryInfo.retryDelay, e.g. "1s").
      const size_t at = err.find("\"retryDelay\"");
      const size_t colon = at == std::string::npos ? at : err.find(':', at);
      const size_t q = colon == std::string::npos ? colon : err.find('"', colon + 1);
      const size_t s_end = q == std::string::npos ? q : err.find('s', q + 1);
      int64_t seconds = 0;
      if (s_end != std::string::npos &&
          absl::SimpleAtoi(AV(std::string_view(err).substr(q + 1, s_end - q - 1)), &seconds)) {
        retry_in_body = std::to_string(seconds);
      }
    }
    if (const Dialect d = DialectOf(*ctx); d != Dialect::kOpenAI) {
      // The provider's own error shape, mapped into OpenAI's (docs/providers.md, "Errors").
      const ApiError e = d == Dialect::kAnthropic ? anthropic::ErrorToOpenAI(status, err)
                                                  : gemini::ErrorToOpenAI(status, err);
      failure->status = e.http_status;
      err = OpenAIErrorBody(e);
    } else if (err.empty() || err.front() != '{') {
      ApiError e;
      e.http_status = status;
      e.type = status >= 500 ? "api_error" : "invalid_request_error";
      e.code = "upstream_error";
      e.message = pai::StrCat("The model provider answered HTTP ", status);
      err = AnthropicRoute(ctx->route) ? AnthropicErrorBody(e) : OpenAIErrorBody(e);
    }
    // Provider text may echo the key (escaped, or in part): scrubbed as the client gets it.
    if (const size_t n = scrubber.Scrub(err); n > 0) LogRedactions(*ctx, n);
    failure->body = std::move(err);
    failure->retry_after = SafeRetryAfter(call->header()[http::field::retry_after], scrubber);
    if (failure->retry_after.empty())
      failure->retry_after = SafeRetryAfter(retry_in_body, scrubber);
    co_return absl::OkStatus();
  }
  // A 2xx answer to a stream request is an event stream here (CheckUpstreamHead).
  if (ctx->stream && ctx->native && DialectOf(*ctx) == Dialect::kOpenAI) {
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
  if (absl::Status json = CheckUpstreamJson(*text, provider.spec.name); !json.ok()) {
    model.metrics.upstream_errors->Increment();
    co_return json;
  }
  // Before usage and guards read it: they see what the client gets.
  if (const size_t n = scrubber.Scrub(*text); n > 0) LogRedactions(*ctx, n);
  // /v1/responses to Anthropic or Gemini: the usage as the chat translation reads it (cache
  // writes by TTL included; the Response's usage object has no field for them).
  std::optional<Usage> translated_usage;
  if (const Dialect d = DialectOf(*ctx); d != Dialect::kOpenAI) {
    const int64_t created = absl::ToUnixSeconds(absl::Now());
    auto chat = d == Dialect::kAnthropic
                    ? anthropic::MessageToChatCompletion(*text, model.model_id, created)
                    : gemini::GenerateContentToChatCompletion(*text, model.model_id, created);
    if (chat.ok() && ctx->native) {  // /v1/responses: the chat.completion becomes a Response
      translated_usage = ExtractUsage(*chat);
      chat = responses::ChatCompletionToResponse(*chat, *ctx->native->doc);
    }
    if (!chat.ok()) {
      model.metrics.upstream_errors->Increment();
      co_return MakeHttpError(502, "The model provider's answer could not be read",
                              "upstream_error");
    }
    *text = std::move(*chat);
  }
  if (ctx->native) {
    // The native answer goes back as it is; usage, tool calls and text are read for the
    // budget, the audit chain and the response guards.
    if (ctx->route != Route::kCountTokens) {
      NativeResult r =
          ctx->route == Route::kMessages ? AnthropicMessageResult(*text) : ResponsesResult(*text);
      ctx->usage = translated_usage ? *translated_usage : r.usage;
      ctx->tool_calls = std::move(r.tool_calls);
      if (!ctx->usage.present) metrics_.stream_usage_missing().Increment();
      if (ctx->agent->scans_responses) {
        absl::Status g = co_await guards_->ScanResponse(*ctx, std::move(r.texts), false);
        if (!g.ok()) co_return g;
      }
    }
    ctx->response_bytes = static_cast<int64_t>(text->size());
    auto res = JsonResponse(200, std::move(*text), conn->keep_alive, ctx->request_id);
    AddHeaders(res, *ctx);
    ctx->http_status = 200;
    if (ctx->route != Route::kCountTokens && !co_await BeforeSuccess(ctx)) co_return NotAudited();
    const beast::error_code wec = co_await WriteResponse(conn, res, options_.body_timeout);
    conn->watch->delivered = !wec;
    co_return absl::OkStatus();
  }
  ctx->usage = ExtractUsage(*text);
  if (ctx->chat) ctx->tool_calls = ExtractToolCalls(*text);
  ctx->response_bytes = static_cast<int64_t>(text->size());
  if (!ctx->usage.present) metrics_.stream_usage_missing().Increment();
  if (ctx->chat) {
    if (absl::Status g = co_await ScanChatResponse(ctx, *text); !g.ok()) co_return g;
  }
  // Content-Type is the gateway's own (application/json): no provider header value is copied.
  auto res = JsonResponse(200, std::move(*text), conn->keep_alive, ctx->request_id);
  AddHeaders(res, *ctx);
  ctx->http_status = 200;
  if (!co_await BeforeSuccess(ctx)) co_return NotAudited();  // durable before success shows
  const beast::error_code wec = co_await WriteResponse(conn, res, options_.body_timeout);
  conn->watch->delivered = !wec;
  co_return absl::OkStatus();
}

net::awaitable<absl::Status> GatewayImpl::RelayUpstream(ClientConn* conn, RequestContext* ctx,
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
  const Dialect dialect = DialectOf(*ctx);
  const int64_t created = absl::ToUnixSeconds(absl::Now());
  std::optional<anthropic::StreamTranslator> from_anthropic;
  std::optional<gemini::StreamTranslator> from_gemini;
  if (dialect == Dialect::kAnthropic) from_anthropic.emplace(model.model_id, true, created);
  if (dialect == Dialect::kGemini) from_gemini.emplace(model.model_id, true, created);
  SseParser provider_events(limits.max_event_bytes);
  std::string translated;
  ChunkWriter w{conn, options_.body_timeout, ctx};
  ctx->http_status = 200;
  if (auto ec = co_await w.Header(); ec) {
    *client_gone = true;
    co_return absl::CancelledError("client write failed");
  }
  std::string out;
  bool first = true;
  absl::Status upstream_status;
  for (;;) {
    auto piece = co_await call->ReadSome();
    if (!piece.ok()) {
      upstream_status = StreamReadFailure(metrics_, piece.status(), meter, *ctx, limits);
      break;
    }
    if (piece->empty()) break;
    if (!meter.Add(piece->size())) {
      upstream_status = StreamLimitHit(metrics_, StreamLimit::kStreamBytes, meter, *ctx, limits);
      call->Cancel();
      break;
    }
    out.clear();
    bool stop = false;
    if (dialect == Dialect::kOpenAI) {
      relay.Process(*piece, out);
    } else {
      translated.clear();
      TranslateEvents(provider_events, *piece, from_anthropic ? &*from_anthropic : nullptr,
                      from_gemini ? &*from_gemini : nullptr, translated);
      relay.Process(translated, out);
      for_client(out);
      const ApiError* failed = from_anthropic && from_anthropic->failed() ? &from_anthropic->error()
                               : from_gemini && from_gemini->failed()     ? &from_gemini->error()
                                                                          : nullptr;
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
  if (upstream_status.ok() && dialect != Dialect::kOpenAI) {
    translated.clear();
    // A final event without its blank line (Gemini's error objects come so) is still an event.
    TranslateEvents(provider_events, "\n\n", from_anthropic ? &*from_anthropic : nullptr,
                    from_gemini ? &*from_gemini : nullptr, translated);
    const ApiError* failed = from_anthropic && from_anthropic->failed() ? &from_anthropic->error()
                             : from_gemini && from_gemini->failed()     ? &from_gemini->error()
                                                                        : nullptr;
    if (failed) {
      upstream_status = MakeHttpError(failed->http_status, failed->message, failed->code);
    } else if ((from_anthropic && !from_anthropic->stopped()) ||
               (from_gemini && !from_gemini->finished())) {
      upstream_status =
          MakeHttpError(502, "The model provider's stream ended early", "upstream_error");
    } else {
      if (from_anthropic) from_anthropic->Finish(translated);
      if (from_gemini) from_gemini->Finish(translated);
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
    if (co_await BeforeSuccess(ctx)) {  // before the client sees [DONE]
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
    ctx->http_status = e.http_status;
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
    conn->keep_alive = false;
  }
  if (!upstream_status.ok()) conn->keep_alive = false;
  co_return absl::OkStatus();
}

net::awaitable<absl::Status> GatewayImpl::RelayNative(ClientConn* conn, RequestContext* ctx,
                                                      UpstreamCall* call, bool* client_gone) {
  const ModelRoute& model = *ctx->model;
  const auto t0 = Clock::now();
  const bool anthropic = AnthropicRoute(ctx->route);
  const StreamLimits& limits = options_.stream_limits;
  StreamMeter meter(limits, StreamOutputLimit(*ctx), ctx->body->size(), t0);
  call->set_deadline(meter.deadline());
  NativeStreamRelay relay(anthropic, limits.max_event_bytes);
  ChunkWriter w{conn, options_.body_timeout, ctx};
  ctx->http_status = 200;
  if (auto ec = co_await w.Header(); ec) {
    *client_gone = true;
    co_return absl::CancelledError("client write failed");
  }
  std::string out;
  bool first = true;
  absl::Status upstream_status;
  for (;;) {
    auto piece = co_await call->ReadSome();
    if (!piece.ok()) {
      upstream_status = StreamReadFailure(metrics_, piece.status(), meter, *ctx, limits);
      break;
    }
    if (piece->empty()) break;
    if (!meter.Add(piece->size())) {
      upstream_status = StreamLimitHit(metrics_, StreamLimit::kStreamBytes, meter, *ctx, limits);
      call->Cancel();
      break;
    }
    out.clear();
    relay.Process(*piece, out);
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
    if (co_await BeforeSuccess(ctx)) {  // before the client sees the final event
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
    ctx->http_status = e.http_status;
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
    conn->keep_alive = false;
  }
  if (!upstream_status.ok()) conn->keep_alive = false;
  co_return absl::OkStatus();
}

}  // namespace pai::gateway
