#include "gateway/providers/openai_request.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "gateway/http/errors.h"

namespace pai::gateway {
namespace {

ApiError ChatError(std::string body) {
  auto r = ParseChatCompletionRequest(body);
  REQUIRE_FALSE(r.ok());
  return ToApiError(r.status());
}

TEST_CASE("a chat request yields model / stream flags and output limits") {
  std::string body =
      R"({"model":"up/gpt-4o-mini","messages":[{"role":"system","content":"x"},)"
      R"({"role":"user","content":[{"type":"text","text":"hi"}]}],"stream":true,)"
      R"("stream_options":{"include_usage":true},"max_tokens":64,"temperature":0.2})";
  auto r = ParseChatCompletionRequest(body);
  REQUIRE(r.ok());
  CHECK(r->model == "up/gpt-4o-mini");
  CHECK(r->stream);
  CHECK(r->client_include_usage);
  CHECK(r->max_tokens == 64);
  CHECK_FALSE(r->max_completion_tokens.has_value());
  CHECK(r->message_count == 2);
  CHECK(body.substr(r->model_span.offset, r->model_span.length) == "\"up/gpt-4o-mini\"");
}

TEST_CASE("malformed JSON is invalid_json") {
  for (const char* bad : {"{", "{\"model\": \"a\",", "[1,2]", "not json", ""}) {
    INFO(bad);
    const ApiError e = ChatError(bad);
    CHECK(e.http_status == 400);
    CHECK(e.code == "invalid_json");
  }
}

TEST_CASE("content after the top-level object or malformed unread members is invalid_json") {
  const std::string good =
      R"({"model":"up/m","messages":[{"role":"user","content":"hi"}],"stream":null})";
  for (const std::string& bad : std::vector<std::string>{
           good + " {}", good + "}", good + " x", good + " 1",
           R"({"model":"up/m","messages":[{"role":"user","content":"hi"}],"temperature":tru})",
           R"({"model":"up/m","messages":[{"role":"user","content":"hi"}],"meta":{"a":[1,,2]}})",
           R"({"model":"up/m","messages":[{"role":"user","content":"hi"}],"meta":{"a":01}})",
           R"({"model":"up/m","messages":[{"role":"user","content":"h\qi"}]})",
           R"({"model":"up/m","messages":[{"role":"user","name":nul,"content":"hi"}]})",
           R"({"model":"up/m","messages":[{"role":"user","content":"hi"}],"stream":nul})",
           R"({"model":"up/m","messages":[{"role":"user","content":"hi"}],"max_tokens":nulx})",
           R"({"model":"up/m","messages":[{"role":"user","content":"hi"}],"x":[[[[}]]]]})"}) {
    INFO(bad);
    const ApiError e = ChatError(bad);
    CHECK(e.http_status == 400);
    CHECK(e.code == "invalid_json");
  }
  std::string ok = good + " \n\t ";
  CHECK(ParseChatCompletionRequest(ok).ok());
  std::string deep = R"({"model":"up/m","messages":[{"role":"user","content":"hi"}],"x":)" +
                     std::string(2000, '[') + std::string(2000, ']') + "}";
  CHECK(ChatError(deep).code == "invalid_json");
  std::string embeddings = R"({"model":"up/e","input":["a","b"]} [])";
  auto e = ParseEmbeddingsRequest(embeddings);
  REQUIRE_FALSE(e.ok());
  CHECK(ToApiError(e.status()).code == "invalid_json");
}

TEST_CASE("missing or mistyped model and messages name the param") {
  CHECK(ChatError(R"({"messages":[{"role":"user","content":"x"}]})").param == "model");
  CHECK(ChatError(R"({"model":5,"messages":[{"role":"user","content":"x"}]})").param == "model");
  CHECK(ChatError(R"({"model":"","messages":[{"role":"user","content":"x"}]})").param == "model");
  CHECK(ChatError(R"({"model":"a/b"})").param == "messages");
  CHECK(ChatError(R"({"model":"a/b","messages":{}})").param == "messages");
  CHECK(ChatError(R"({"model":"a/b","messages":[]})").param == "messages");
  CHECK(ChatError(R"({"model":"a/b","messages":[42]})").param == "messages[0]");
  CHECK(ChatError(R"({"model":"a/b","messages":[{"content":"x"}]})").param == "messages[0].role");
  CHECK(ChatError(R"({"model":"a/b","messages":[{"role":"user"}],"stream":"yes"})").param ==
        "stream");
  CHECK(ChatError(R"({"model":"a/b","messages":[{"role":"user"}],"max_tokens":-1})").param ==
        "max_tokens");
}

TEST_CASE("a duplicate model member is rejected so gateway and provider cannot disagree") {
  const ApiError e =
      ChatError(R"({"model":"ok/allowed","messages":[{"role":"user"}],"model":"x/secret"})");
  CHECK(e.http_status == 400);
  CHECK(e.param == "model");
  // The same key spelled with an escape is the same member.
  CHECK(ChatError(R"({"model":"a/b","messages":[{"role":"user"}],"mod\u0065l":"c/d"})").param ==
        "model");
}

TEST_CASE("the upstream body has the bare model id and everything else byte for byte") {
  std::string body =
      R"({ "model" : "up/gpt-4o-mini" , "messages":[{"role":"user","content":"h\u00e9"}],)"
      R"("n":1, "tools":[{"type":"function","function":{"name":"f","parameters":{}}}]})";
  auto r = ParseChatCompletionRequest(body);
  REQUIRE(r.ok());
  UpstreamChatOptions opts;
  opts.model_id = "gpt-4o-mini";
  const std::string out = BuildUpstreamChatBody(body, *r, opts);
  std::string expected = body;
  expected.replace(expected.find("\"up/gpt-4o-mini\""), 16, "\"gpt-4o-mini\"");
  CHECK(out == expected);  // not a stream: no stream_options added
}

TEST_CASE("streams ask upstream for usage / keeping other stream_options") {
  std::string body = R"({"model":"up/m","messages":[{"role":"user"}],"stream":true})";
  auto r = ParseChatCompletionRequest(body);
  REQUIRE(r.ok());
  UpstreamChatOptions opts;
  opts.model_id = "m";
  auto v = boost::json::parse(BuildUpstreamChatBody(body, *r, opts));
  CHECK(v.at("stream_options").at("include_usage").as_bool());
  CHECK(v.at("model").as_string() == "m");

  std::string body2 = R"({"model":"up/m","messages":[{"role":"user"}],"stream":true,)"
                      R"("stream_options":{"include_usage":false,"include_obfuscation":false}})";
  auto r2 = ParseChatCompletionRequest(body2);
  REQUIRE(r2.ok());
  CHECK_FALSE(r2->client_include_usage);
  auto v2 = boost::json::parse(BuildUpstreamChatBody(body2, *r2, opts));
  CHECK(v2.at("stream_options").at("include_usage").as_bool());
  CHECK(v2.at("stream_options").at("include_obfuscation").as_bool() == false);
}

TEST_CASE("embeddings requests need a model and an input") {
  std::string ok = R"({"model":"up/text-embedding-3-small","input":["a","b"]})";
  auto r = ParseEmbeddingsRequest(ok);
  REQUIRE(r.ok());
  CHECK(r->model == "up/text-embedding-3-small");
  CHECK(boost::json::parse(BuildUpstreamEmbeddingsBody(ok, *r, "text-embedding-3-small"))
            .at("model")
            .as_string() == "text-embedding-3-small");
  std::string no_input = R"({"model":"up/e"})";
  auto bad = ParseEmbeddingsRequest(no_input);
  REQUIRE_FALSE(bad.ok());
  CHECK(ToApiError(bad.status()).param == "input");
}

TEST_CASE("BodyRewriter applies edits in offset order and inserts members first") {
  const std::string text = R"({"a":1,"b":2,"c":3})";
  BodyRewriter rw(text, 0);
  rw.Replace(Span{17, 1}, "30");
  rw.Replace(Span{5, 1}, "10");
  rw.InsertMember("z", "true");
  CHECK(rw.Finish() == R"({"z":true,"a":10,"b":2,"c":30})");
}

}  // namespace
}  // namespace pai::gateway

namespace pai::gateway {
namespace {

TEST_CASE("a null stream_options is replaced rather than duplicated") {
  std::string body =
      R"({"model":"up/m","messages":[{"role":"user"}],"stream":true,"stream_options":null})";
  auto r = ParseChatCompletionRequest(body);
  REQUIRE(r.ok());
  UpstreamChatOptions opts;
  opts.model_id = "m";
  const std::string out = BuildUpstreamChatBody(body, *r, opts);
  CHECK(out.find("stream_options") == out.rfind("stream_options"));  // exactly one member
  CHECK(boost::json::parse(out).at("stream_options").at("include_usage").as_bool());
}

}  // namespace
}  // namespace pai::gateway
