// SSE parsing, stream assembly, error classification and the model client's retries.
#include "harness/sse.h"

#include <atomic>
#include <catch2/catch.hpp>

#include "harness/model_client.h"
#include "test_util.h"

namespace pai::harness {
namespace {

using testing::HttpRequest;
using testing::HttpResponse;

TEST_CASE("SSE parser joins data lines and splits events across feeds") {
  std::vector<std::string> got;
  SseParser p([&got](std::string_view d) { got.emplace_back(d); });
  p.Feed("data: {\"a\":");
  p.Feed("1}\r\n\r\n: comment\n\nevent: x\ndata: one\ndata: two\n\ndata:[DONE]\n");
  p.Finish();
  REQUIRE(got == std::vector<std::string>{"{\"a\":1}", "one\ntwo", "[DONE]"});
}

TEST_CASE("stream assembler concatenates content and tool call fragments by index") {
  ChatStreamAssembler a;
  SseParser p([&a](std::string_view d) { REQUIRE(a.AddChunk(d).ok()); });
  p.Feed(testing::SseContent("Hel") + testing::SseContent("lo"));
  p.Feed(testing::SseToolCallStart(1, "call_b", "bash", "{\"comm"));
  p.Feed(testing::SseToolCallStart(0, "call_a", "read", ""));
  p.Feed(testing::SseToolCallArgs(1, "and\":\"ls\"}") + testing::SseToolCallArgs(0, "{}"));
  p.Feed(testing::SseFinish("tool_calls") + testing::SseUsage(11, 7) + testing::SseDone());
  REQUIRE(a.done());
  ModelReply r = a.Take();
  CHECK(r.content == "Hello");
  CHECK(r.model == "test-model-served");
  CHECK(r.finish_reason == "tool_calls");
  CHECK(r.usage.prompt_tokens == 11);
  CHECK(r.usage.completion_tokens == 7);
  CHECK(r.usage.total_tokens == 18);
  REQUIRE(r.tool_calls.size() == 2);
  CHECK(r.tool_calls[0].id == "call_a");
  CHECK(r.tool_calls[0].arguments == "{}");
  CHECK(r.tool_calls[1].name == "bash");
  CHECK(r.tool_calls[1].arguments == "{\"command\":\"ls\"}");
}

TEST_CASE("stream assembler reports an in-stream error") {
  ChatStreamAssembler a;
  absl::Status s = a.AddChunk(R"({"error":{"message":"upstream died","type":"api_error"}})");
  CHECK(s.code() == absl::StatusCode::kUnavailable);
  CHECK(s.message() == "upstream died");
}

TEST_CASE("HTTP errors are classified by status and OpenAI error code") {
  auto budget = ClassifyHttpError(
      429,
      R"({"error":{"message":"daily tokens spent","type":"insufficient_quota","code":"insufficient_quota"}})",
      3600);
  CHECK(budget.kind == ModelError::Kind::kBudget);
  CHECK(budget.message == "daily tokens spent");
  CHECK(ClassifyHttpError(
            429, R"({"error":{"message":"x","type":"requests","code":"budget_exceeded"}})", -1)
            .kind == ModelError::Kind::kBudget);
  auto rate = ClassifyHttpError(
      429, R"({"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}})",
      2);
  CHECK(rate.kind == ModelError::Kind::kRateLimited);
  CHECK(rate.retry_after_seconds == 2);
  CHECK(ClassifyHttpError(401, "{}", -1).kind == ModelError::Kind::kAuth);
  CHECK(ClassifyHttpError(403, "", -1).kind == ModelError::Kind::kAuth);
  CHECK(ClassifyHttpError(502, "bad gateway", -1).kind == ModelError::Kind::kServer);
  CHECK(ClassifyHttpError(502, "bad gateway", -1).message == "HTTP 502: bad gateway");
  CHECK(ClassifyHttpError(400, "{}", -1).kind == ModelError::Kind::kRequest);
}

RetryPolicy FastRetries() {
  RetryPolicy p;
  p.base_delay = std::chrono::milliseconds(1);
  return p;
}

TEST_CASE("model client retries a 5xx and then succeeds") {
  std::atomic<int> n{0};
  testing::HttpServer server([&n](const HttpRequest&) {
    if (n++ == 0) {
      HttpResponse r;
      r.status = 503;
      r.body = R"({"error":{"message":"try later","type":"api_error"}})";
      return r;
    }
    return testing::SseResponse(
        {testing::SseContent("ok"), testing::SseUsage(1, 1), testing::SseDone()});
  });
  ModelClient client(server.url() + "/v1/", "secret", FastRetries());
  CancelToken cancel;
  ModelOutcome out = client.Complete(boost::json::object{{"model", "m"}}, cancel);
  REQUIRE(out.ok());
  CHECK(out.attempts == 2);
  CHECK(out.reply.content == "ok");
  auto reqs = server.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].target == "/v1/chat/completions");
  CHECK(reqs[0].headers.find("Bearer secret") != std::string::npos);
}

TEST_CASE("model client gives up on rate limits after three retries") {
  testing::HttpServer server([](const HttpRequest&) {
    HttpResponse r;
    r.status = 429;
    r.headers = {{"Retry-After", "0"}};
    r.body = R"({"error":{"message":"too many","type":"requests","code":"rate_limit_exceeded"}})";
    return r;
  });
  ModelClient client(server.url() + "/v1", "k", FastRetries());
  CancelToken cancel;
  ModelOutcome out = client.Complete(boost::json::object{{"model", "m"}}, cancel);
  CHECK(out.error.kind == ModelError::Kind::kRateLimited);
  CHECK(out.attempts == 4);
  CHECK(server.requests().size() == 4);
}

TEST_CASE("model client does not retry a budget refusal") {
  testing::HttpServer server([](const HttpRequest&) {
    HttpResponse r;
    r.status = 429;
    r.body =
        R"({"error":{"message":"over budget","type":"insufficient_quota","code":"insufficient_quota"}})";
    return r;
  });
  ModelClient client(server.url() + "/v1", "k", FastRetries());
  CancelToken cancel;
  ModelOutcome out = client.Complete(boost::json::object{{"model", "m"}}, cancel);
  CHECK(out.error.kind == ModelError::Kind::kBudget);
  CHECK(server.requests().size() == 1);
}

TEST_CASE("model client reports a stream cut before DONE as a connection error") {
  testing::HttpServer server(
      [](const HttpRequest&) { return testing::SseResponse({testing::SseContent("partial")}); });
  RetryPolicy p = FastRetries();
  p.server_retries = 0;
  ModelClient client(server.url() + "/v1", "k", p);
  CancelToken cancel;
  ModelOutcome out = client.Complete(boost::json::object{{"model", "m"}}, cancel);
  CHECK(out.error.kind == ModelError::Kind::kConnection);
}

TEST_CASE("model client accepts a non-streamed JSON completion") {
  testing::HttpServer server([](const HttpRequest&) {
    HttpResponse r;
    r.body =
        R"({"model":"m2","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"bash","arguments":"{}"}}]}}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}})";
    return r;
  });
  ModelClient client(server.url() + "/v1", "k", FastRetries());
  CancelToken cancel;
  ModelOutcome out = client.Complete(boost::json::object{{"model", "m"}}, cancel);
  REQUIRE(out.ok());
  CHECK(out.reply.model == "m2");
  REQUIRE(out.reply.tool_calls.size() == 1);
  CHECK(out.reply.tool_calls[0].name == "bash");
  CHECK(out.reply.usage.total_tokens == 7);
}

TEST_CASE("a connection refused is retried and then reported") {
  int port = 0;
  {
    testing::HttpServer closed([](const HttpRequest&) { return HttpResponse{}; });
    port = closed.port();
  }
  ModelClient client("http://127.0.0.1:" + std::to_string(port) + "/v1", "k", FastRetries());
  CancelToken cancel;
  ModelOutcome out = client.Complete(boost::json::object{{"model", "m"}}, cancel);
  CHECK(out.error.kind == ModelError::Kind::kConnection);
  CHECK(out.attempts == 3);
}

}  // namespace
}  // namespace pai::harness
