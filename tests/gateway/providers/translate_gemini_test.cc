// OpenAI chat ⇄ Gemini generateContent mapping tables, checked against the wire examples of the
// Gemini API reference ("Generating content", "Function calling", streamGenerateContent with
// alt=sse, error format).
#include "gateway/providers/translate_gemini.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

namespace pai::gateway::gemini {
namespace {
namespace json = boost::json;

json::object Translate(const std::string& chat, RequestOptions opts = {}) {
  auto out = ChatToGenerateContent(chat, opts);
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  return json::parse(*out).as_object();
}

TEST_CASE("gemini request: path and key placement") {
  CHECK(Path("gemini-2.5-flash", false) == "/models/gemini-2.5-flash:generateContent");
  CHECK(Path("gemini-2.5-flash", true) == "/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
}

TEST_CASE("gemini request: systemInstruction / contents / generationConfig") {
  const json::object g = Translate(R"({"model":"google/gemini-2.5-flash","messages":[
    {"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},
    {"role":"assistant","content":"Hello!"},{"role":"user","content":[{"type":"text","text":"Weather?"},
     {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}}]}],
    "temperature":0.3,"top_p":0.8,"stop":["END"],"max_tokens":900,"seed":1,
    "response_format":{"type":"json_object"}})",
                                   {500});
  CHECK(g.at("systemInstruction") == json::parse(R"({"parts":[{"text":"Be brief."}]})"));
  const json::array& c = g.at("contents").as_array();
  REQUIRE(c.size() == 3);
  CHECK(c[0] == json::parse(R"({"role":"user","parts":[{"text":"Hi"}]})"));
  CHECK(c[1] == json::parse(R"({"role":"model","parts":[{"text":"Hello!"}]})"));
  CHECK(c[2].at("parts").as_array()[1] ==
        json::parse(R"({"inlineData":{"mimeType":"image/png","data":"iVBOR"}})"));
  const json::object& gen = g.at("generationConfig").as_object();
  CHECK(gen.at("maxOutputTokens") == 500);  // the budget's cap wins
  CHECK(gen.at("temperature").as_double() == Approx(0.3));
  CHECK(gen.at("topP").as_double() == Approx(0.8));
  CHECK(gen.at("stopSequences") == json::array{"END"});
  CHECK(gen.at("responseMimeType") == "application/json");
  CHECK(gen.at("seed") == 1);
}

TEST_CASE("gemini request: tools / function calls and responses by name") {
  const json::object g = Translate(R"({"messages":[
    {"role":"user","content":"Weather in Paris?"},
    {"role":"assistant","content":null,"tool_calls":[{"id":"call_9","type":"function",
      "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
    {"role":"tool","tool_call_id":"call_9","content":"18C"}],
    "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather",
      "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
    "tool_choice":{"type":"function","function":{"name":"get_weather"}}})");
  const json::array& c = g.at("contents").as_array();
  REQUIRE(c.size() == 3);
  CHECK(c[1].at("parts").as_array()[0] ==
        json::parse(
            R"({"functionCall":{"name":"get_weather","args":{"city":"Paris"},"id":"call_9"}})"));
  CHECK(
      c[2] ==
      json::parse(
          R"({"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"content":"18C"},"id":"call_9"}}]})"));
  CHECK(
      g.at("tools") ==
      json::parse(
          R"([{"functionDeclarations":[{"name":"get_weather","description":"Weather","parametersJsonSchema":{"type":"object","properties":{"city":{"type":"string"}}}}]}])"));
  CHECK(g.at("toolConfig") ==
        json::parse(
            R"({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}})"));
  auto r = ChatToGenerateContent(
      R"({"messages":[{"role":"tool","tool_call_id":"x","content":"y"}]})", {});
  REQUIRE_FALSE(r.ok());
  CHECK(ToApiError(r.status()).param == "messages[0].tool_call_id");
}

TEST_CASE("gemini response: the reference text answer and a function call") {
  const std::string text =
      R"({"candidates":[{"content":{"parts":[{"text":"AI works by learning patterns."}],
    "role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":8,
    "candidatesTokenCount":215,"totalTokenCount":223},"modelVersion":"gemini-2.0-flash","responseId":"r1"})";
  auto out = GenerateContentToChatCompletion(text, "google/gemini-2.5-flash", 1);
  REQUIRE(out.ok());
  json::object c = json::parse(*out).as_object();
  CHECK(c.at("choices").as_array()[0].at("message").at("content") ==
        "AI works by learning patterns.");
  CHECK(c.at("choices").as_array()[0].at("finish_reason") == "stop");
  CHECK(c.at("usage").at("prompt_tokens") == 8);
  CHECK(c.at("usage").at("completion_tokens") == 215);
  CHECK(c.at("id") == "r1");

  const std::string call =
      R"({"candidates":[{"content":{"parts":[{"functionCall":{"name":"find_theaters",
    "args":{"location":"Mountain View, CA","movie":"Barbie"}}}],"role":"model"},"finishReason":"STOP","index":0}],
    "usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5,"thoughtsTokenCount":7,"cachedContentTokenCount":4}})";
  out = GenerateContentToChatCompletion(call, "m", 1);
  REQUIRE(out.ok());
  c = json::parse(*out).as_object();
  const json::value& msg = c.at("choices").as_array()[0].at("message");
  CHECK(msg.at("content").is_null());
  const json::value& tc = msg.at("tool_calls").as_array()[0];
  CHECK(tc.at("id") == "call_0_0");
  CHECK(tc.at("function").at("name") == "find_theaters");
  CHECK(json::parse(tc.at("function").at("arguments").as_string()) ==
        json::parse(R"({"location":"Mountain View, CA","movie":"Barbie"})"));
  CHECK(c.at("choices").as_array()[0].at("finish_reason") == "tool_calls");
  CHECK(c.at("usage").at("completion_tokens") == 12);  // thoughts are billed as output
  CHECK(c.at("usage").at("prompt_tokens_details").at("cached_tokens") == 4);
  for (auto [reason, finish] : {std::pair{"MAX_TOKENS", "length"},
                                {"SAFETY", "content_filter"},
                                {"RECITATION", "content_filter"},
                                {"OTHER", "stop"}}) {
    auto r = GenerateContentToChatCompletion(
        std::string(R"({"candidates":[{"content":{"parts":[]},"finishReason":")") + reason +
            R"("}]})",
        "m", 1);
    REQUIRE(r.ok());
    CHECK(json::parse(*r).at("choices").as_array()[0].at("finish_reason") == finish);
  }
}

TEST_CASE("gemini stream: alt=sse chunks become chat.completion.chunk events") {
  const std::string stream =
      "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The\"}],\"role\": "
      "\"model\"}}],"
      "\"usageMetadata\": {\"promptTokenCount\": 9,\"totalTokenCount\": 9},\"modelVersion\": "
      "\"gemini-2.0-flash\",\"responseId\": \"r2\"}\r\n\r\n"
      "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" sky is blue.\"}],\"role\": "
      "\"model\"},\"finishReason\": \"STOP\"}],\"usageMetadata\": {\"promptTokenCount\": 9,"
      "\"candidatesTokenCount\": 6,\"totalTokenCount\": 15},\"responseId\": \"r2\"}\r\n\r\n";
  StreamTranslator t("google/gemini-2.5-flash", /*include_usage=*/true, 1);
  SseParser parser;
  std::string out;
  parser.Feed(stream, [&](const SseEvent& ev) { t.Process(ev, out); });
  t.Finish(out);
  std::vector<json::object> chunks;
  SseParser p2;
  p2.Feed(out, [&](const SseEvent& ev) {
    if (ev.data != "[DONE]") chunks.push_back(json::parse(ev.data).as_object());
  });
  INFO(out);
  REQUIRE(chunks.size() == 5);  // role, "The", " sky is blue.", finish, usage
  CHECK(chunks[1].at("choices").as_array()[0].at("delta").at("content") == "The");
  CHECK(chunks[3].at("choices").as_array()[0].at("finish_reason") == "stop");
  CHECK(chunks[4].at("usage").at("completion_tokens") == 6);
  CHECK(out.substr(out.size() - 14) == "data: [DONE]\n\n");
  CHECK(t.usage().prompt_tokens == 9);
}

TEST_CASE(
    "gemini: thought signatures round-trip in tool call ids / blocked prompts / stream errors") {
  const std::string call =
      R"({"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}},
    "thoughtSignature":"c2lnbmF0dXJl"}],"role":"model"},"finishReason":"STOP"}]})";
  auto out = GenerateContentToChatCompletion(call, "m", 1);
  REQUIRE(out.ok());
  const std::string id(json::parse(*out)
                           .at("choices")
                           .as_array()[0]
                           .at("message")
                           .at("tool_calls")
                           .as_array()[0]
                           .at("id")
                           .as_string());
  CHECK(id == "call_0_0#sig=c2lnbmF0dXJl");
  const json::object back =
      Translate(std::string(R"({"messages":[{"role":"user","content":"go"},
    {"role":"assistant","tool_calls":[{"id":")") +
                id + R"(","type":"function","function":{"name":"f","arguments":"{}"}}]},
    {"role":"tool","tool_call_id":")" +
                id + R"(","content":"done"}]})");
  const json::array& c = back.at("contents").as_array();
  CHECK(
      c[1].at("parts").as_array()[0] ==
      json::parse(
          R"({"functionCall":{"name":"f","args":{},"id":"call_0_0"},"thoughtSignature":"c2lnbmF0dXJl"})"));
  CHECK(c[2].at("parts").as_array()[0].at("functionResponse").at("id") == "call_0_0");

  auto blocked =
      GenerateContentToChatCompletion(R"({"promptFeedback":{"blockReason":"SAFETY"}})", "m", 1);
  REQUIRE(blocked.ok());
  CHECK(json::parse(*blocked).at("choices").as_array()[0].at("finish_reason") == "content_filter");

  StreamTranslator t("m", false, 1);
  SseParser p;
  std::string o;
  p.Feed(
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\r\n\r\n"
      "data: "
      "{\"error\":{\"code\":503,\"message\":\"overloaded\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n",
      [&](const SseEvent& ev) { t.Process(ev, o); });
  CHECK(t.failed());
  CHECK_FALSE(t.finished());
  CHECK(t.error().http_status == 503);
  auto r = ChatToGenerateContent(
      R"({"messages":[{"role":"user","content":"x"}],"n":2,"stream":true})", {});
  REQUIRE_FALSE(r.ok());
  CHECK(ToApiError(r.status()).param == "n");
}

TEST_CASE("gemini errors: the mapping table") {
  struct Row {
    int status;
    const char* google;
    int http;
    const char* code;
  };
  const Row rows[] = {{400, "INVALID_ARGUMENT", 400, "INVALID_ARGUMENT"},
                      {403, "PERMISSION_DENIED", 502, "upstream_auth_error"},
                      {404, "NOT_FOUND", 404, "NOT_FOUND"},
                      {429, "RESOURCE_EXHAUSTED", 429, "rate_limit_exceeded"},
                      {500, "INTERNAL", 502, "INTERNAL"},
                      {503, "UNAVAILABLE", 503, "upstream_overloaded"},
                      {504, "DEADLINE_EXCEEDED", 504, "upstream_timeout"}};
  for (const Row& r : rows) {
    INFO(r.status);
    const ApiError e =
        ErrorToOpenAI(r.status, std::string(R"({"error":{"code":)") + std::to_string(r.status) +
                                    R"(,"message":"m","status":")" + r.google + R"("}})");
    CHECK(e.http_status == r.http);
    CHECK(e.code == r.code);
  }  // Google answers an invalid key with 400 and reason API_KEY_INVALID: the gateway's
     // credentials.
  const ApiError bad = ErrorToOpenAI(
      400, R"({"error":{"code":400,"message":"API key not valid.",)"
           R"("status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}})");
  CHECK(bad.http_status == 502);
  CHECK(bad.code == "upstream_auth_error");
}

}  // namespace
}  // namespace pai::gateway::gemini
