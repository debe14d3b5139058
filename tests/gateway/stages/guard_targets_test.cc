#include "gateway/stages/guard_targets.h"

#include <catch2/catch.hpp>

#include "gateway/providers/usage.h"

namespace pai::gateway {
namespace {

TEST_CASE("guard targets: user content and tool results of a chat request") {
  std::string body = R"({"model":"m","messages":[
    {"role":"system","content":"SYSTEM TEXT"},
    {"role":"user","content":"hello"},
    {"role":"assistant","content":null,"tool_calls":[
      {"id":"call_1","type":"function","function":{"name":"web_fetch","arguments":"{}"}},
      {"id":"call_2","type":"function","function":{"name":"calculator","arguments":"{}"}}]},
    {"role":"tool","tool_call_id":"call_2","content":"42"},
    {"role":"tool","tool_call_id":"call_1","content":[{"type":"text","text":"page text"}]},
    {"role":"user","content":[{"type":"text","text":"part one"},{"type":"image_url","image_url":{"url":"https://x/y.png"}},{"type":"text","text":"part \u0074wo"}]},
    {"role":"function","name":"legacy_fn","content":"old style"},
    {"role":"tool","tool_call_id":"unknown","content":"orphan"}
  ]})";
  std::vector<GuardText> t;
  REQUIRE(ChatRequestGuardTexts(body, &t).ok());
  REQUIRE(t.size() == 6);
  CHECK(t[0].target == GuardTarget::kPrompt);
  CHECK(t[0].param == "messages[1].content");
  CHECK(t[0].text == "hello");
  CHECK(t[1].target == GuardTarget::kToolResult);
  CHECK(t[1].tool == "calculator");  // matched by tool_call_id, not by position
  CHECK(t[1].param == "messages[3].content");
  CHECK(t[2].tool == "web_fetch");
  CHECK(t[2].text == "page text");
  CHECK(t[3].text == "part one\npart two");  // text parts joined; escapes decoded
  CHECK(t[3].param == "messages[5].content");
  CHECK(t[4].tool == "legacy_fn");
  CHECK(t[5].tool.empty());
  for (const GuardText& g : t) CHECK(g.text.find("SYSTEM TEXT") == std::string::npos);
}

TEST_CASE("guard targets: embeddings input strings") {
  std::string one = R"({"model":"m","input":"abc"})";
  std::vector<GuardText> t;
  REQUIRE(EmbeddingsGuardTexts(one, &t).ok());
  REQUIRE(t.size() == 1);
  CHECK(t[0].param == "input");
  std::string many = R"({"model":"m","input":["a",[1,2],"c"]})";
  t.clear();
  REQUIRE(EmbeddingsGuardTexts(many, &t).ok());
  REQUIRE(t.size() == 2);
  CHECK(t[1].param == "input[2]");
  CHECK(t[1].text == "c");
}

TEST_CASE("guard targets: chat completion response and streamed deltas") {
  std::string body = R"({"id":"x","object":"chat.completion","choices":[
    {"index":0,"message":{"role":"assistant","content":"first"},"finish_reason":"stop"},
    {"index":1,"message":{"role":"assistant","content":null,"tool_calls":[]},"finish_reason":"tool_calls"}]})";
  auto read = ReadChatAnswer(body, /*want_contents=*/true);
  REQUIRE(read);
  std::vector<GuardText> t = ChatContentGuardTexts(std::move(read->contents));
  REQUIRE(t.size() == 1);
  CHECK(t[0].target == GuardTarget::kResponse);
  CHECK(t[0].param == "choices[0].message.content");
  CHECK(t[0].text == "first");

  StreamContentCollector c;
  c.Add(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})");
  c.Add(R"({"choices":[{"index":0,"delta":{"content":"Hel"}}]})");
  c.Add(R"({"choices":[{"index":1,"delta":{"content":"other"}}]})");
  c.Add(R"({"choices":[{"index":0,"delta":{"content":"lo"}}]})");
  c.Add(R"({"choices":[],"usage":{"prompt_tokens":1}})");
  const auto texts = c.Texts();
  REQUIRE(texts.size() == 2);
  CHECK(texts[0].text == "Hello");
  CHECK(texts[1].param == "choices[1].message.content");
}

}  // namespace
}  // namespace pai::gateway

namespace pai::gateway {
namespace {

TEST_CASE("guard targets: escaped member names are read as the provider reads them") {
  // "m\u0065ssages" is "messages" to every JSON parser a provider uses: it must be scanned.
  std::string body =
      R"({"model":"m","m\u0065ssages":[{"role":"us\u0065r","content":"hi"},)"
      R"({"role":"assistant","tool_calls":[{"id":"c1","function":{"n\u0061me":"web_fetch"}}]},)"
      R"({"role":"tool","tool_call_id":"c1","content":"page"}]})";
  std::vector<GuardText> t;
  REQUIRE(ChatRequestGuardTexts(body, &t).ok());
  REQUIRE(t.size() == 2);
  CHECK(t[0].text == "hi");
  CHECK(t[1].tool == "web_fetch");
  std::string emb = R"({"model":"m","inp\u0075t":"abc"})";
  t.clear();
  REQUIRE(EmbeddingsGuardTexts(emb, &t).ok());
  REQUIRE(t.size() == 1);
}

TEST_CASE("guard targets: what cannot be read is an error / not an empty scan") {
  std::vector<GuardText> t;
  std::string lone = R"({"model":"m","messages":[{"role":"user","content":"a\ud800b"}]})";
  CHECK_FALSE(ChatRequestGuardTexts(lone, &t).ok());
  std::string odd = R"({"model":"m","messages":[{"role":"user","content":42}]})";
  CHECK_FALSE(ChatRequestGuardTexts(odd, &t).ok());
  std::string none = R"({"model":"m"})";
  CHECK_FALSE(ChatRequestGuardTexts(none, &t).ok());
  // Unknown part types with text are scanned too.
  std::string parts =
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"future_text","text":"x"}]}]})";
  t.clear();
  REQUIRE(ChatRequestGuardTexts(parts, &t).ok());
  REQUIRE(t.size() == 1);
  CHECK(t[0].text == "x");
}

}  // namespace
}  // namespace pai::gateway
