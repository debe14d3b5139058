// OpenAI Responses ⇄ Chat Completions mapping (translate_responses.h), checked against the
// shapes of OpenAI's API reference ("Create a model response", "The response object") and on
// through the Anthropic and Gemini request translators.
#include "gateway/providers/translate_responses.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "gateway/http/errors.h"
#include "gateway/providers/translate_anthropic.h"
#include "gateway/providers/translate_gemini.h"

namespace pai::gateway::responses {
namespace {
namespace json = boost::json;

json::object Chat(std::string_view request) {
  auto out = ResponsesToChat(json::parse(request).as_object());
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  return json::parse(*out).as_object();
}

ApiError Refused(std::string_view request) {
  auto out = ResponsesToChat(json::parse(request).as_object());
  REQUIRE_FALSE(out.ok());
  return ToApiError(out.status());
}

TEST_CASE("responses request: instructions and a string input, settings") {
  const json::object c = Chat(R"({"model":"claude/claude-sonnet-4-6","instructions":"Be brief.",
    "input":"Hello","max_output_tokens":100,"temperature":0.5,"top_p":0.9,"stream":true,
    "parallel_tool_calls":false,"store":false,"include":["reasoning.encrypted_content"],
    "safety_identifier":"u-1","reasoning":{"effort":"low"},"metadata":{"a":"b"}})");
  CHECK(c.at("messages") == json::parse(R"([{"role":"system","content":"Be brief."},
    {"role":"user","content":"Hello"}])"));
  CHECK(c.at("max_completion_tokens") == 100);
  CHECK(c.at("temperature").as_double() == 0.5);
  CHECK(c.at("top_p").as_double() == 0.9);
  CHECK(c.at("stream") == true);
  CHECK(c.at("parallel_tool_calls") == false);
  CHECK(c.at("user") == "u-1");
  CHECK(c.at("reasoning_effort") == "low");
  for (std::string_view dropped : {"store", "include", "metadata", "instructions", "input"}) {
    CHECK_FALSE(c.contains(dropped));
  }
}

TEST_CASE("responses request: message items, images, function calls and outputs") {
  const json::object c = Chat(R"({"model":"m","input":[
    {"role":"developer","content":"Use tools."},
    {"type":"message","role":"user","content":[{"type":"input_text","text":"Weather?"},
      {"type":"input_image","image_url":"data:image/png;base64,AAAA","detail":"low"}]},
    {"type":"reasoning","id":"rs_1","summary":[]},
    {"id":"msg_1","type":"message","status":"completed","role":"assistant",
      "content":[{"type":"output_text","text":"Checking.","annotations":[],"logprobs":[]}]},
    {"id":"fc_1","type":"function_call","status":"completed","call_id":"toolu_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
    {"type":"function_call","call_id":"toolu_2","name":"get_time","arguments":"{}"},
    {"type":"function_call_output","call_id":"toolu_1","output":"Sunny"},
    {"type":"function_call_output","call_id":"toolu_2","output":[{"type":"input_text","text":"12:00"}]}]})");
  CHECK(c.at("messages") == json::parse(R"([
    {"role":"developer","content":"Use tools."},
    {"role":"user","content":[{"type":"text","text":"Weather?"},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}}]},
    {"role":"assistant","content":"Checking.","tool_calls":[
      {"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
      {"id":"toolu_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},
    {"role":"tool","tool_call_id":"toolu_1","content":"Sunny"},
    {"role":"tool","tool_call_id":"toolu_2","content":"12:00"}])"));
}

TEST_CASE("responses request: function tools, tool_choice, text.format") {
  const json::object c =
      Chat(R"({"model":"m","input":"x","tools":[{"type":"function","name":"get_weather",
    "description":"Weather","parameters":{"type":"object"},"strict":true}],
    "tool_choice":{"type":"function","name":"get_weather"},
    "text":{"format":{"type":"json_schema","name":"w","schema":{"type":"object"},"strict":true}}})");
  CHECK(c.at("tools") == json::parse(R"([{"type":"function","function":{"name":"get_weather",
    "description":"Weather","parameters":{"type":"object"},"strict":true}}])"));
  CHECK(c.at("tool_choice") ==
        json::parse(R"({"type":"function","function":{"name":"get_weather"}})"));
  CHECK(c.at("response_format") == json::parse(R"({"type":"json_schema","json_schema":{"name":"w",
    "schema":{"type":"object"},"strict":true}})"));
  CHECK(Chat(R"({"model":"m","input":"x","tool_choice":"required"})").at("tool_choice") ==
        "required");
  CHECK_FALSE(Chat(R"({"model":"m","input":"x","text":{"format":{"type":"text"}}})")
                  .contains("response_format"));
}

TEST_CASE("responses request: what needs state or cannot be translated is a 400 naming the field") {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {R"({"model":"m","input":"x","previous_response_id":"resp_1"})", "previous_response_id"},
      {R"({"model":"m","input":"x","conversation":"conv_1"})", "conversation"},
      {R"({"model":"m","input":"x","background":true})", "background"},
      {R"({"model":"m","input":"x","tools":[{"type":"web_search"}]})", "tools[0].type"},
      {R"({"model":"m","input":"x","tools":[{"type":"function","name":"a"},{"type":"local_shell"}]})",
       "tools[1].type"},
      {R"({"model":"m","input":[{"type":"item_reference","id":"msg_1"}]})", "input[0].type"},
      {R"({"model":"m","input":[{"type":"computer_call_output","call_id":"c"}]})", "input[0].type"},
      {R"({"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"f"}]}]})",
       "input[0].content"},
      {R"({"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"f"}]}]})",
       "input[0].content"},
      {R"({"model":"m","input":"x","tool_choice":{"type":"allowed_tools"}})", "tool_choice"},
      {R"({"model":"m","input":"x","top_logprobs":3})", "top_logprobs"},
  };
  for (const auto& [body, param] : cases) {
    INFO(body);
    const ApiError e = Refused(body);
    CHECK(e.http_status == 400);
    CHECK(e.code == "unsupported_parameter");
    CHECK(e.param == param);
    CHECK_FALSE(e.message.empty());
  }
  CHECK(Refused(R"({"model":"m"})").param == "input");
  CHECK(Refused(R"({"model":"m","input":[{"type":"function_call","name":"f"}]})").param ==
        "input[0]");
  CHECK(Refused(R"({"model":"m","input":[{"role":"robot","content":"x"}]})").param ==
        "input[0].role");
}

TEST_CASE("responses request: on to Anthropic Messages and Gemini generateContent") {
  const std::string chat = *ResponsesToChat(json::parse(R"({"model":"claude/claude-sonnet-4-6",
    "instructions":"Be brief.","input":[{"role":"user","content":"Weather?"},
    {"type":"function_call","call_id":"toolu_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
    {"type":"function_call_output","call_id":"toolu_1","output":"Sunny"}],
    "tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}],
    "max_output_tokens":50})")
                                                .as_object());
  auto m = anthropic::ChatToMessages(chat, {"claude-sonnet-4-6", 40});
  REQUIRE(m.ok());
  const json::object a = json::parse(*m).as_object();
  CHECK(a.at("system") == "Be brief.");
  CHECK(a.at("max_tokens") == 40);  // min(max_output_tokens, the budget's cap)
  CHECK(a.at("messages").as_array()[1].at("content").as_array()[0] ==
        json::parse(
            R"({"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}})"));
  CHECK(a.at("messages").as_array()[2].at("content").as_array()[0].at("tool_use_id") == "toolu_1");
  auto g = gemini::ChatToGenerateContent(chat, {});
  REQUIRE(g.ok());
  const json::object gc = json::parse(*g).as_object();
  CHECK(gc.at("generationConfig").at("maxOutputTokens") == 50);
  const json::array& contents = gc.at("contents").as_array();
  REQUIRE(contents.size() == 3);
  CHECK(contents[2].at("parts").as_array()[0].at("functionResponse").at("name") == "get_weather");
}

TEST_CASE("responses answer: a chat.completion becomes a Response object") {
  const json::object request =
      json::parse(R"({"model":"claude/claude-tools","instructions":"Be brief.",
    "input":"x","tools":[{"type":"function","name":"get_weather"}],"temperature":0.2})")
          .as_object();
  auto r =
      ChatCompletionToResponse(R"({"id":"msg_01AbC","object":"chat.completion","created":1700000000,
    "model":"claude-tools","choices":[{"index":0,"message":{"role":"assistant","content":"Checking.",
    "tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
    "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":35,"completion_tokens":15,"total_tokens":50,
    "prompt_tokens_details":{"cached_tokens":20},"completion_tokens_details":{"reasoning_tokens":4}}})",
                               request);
  REQUIRE(r.ok());
  const json::object o = json::parse(*r).as_object();
  CHECK(o.at("id") == "resp_msg01AbC");
  CHECK(o.at("object") == "response");
  CHECK(o.at("created_at") == 1700000000);
  CHECK(o.at("status") == "completed");
  CHECK(o.at("model") == "claude-tools");
  CHECK(o.at("instructions") == "Be brief.");
  CHECK(o.at("temperature").as_double() == 0.2);
  CHECK(o.at("store") == false);
  CHECK(o.at("previous_response_id").is_null());
  CHECK(o.at("output") == json::parse(R"([
    {"id":"msg_msg01AbC_0","type":"message","status":"completed","role":"assistant",
     "content":[{"type":"output_text","text":"Checking.","annotations":[],"logprobs":[]}]},
    {"id":"fc_msg01AbC_1","type":"function_call","status":"completed","call_id":"toolu_1",
     "name":"get_weather","arguments":"{\"city\":\"Paris\"}"}])"));
  CHECK(o.at("usage") ==
        json::parse(R"({"input_tokens":35,"input_tokens_details":{"cached_tokens":20},
    "output_tokens":15,"output_tokens_details":{"reasoning_tokens":4},"total_tokens":50})"));
}

TEST_CASE("responses answer: length → incomplete max_output_tokens, content_filter → incomplete") {
  const json::object request = json::parse(R"({"model":"m","input":"x"})").as_object();
  const auto status = [&](std::string_view finish) {
    auto r = ChatCompletionToResponse(
        std::string(
            R"({"id":"c","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant",
          "content":"Hi"},"finish_reason":")") +
            std::string(finish) + "\"}]}",
        request);
    REQUIRE(r.ok());
    const json::object o = json::parse(*r).as_object();
    return json::serialize(
        json::object{{"status", o.at("status")}, {"details", o.at("incomplete_details")}});
  };
  CHECK(status("length") == R"({"status":"incomplete","details":{"reason":"max_output_tokens"}})");
  CHECK(status("content_filter") ==
        R"({"status":"incomplete","details":{"reason":"content_filter"}})");
  CHECK(status("stop") == R"({"status":"completed","details":null})");
  CHECK_FALSE(ChatCompletionToResponse("{\"error\":1}", request).ok());
  CHECK_FALSE(ChatCompletionToResponse("not json", request).ok());
}

}  // namespace
}  // namespace pai::gateway::responses
