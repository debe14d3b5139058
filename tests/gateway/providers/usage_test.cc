// Usage as providers report it: the parts priced apart (cache writes by TTL, reasoning) and
// counts that are not counts (negative, beyond INT64_MAX) — issue 12, items 3 and 4.
#include "gateway/providers/usage.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "gateway/providers/openai_request.h"
#include "gateway/providers/translate_anthropic.h"
#include "gateway/providers/translate_gemini.h"

namespace pai::gateway {
namespace {

boost::json::object Obj(std::string_view text) { return boost::json::parse(text).as_object(); }

TEST_CASE("OpenAI usage: cached and reasoning tokens are parts of the totals") {
  std::string body = R"({"choices":[],"usage":{"prompt_tokens":2000,"completion_tokens":500,)"
                     R"("total_tokens":2500,"prompt_tokens_details":{"cached_tokens":1000},)"
                     R"("completion_tokens_details":{"reasoning_tokens":400}}})";
  const Usage u = ExtractUsage(body);
  CHECK(u.present);
  CHECK(u.prompt_tokens == 2000);
  CHECK(u.completion_tokens == 500);  // reasoning inside, not added
  CHECK(u.cached_tokens == 1000);
  CHECK(u.reasoning_tokens == 400);
  CHECK(u.total_tokens == 2500);
}

TEST_CASE("a chat completion answer is read and checked in one parse") {
  // `index` after `message`, an unknown member at every level, two choices, a tool call.
  std::string body =
      R"({"id":"x","object":"chat.completion","extra":[{"a":[1,2.5e3,null,true]}],"choices":[)"
      R"({"message":{"role":"assistant","content":"first","tool_calls":[{"id":"call_1",)"
      R"("type":"function","function":{"name":"f","arguments":"{}"}}]},"index":1,)"
      R"("logprobs":null},{"index":0,"message":{"content":"zero\n","refusal":null}}],)"
      R"("usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10,)"
      R"("prompt_tokens_details":{"audio_tokens":0,"cached_tokens":4}}})";
  const auto read = ReadChatAnswer(body, /*want_contents=*/true);
  REQUIRE(read);
  CHECK(read->usage.present);
  CHECK(read->usage.prompt_tokens == 7);
  CHECK(read->usage.cached_tokens == 4);
  CHECK(read->usage.total_tokens == 10);
  REQUIRE(read->tool_calls.size() == 1);
  CHECK(read->tool_calls[0].choice == 1);  // the choice's index, though it came after
  CHECK(read->tool_calls[0].id == "call_1");
  CHECK(read->tool_calls[0].name == "f");
  REQUIRE(read->contents.size() == 2);
  CHECK(read->contents[0] == "zero\n");
  CHECK(read->contents[1] == "first");
  CHECK(ReadChatAnswer(body, false)->contents.empty());
  // The usage is the one ExtractUsage() reads.
  CHECK(ExtractUsage(body).cached_tokens == 4);

  // Not one JSON object, in a member the gateway reads or in one it skips: refused.
  for (std::string bad : {std::string("<html><body>busy</body></html>"), std::string(""),
                          std::string(R"({"id":"x"} {"id":"y"})"), std::string(R"({"id":"x")"),
                          std::string(R"({"choices":[],"x":tru})"),
                          std::string(R"({"usage":{"prompt_tokens":1,"odd":01}})"),
                          std::string(R"({"usage":{"prompt_tokens_details":{"x":nul}}})"),
                          std::string(R"({"choices":[{"message":{"content":"a","x":"\q"}}]})"),
                          std::string(R"({"choices":[{"message":{"tool_calls":[{"id":1e}]}}]})"),
                          std::string("[1]")}) {
    INFO(bad);
    CHECK_FALSE(ReadChatAnswer(bad, true).has_value());
  }
}

TEST_CASE("a count that is not an int64 reads as -1, never as 0 or a wrapped value") {
  std::string neg = R"({"usage":{"prompt_tokens":-1000000,"completion_tokens":-5}})";
  const Usage a = ExtractUsage(neg);
  CHECK(a.present);
  CHECK(a.prompt_tokens == -1000000);
  CHECK(a.completion_tokens == -5);
  std::string huge = R"({"usage":{"prompt_tokens":9223372036854775807,)"
                     R"("completion_tokens":9223372036854775807}})";
  const Usage b = ExtractUsage(huge);
  CHECK(b.prompt_tokens == 9223372036854775807);
  CHECK(b.total_tokens == 9223372036854775807);  // saturated, not -2
  std::string beyond =
      R"({"usage":{"prompt_tokens":18446744073709551615,"completion_tokens":1.5}})";
  const Usage c = ExtractUsage(beyond);
  CHECK(c.present);
  CHECK(c.prompt_tokens == -1);
  CHECK(c.completion_tokens == -1);
  Usage d;
  ReadAnthropicUsage(Obj(R"({"input_tokens":18446744073709551615,"output_tokens":3})"), &d, true,
                     true);
  CHECK(d.prompt_tokens == -1);
  Usage e;
  ReadGeminiUsage(Obj(R"({"promptTokenCount":-3,"candidatesTokenCount":4})"), &e);
  CHECK(e.prompt_tokens == -3);
}

TEST_CASE("Anthropic usage: cache writes by TTL and reads are inside prompt_tokens") {
  Usage u;
  ReadAnthropicUsage(Obj(R"({"input_tokens":1000,"cache_creation_input_tokens":3000,)"
                         R"("cache_read_input_tokens":5000,"cache_creation":)"
                         R"({"ephemeral_5m_input_tokens":1000,"ephemeral_1h_input_tokens":2000},)"
                         R"("output_tokens":1})"),
                     &u, true, true);
  CHECK(u.present);
  CHECK(u.prompt_tokens == 9000);
  CHECK(u.cached_tokens == 5000);
  CHECK(u.cache_creation_tokens == 3000);
  CHECK(u.cache_creation_1h_tokens == 2000);
  // A streamed message_delta restating only output_tokens keeps the input parts.
  ReadAnthropicUsage(Obj(R"({"output_tokens":42})"), &u, true, true);
  CHECK(u.completion_tokens == 42);
  CHECK(u.cache_creation_1h_tokens == 2000);
  CHECK(u.prompt_tokens == 9000);
}

TEST_CASE("a translated chat completion keeps cache writes by TTL and reasoning for billing") {
  auto chat = anthropic::MessageToChatCompletion(
      R"({"type":"message","id":"msg_1","role":"assistant","content":[],"stop_reason":"end_turn",)"
      R"("usage":{"input_tokens":1000,"cache_creation_input_tokens":3000,)"
      R"("cache_read_input_tokens":5000,"cache_creation":{"ephemeral_5m_input_tokens":1000,)"
      R"("ephemeral_1h_input_tokens":2000},"output_tokens":4}})",
      "m", 1);
  REQUIRE(chat.ok());
  const Usage u = ExtractUsage(*chat);
  CHECK(u.prompt_tokens == 9000);
  CHECK(u.cached_tokens == 5000);
  CHECK(u.cache_creation_tokens == 3000);
  CHECK(u.cache_creation_1h_tokens == 2000);
  auto gem = gemini::GenerateContentToChatCompletion(
      R"({"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},"finishReason":"STOP"}],)"
      R"("usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":3,"thoughtsTokenCount":7}})",
      "gemini-2.5-flash", 1);
  REQUIRE(gem.ok());
  const Usage g = ExtractUsage(*gem);
  CHECK(g.completion_tokens == 10);
  CHECK(g.reasoning_tokens == 7);
}

TEST_CASE("Gemini usage: thinking tokens are output, billed with the candidates") {
  Usage u;
  ReadGeminiUsage(Obj(R"({"promptTokenCount":10000,"candidatesTokenCount":300,)"
                      R"("thoughtsTokenCount":700,"cachedContentTokenCount":4000,)"
                      R"("totalTokenCount":11000})"),
                  &u);
  CHECK(u.prompt_tokens == 10000);
  CHECK(u.completion_tokens == 1000);
  CHECK(u.reasoning_tokens == 700);
  CHECK(u.cached_tokens == 4000);
}

TEST_CASE("Responses usage: cached input and reasoning output") {
  Usage u;
  ReadResponsesUsage(Obj(R"({"input_tokens":14,"input_tokens_details":{"cached_tokens":4},)"
                         R"("output_tokens":9,"output_tokens_details":{"reasoning_tokens":6}})"),
                     &u);
  CHECK(u.present);
  CHECK(u.cached_tokens == 4);
  CHECK(u.reasoning_tokens == 6);
  CHECK(u.total_tokens == 23);
}

TEST_CASE("chat n: an integer >= 1, 1 when absent or null") {
  std::string a = R"({"model":"m","messages":[{"role":"user","content":"hi"}],"n":50})";
  auto r = ParseChatCompletionRequest(a);
  REQUIRE(r.ok());
  CHECK(r->n == 50);
  std::string b = R"({"model":"m","messages":[{"role":"user","content":"hi"}],"n":null})";
  CHECK(ParseChatCompletionRequest(b)->n == 1);
  std::string c = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
  CHECK(ParseChatCompletionRequest(c)->n == 1);
  for (const char* bad : {"0", "-1", "1.5", "\"2\"", "18446744073709551615"}) {
    std::string d =
        std::string(R"({"model":"m","messages":[{"role":"user","content":"hi"}],"n":)") + bad + "}";
    auto e = ParseChatCompletionRequest(d);
    INFO(bad);
    REQUIRE_FALSE(e.ok());
    CHECK(e.status().code() == absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace pai::gateway
