// The stages at the pipeline's edges: the route stage's refusals, the reply stage's error in
// the client's API, the audit stage's records (once), the metrics stage's counters.
#include "gateway/stages/outcome.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "audit/canonical.h"
#include "gateway/http/errors.h"

namespace pai::gateway {
namespace {

namespace net = boost::asio;

absl::Status RunIn(Stage& stage, RequestContext& ctx) {
  if (std::optional<absl::Status> now = stage.Decide(ctx)) return *now;
  net::io_context io;
  absl::Status status = absl::InternalError("not run");
  net::co_spawn(
      io,
      [&]() -> Task<void> {
        absl::Status s = co_await stage.OnRequest(ctx);
        status = s;
      },
      net::detached);
  io.run();
  return status;
}

// RecordingSink: keeps the events it is given, numbered from 1.
class RecordingSink final : public audit::EventSink {
 public:
  void Emit(audit::Event ev) override { events.push_back(std::move(ev)); }
  uint64_t EmitSeq(audit::Event ev) override {
    events.push_back(std::move(ev));
    return events.size();
  }
  std::vector<audit::Event> events;
};

TEST_CASE("route stage refuses unknown paths and wrong methods, with Allow") {
  auto stage = MakeRouteStage(nullptr);
  RequestContext ctx;
  ctx.method = "GET";
  ctx.target = "/v1/nope?key=secret";
  absl::Status s = RunIn(*stage, ctx);
  CHECK(ToApiError(s).http_status == 404);
  CHECK(ToApiError(s).code == "unknown_url");
  CHECK(s.message().find("secret") == std::string_view::npos);  // the query is not echoed

  RequestContext wrong;
  wrong.route = Route::kChatCompletions;
  wrong.method = "GET";
  wrong.target = "/v1/chat/completions";
  wrong.wrong_method_allowed = "POST";
  s = RunIn(*stage, wrong);
  CHECK(ToApiError(s).http_status == 405);
  REQUIRE(wrong.reply.headers.size() == 1);
  CHECK(wrong.reply.headers[0].first == "Allow");
  CHECK(wrong.reply.headers[0].second == "POST");

  RequestContext ok;
  ok.route = Route::kChatCompletions;
  CHECK(RunIn(*stage, ok).ok());
}

TEST_CASE("reply stage puts a failure in the client's API, or closes a started response") {
  auto stage = MakeReplyStage();
  RequestContext chat;
  chat.route = Route::kChatCompletions;
  chat.outcome = MakeHttpError(429, "over budget", "insufficient_quota");
  stage->OnResponse(chat);
  CHECK(chat.reply.status == 429);
  CHECK(chat.error_code == "insufficient_quota");
  CHECK(boost::json::parse(chat.reply.error_body).as_object()["error"].as_object()["code"] ==
        "insufficient_quota");

  RequestContext messages;
  messages.route = Route::kMessages;
  messages.outcome = MakeHttpError(429, "over budget", "insufficient_quota");
  stage->OnResponse(messages);
  CHECK(boost::json::parse(messages.reply.error_body).as_object()["type"] == "error");

  RequestContext cut;  // a stream that failed after its header: nothing more can be sent
  cut.route = Route::kChatCompletions;
  cut.reply.started = true;
  cut.reply.status = 200;
  cut.outcome = absl::UnavailableError("provider went away");
  stage->OnResponse(cut);
  CHECK(cut.reply.status == 200);
  CHECK(cut.reply.error_body.empty());
  CHECK(cut.reply.close);

  RequestContext gone;  // the client left before any response
  gone.route = Route::kChatCompletions;
  stage->OnResponse(gone);
  CHECK(gone.reply.status == 499);
  CHECK(gone.reply.error_body.empty());
}

TEST_CASE("audit stage records an admitted call once, with the status the client got") {
  RecordingSink sink;
  SessionTotals sessions;
  auto stage = MakeAuditStage(&sink, sessions);
  AgentRuntime agent;
  agent.spec.ns = "default";
  agent.spec.name = "a";
  ModelRoute model;
  model.ref = "p/m";
  RequestContext ctx;
  ctx.route = Route::kChatCompletions;
  ctx.agent = &agent;
  ctx.model = &model;
  ctx.session = "s1";
  ctx.tool_calls.push_back({0, 0, "call_1", "get_weather"});

  stage->OnResponse(ctx);  // not admitted: no record, no session totals
  CHECK(sink.events.empty());
  CHECK(sessions.Snapshot().empty());

  ctx.admitted = true;
  ctx.reply.status = 502;
  ctx.error_code = "upstream_error";
  stage->OnResponse(ctx);
  REQUIRE(sink.events.size() == 2);
  CHECK(sink.events[0].type == "LLM_CALL");
  const auto call = boost::json::parse(sink.events[0].canonical_detail).as_object();
  CHECK(call.at("status") == 502);
  CHECK(call.at("error_code") == "upstream_error");
  CHECK(sink.events[1].type == "TOOL_CALL");
  CHECK(boost::json::parse(sink.events[1].canonical_detail).at("tool_name") == "get_weather");
  CHECK(sessions.Snapshot().at("default/s1").calls == 1);

  stage->OnResponse(ctx);  // recorded already (e.g. by the success path): not again
  CHECK(sink.events.size() == 2);
}

// The records' details are written directly in the chain's canonical encoding: the same bytes
// audit::AppendCanonical() writes for the object with the same members (which the verifier
// rebuilds), in both the shortest and the fullest shape of each record.
TEST_CASE("call records are canonical in every shape") {
  AgentRuntime agent;
  agent.spec.ns = "default";
  agent.spec.name = "a";
  ProviderRuntime provider;
  provider.spec.name = "prov";
  ModelRoute model;
  model.ref = "prov/m\"1";
  model.provider = &provider;
  for (const bool full : {false, true}) {
    RecordingSink sink;
    RequestContext ctx;
    ctx.route = Route::kChatCompletions;
    ctx.agent = &agent;
    ctx.model = &model;
    ctx.admitted = true;
    ctx.request_id = "req\n1";
    ctx.usage.prompt_tokens = 12;
    ctx.usage.completion_tokens = -3;
    ctx.charge.tokens = 9;
    ctx.charge.nano_usd = 123456789;
    if (full) {
      ctx.session = "s1";
      ctx.first_model = "other/m";  // fell back
      ctx.error_code = "upstream_error";
      ctx.stream = true;
      ctx.tool_calls.push_back({1, 2, "call_1", "get_weather"});
    }
    REQUIRE(EmitCallRecords(sink, ctx, 200) == (full ? 2 : 1));
    for (const audit::Event& ev : sink.events) {
      const auto parsed = boost::json::parse(ev.canonical_detail);
      REQUIRE(parsed.is_object());
      std::string canonical;
      audit::AppendCanonical(canonical, parsed.as_object());
      CHECK(ev.canonical_detail == canonical);
      CHECK(ev.detail.empty());
    }
    const auto call = boost::json::parse(sink.events[0].canonical_detail).as_object();
    CHECK(call.size() == (full ? 17U : 14U));
    CHECK(call.at("cost_usd").as_double() == 0.123456789);
    CHECK(call.at("model") == "prov/m\"1");
    CHECK(call.at("provider") == "prov");
    CHECK(call.at("fallback_used") == full);
    if (full) {
      CHECK(call.at("requested_model") == "other/m");
      CHECK(call.at("session") == "s1");
      const auto tool = boost::json::parse(sink.events[1].canonical_detail).as_object();
      CHECK(tool.size() == 7U);
      CHECK(tool.at("choice") == 1);
      CHECK(tool.at("index") == 2);
      CHECK(tool.at("call_id") == "call_1");
    }
  }
}

TEST_CASE("metrics stage counts the request by route and status class") {
  Metrics metrics;
  auto stage = MakeMetricsStage(metrics);
  RequestContext ctx;
  ctx.route = Route::kEmbeddings;
  ctx.start = std::chrono::steady_clock::now();
  ctx.reply.status = 404;
  stage->OnResponse(ctx);
  stage->OnResponse(ctx);
  CHECK(metrics.requests(Route::kEmbeddings, 404).Value() == 2);
  CHECK(metrics.requests(Route::kEmbeddings, 200).Value() == 0);
}

}  // namespace
}  // namespace pai::gateway
