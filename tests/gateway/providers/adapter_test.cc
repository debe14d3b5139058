// The provider adapters: which routes each kind serves, its credential header, the request it
// builds (path, body, its own headers) for each route, its errors mapped into the client's API,
// its token count, and its tokenizer.
#include "gateway/providers/adapter.h"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <string>

#include "gateway/pipeline/pipeline.h"
#include "gateway/providers/native_request.h"
#include "gateway/providers/openai_request.h"

namespace pai::gateway {
namespace {

using config::ProviderKind;

// Call: a request context on one model of one provider kind.
struct Call {
  explicit Call(ProviderKind kind, std::string model_id = "m-1") {
    provider.spec.name = "p";
    provider.spec.kind = kind;
    provider.adapter = &AdapterFor(kind);
    route.ref = "p/" + model_id;
    route.model_id = std::move(model_id);
    route.provider = &provider;
    ctx.model = &route;
  }
  void Chat(std::string b) {
    body = std::move(b);
    ctx.route = Route::kChatCompletions;
    ctx.body = &body;
    auto parsed = ParseChatCompletionRequest(body);
    REQUIRE(parsed.ok());
    ctx.chat = std::move(*parsed);
    ctx.stream = ctx.chat->stream;
  }
  void Messages(std::string b, Route r = Route::kMessages) {
    body = std::move(b);
    ctx.route = r;
    ctx.body = &body;
    auto parsed = ParseAnthropicMessagesRequest(body, r == Route::kMessages);
    REQUIRE(parsed.ok());
    ctx.native = std::move(*parsed);
  }
  void Reserve(int64_t output_limit, bool impose) {
    budget::Reservation res;
    res.output_limit = output_limit;
    res.impose_output_limit = impose;
    ctx.reservation = res;
  }
  const ProviderAdapter& adapter() const { return *provider.adapter; }
  ProviderRequest Build() const {
    auto r = adapter().BuildRequest(ctx);
    REQUIRE(r.ok());
    return std::move(*r);
  }

  ProviderRuntime provider;
  ModelRoute route;
  std::string body;
  RequestContext ctx;
};

boost::json::object Json(std::string_view text) { return boost::json::parse(text).as_object(); }

std::string Header(const ProviderRequest& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "<none>";
}

constexpr std::string_view kChat =
    R"({"model":"p/m-1","messages":[{"role":"user","content":"hi"}]})";

TEST_CASE("adapters serve the routes of their provider's API") {
  struct Row {
    ProviderKind kind;
    bool chat, embeddings, messages, count, responses;
  };
  for (const Row& r : {Row{ProviderKind::kOpenAI, true, true, false, false, true},
                       Row{ProviderKind::kOpenRouter, true, true, false, false, false},
                       Row{ProviderKind::kAnthropic, true, false, true, true, true},
                       Row{ProviderKind::kGemini, true, false, false, false, true},
                       Row{ProviderKind::kMock, true, true, false, false, false}}) {
    const ProviderAdapter& a = AdapterFor(r.kind);
    INFO(config::ProviderKindName(r.kind));
    CHECK(a.kind() == r.kind);
    CHECK(a.Serves(Route::kChatCompletions) == r.chat);
    CHECK(a.Serves(Route::kEmbeddings) == r.embeddings);
    CHECK(a.Serves(Route::kMessages) == r.messages);
    CHECK(a.Serves(Route::kCountTokens) == r.count);
    CHECK(a.Serves(Route::kResponses) == r.responses);
    CHECK(a.in_process() == (r.kind == ProviderKind::kMock));
    CHECK(a.CountsTokens() ==
          (r.kind == ProviderKind::kAnthropic || r.kind == ProviderKind::kGemini));
  }
}

TEST_CASE("adapters carry the key in the header their provider expects") {
  using P = std::pair<std::string, std::string>;
  CHECK(AdapterFor(ProviderKind::kOpenAI).Credential("sk-1") == P{"authorization", "Bearer sk-1"});
  CHECK(AdapterFor(ProviderKind::kOpenRouter).Credential("k") == P{"authorization", "Bearer k"});
  CHECK(AdapterFor(ProviderKind::kAnthropic).Credential("k") == P{"x-api-key", "k"});
  CHECK(AdapterFor(ProviderKind::kGemini).Credential("k") == P{"x-goog-api-key", "k"});
}

TEST_CASE("openai and openrouter get the client's chat body with the bare model id") {
  Call openai(ProviderKind::kOpenAI, "gpt-4o");
  openai.Chat(std::string(kChat));
  openai.Reserve(100, /*impose=*/true);
  ProviderRequest r = openai.Build();
  CHECK(r.path == "/chat/completions");
  CHECK(r.headers.empty());
  boost::json::object body = Json(r.body);
  CHECK(body["model"] == "gpt-4o");
  CHECK(body["max_completion_tokens"] == 100);  // OpenAI's current name for the limit

  Call router(ProviderKind::kOpenRouter, "openai/gpt-4o");
  router.Chat(std::string(kChat));
  router.Reserve(100, /*impose=*/true);
  r = router.Build();
  CHECK(Json(r.body)["max_tokens"] == 100);  // what OpenAI-compatible servers know
  CHECK(Header(r, "HTTP-Referer") == "https://pai.io");
  CHECK(Header(r, "X-Title") == "pai-gateway");
  CHECK(!router.adapter().Translates(router.ctx));
  CHECK(router.adapter().MakeStreamTranslator(router.ctx, 0) == nullptr);
}

TEST_CASE("anthropic translates chat into Messages with the default API version") {
  Call c(ProviderKind::kAnthropic, "claude-x");
  c.Chat(std::string(kChat));
  c.Reserve(64, /*impose=*/false);
  c.ctx.anthropic_version = "2099-01-01";  // a client header on the chat route is not used
  REQUIRE(c.adapter().Translates(c.ctx));
  ProviderRequest r = c.Build();
  CHECK(r.path == "/messages");
  CHECK(Header(r, "anthropic-version") == "2023-06-01");
  CHECK(Header(r, "anthropic-beta") == "<none>");
  boost::json::object body = Json(r.body);
  CHECK(body["model"] == "claude-x");
  CHECK(body["max_tokens"] == 64);  // a translation always carries the reserved output
  CHECK(c.adapter().MakeStreamTranslator(c.ctx, 0) != nullptr);
}

TEST_CASE("anthropic passes Messages through with the client's version and betas") {
  Call c(ProviderKind::kAnthropic, "claude-x");
  c.Messages(
      R"({"model":"p/claude-x","max_tokens":500,"messages":[{"role":"user","content":"hi"}]})");
  c.Reserve(200, /*impose=*/true);
  c.ctx.anthropic_version = "2023-06-01";
  c.ctx.anthropic_beta = "a,b";
  CHECK(!c.adapter().Translates(c.ctx));
  ProviderRequest r = c.Build();
  CHECK(r.path == "/messages");
  CHECK(Header(r, "anthropic-beta") == "a,b");
  boost::json::object body = Json(r.body);
  CHECK(body["model"] == "claude-x");
  CHECK(body["max_tokens"] == 200);  // min(client's 500, the budget's 200)
  CHECK(c.adapter().MakeStreamTranslator(c.ctx, 0) == nullptr);  // relayed as it is

  Call count(ProviderKind::kAnthropic, "claude-x");
  count.Messages(R"({"model":"p/claude-x","messages":[{"role":"user","content":"hi"}]})",
                 Route::kCountTokens);
  r = count.Build();
  CHECK(r.path == "/messages/count_tokens");
  CHECK(!Json(r.body).contains("max_tokens"));
}

TEST_CASE("gemini translates chat into generateContent on the model's path") {
  Call c(ProviderKind::kGemini, "gemini-x");
  c.Chat(R"({"model":"p/gemini-x","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  ProviderRequest r = c.Build();
  CHECK(r.path == "/models/gemini-x:streamGenerateContent?alt=sse");
  CHECK(Json(r.body).contains("contents"));
  CHECK(c.adapter().MakeStreamTranslator(c.ctx, 0) != nullptr);
}

TEST_CASE("the responses api refuses a budget that leaves under 16 output tokens") {
  Call c(ProviderKind::kOpenAI, "gpt-4o");
  c.body = R"({"model":"p/gpt-4o","input":"hi"})";
  c.ctx.route = Route::kResponses;
  c.ctx.body = &c.body;
  auto parsed = ParseResponsesRequest(c.body);
  REQUIRE(parsed.ok());
  c.ctx.native = std::move(*parsed);
  c.Reserve(15, /*impose=*/true);
  auto r = c.adapter().BuildRequest(c.ctx);
  REQUIRE(!r.ok());
  CHECK(ToApiError(r.status()).http_status == 429);
  c.Reserve(16, /*impose=*/true);
  ProviderRequest ok = c.Build();
  CHECK(ok.path == "/responses");
  CHECK(Json(ok.body)["max_output_tokens"] == 16);
}

TEST_CASE("provider errors reach the client in its API") {
  Call gemini(ProviderKind::kGemini);
  gemini.Chat(std::string(kChat));
  const std::string quota =
      R"({"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED",)"
      R"("details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo",)"
      R"("retryDelay":"7s"}]}})";
  ProviderError e = gemini.adapter().MapError(gemini.ctx, 429, quota);
  CHECK(e.status == 429);
  CHECK(e.retry_after == "7");
  CHECK(Json(e.body)["error"].as_object().contains("message"));

  Call anthropic(ProviderKind::kAnthropic);
  anthropic.Chat(std::string(kChat));
  e = anthropic.adapter().MapError(
      anthropic.ctx, 529,
      R"({"type":"error","error":{"type":"overloaded_error","message":"busy"}})");
  CHECK(Json(e.body)["error"].as_object()["message"] == "busy");  // OpenAI's shape
  CHECK(!Json(e.body).contains("type"));

  Call native(ProviderKind::kAnthropic);
  native.Messages(
      R"({"model":"p/m-1","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})");
  const std::string own =
      R"({"type":"error","error":{"type":"overloaded_error","message":"busy"}})";
  e = native.adapter().MapError(native.ctx, 529, own);
  CHECK(e.body == own);  // the Messages route gets Anthropic's own error
  e = native.adapter().MapError(native.ctx, 502, "<html>bad gateway</html>");
  CHECK(e.status == 502);
  CHECK(Json(e.body)["type"] == "error");  // a generic error, in Anthropic's shape

  Call openai(ProviderKind::kOpenAI);
  openai.Chat(std::string(kChat));
  e = openai.adapter().MapError(openai.ctx, 503, "");
  CHECK(Json(e.body)["error"].as_object()["code"] == "upstream_error");
}

TEST_CASE("token counts are asked and read in each provider's API") {
  Call anthropic(ProviderKind::kAnthropic, "claude-x");
  anthropic.Chat(std::string(kChat));
  auto count = anthropic.adapter().BuildCount(anthropic.ctx, anthropic.route);
  REQUIRE(count.ok());
  CHECK(count->path == "/messages/count_tokens");
  boost::json::object body = Json(count->body);
  CHECK(body["model"] == "claude-x");
  CHECK(!body.contains("max_tokens"));  // count_tokens takes the prompt members only
  CHECK(*anthropic.adapter().ReadCount(R"({"input_tokens":42})") == 42);
  CHECK(!anthropic.adapter().ReadCount(R"({"input_tokens":-1})").ok());

  Call gemini(ProviderKind::kGemini, "gemini-x");
  gemini.Chat(std::string(kChat));
  count = gemini.adapter().BuildCount(gemini.ctx, gemini.route);
  REQUIRE(count.ok());
  CHECK(count->path == "/models/gemini-x:countTokens");
  CHECK(Json(count->body)["generateContentRequest"].as_object()["model"] == "models/gemini-x");
  CHECK(*gemini.adapter().ReadCount(R"({"totalTokens":9})") == 9);
  CHECK(!gemini.adapter().ReadCount("not json").ok());

  Call openai(ProviderKind::kOpenAI);
  openai.Chat(std::string(kChat));
  CHECK(openai.adapter().BuildCount(openai.ctx, openai.route).status().code() ==
        absl::StatusCode::kUnimplemented);
}

TEST_CASE("a translated answer comes back as a chat completion") {
  Call c(ProviderKind::kAnthropic, "claude-x");
  c.Chat(std::string(kChat));
  auto answer = c.adapter().ReadAnswer(
      c.ctx, R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-x",)"
             R"("content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn",)"
             R"("usage":{"input_tokens":3,"output_tokens":1}})");
  REQUIRE(answer.ok());
  CHECK(Json(answer->body)["object"] == "chat.completion");
  auto bad = c.adapter().ReadAnswer(c.ctx, R"({"unexpected":true})");
  REQUIRE(!bad.ok());
  CHECK(ToApiError(bad.status()).http_status == 502);

  Call openai(ProviderKind::kOpenAI);
  openai.Chat(std::string(kChat));
  answer = openai.adapter().ReadAnswer(openai.ctx, R"({"as":"is"})");
  CHECK(answer->body == R"({"as":"is"})");
}

}  // namespace
}  // namespace pai::gateway
