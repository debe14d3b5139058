// OpenAI chat ⇄ Anthropic Messages mapping tables, checked against the wire examples of
// Anthropic's API reference ("Messages", "Streaming Messages", "Errors").
#include "gateway/providers/translate_anthropic.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "gateway/relay/sse.h"

namespace pai::gateway::anthropic {
namespace {
namespace json = boost::json;

json::object Translate(const std::string& chat, RequestOptions opts = {"claude-sonnet-4-6", {}}) {
  auto out = ChatToMessages(chat, opts);
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  return json::parse(*out).as_object();
}

TEST_CASE("anthropic request: system / turns / max_tokens default / sampling and stop") {
  const json::object m = Translate(R"({"model":"anthropic/claude-sonnet-4-6","messages":[
    {"role":"system","content":"Be brief."},{"role":"developer","content":"Answer in English."},
    {"role":"user","content":"Hello"},{"role":"user","content":[{"type":"text","text":"again"}]}],
    "temperature":1.5,"top_p":0.9,"stop":"END","user":"u-1","seed":7,"frequency_penalty":0.5})");
  CHECK(m.at("model") == "claude-sonnet-4-6");
  CHECK(m.at("system") == "Be brief.\n\nAnswer in English.");
  const json::array& msgs = m.at("messages").as_array();
  REQUIRE(msgs.size() == 1);  // consecutive user turns merged
  CHECK(msgs[0].at("role") == "user");
  CHECK(msgs[0].at("content").as_array().size() == 2);
  CHECK(m.at("max_tokens") == kDefaultMaxTokens);
  CHECK(m.at("temperature").as_double() == 1.0);  // clamped to Anthropic's range
  CHECK_FALSE(m.contains("top_p"));  // recent Claude models refuse temperature with top_p
  CHECK(Translate(R"({"messages":[{"role":"user","content":"x"}],"top_p":0.9})")
            .at("top_p")
            .as_double() == Approx(0.9));
  CHECK(m.at("stop_sequences") == json::array{"END"});
  CHECK(m.at("metadata").at("user_id") == "u-1");
  CHECK_FALSE(m.contains("seed"));
  CHECK_FALSE(m.contains("frequency_penalty"));
}

TEST_CASE("anthropic request: the output limit is the client's capped by the budget's") {
  CHECK(Translate(R"({"messages":[{"role":"user","content":"x"}],"max_completion_tokens":500})",
                  {"m", 200})
            .at("max_tokens") == 200);
  CHECK(Translate(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":100})", {"m", 200})
            .at("max_tokens") == 100);
  CHECK(Translate(R"({"messages":[{"role":"user","content":"x"}]})", {"m", 300}).at("max_tokens") ==
        300);
}

TEST_CASE("anthropic request: images / tools / tool calls and tool results") {
  const json::object m = Translate(R"({"messages":[
    {"role":"user","content":[{"type":"text","text":"What is this?"},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
      {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]},
    {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
      "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
    {"role":"tool","tool_call_id":"call_1","content":"18C, sunny"}],
    "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather",
      "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
    "tool_choice":"required","parallel_tool_calls":false})");
  const json::array& msgs = m.at("messages").as_array();
  REQUIRE(msgs.size() == 3);
  const json::array& user = msgs[0].at("content").as_array();
  CHECK(user[1].at("source") ==
        json::parse(R"({"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="})"));
  CHECK(user[2].at("source") ==
        json::parse(R"({"type":"url","url":"https://example.com/cat.jpg"})"));
  const json::value& use = msgs[1].at("content").as_array()[0];
  CHECK(use ==
        json::parse(
            R"({"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}})"));
  CHECK(msgs[2].at("role") == "user");
  CHECK(msgs[2].at("content").as_array()[0] ==
        json::parse(R"({"type":"tool_result","tool_use_id":"call_1","content":"18C, sunny"})"));
  CHECK(
      m.at("tools").as_array()[0] ==
      json::parse(
          R"({"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}})"));
  CHECK(m.at("tool_choice") == json::parse(R"({"type":"any","disable_parallel_tool_use":true})"));
  CHECK(
      Translate(
          R"({"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function","function":{"name":"f"}}})")
          .at("tool_choice") == json::parse(R"({"type":"tool","name":"f"})"));
}

TEST_CASE("anthropic request: what cannot be translated is a 400 naming the field") {
  auto param_of = [](const std::string& body) {
    auto r = ChatToMessages(body, {"m", {}});
    REQUIRE_FALSE(r.ok());
    return ToApiError(r.status());
  };
  CHECK(param_of(R"({"messages":[{"role":"user","content":"x"}],"n":2})").param == "n");
  CHECK(param_of(R"({"messages":[{"role":"user","content":"x"}],"logprobs":true})").param ==
        "logprobs");
  CHECK(param_of(
            R"({"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]})")
            .param == "messages[0].content");
  const ApiError e = param_of(
      R"({"messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"not json"}}]}]})");
  CHECK(e.http_status == 400);
  CHECK(e.param == "messages[0].tool_calls");
}

TEST_CASE("anthropic response: the reference Message example becomes a chat.completion") {
  // Anthropic API reference, "Messages" — example response.
  const std::string message = R"({"content":[{"text":"Hi! My name is Claude.","type":"text"}],
    "id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","model":"claude-3-7-sonnet-20250219","role":"assistant",
    "stop_reason":"end_turn","stop_sequence":null,"type":"message",
    "usage":{"input_tokens":2095,"output_tokens":503}})";
  auto out = MessageToChatCompletion(message, "anthropic/claude-sonnet-4-6", 1700000000);
  REQUIRE(out.ok());
  const json::object c = json::parse(*out).as_object();
  CHECK(c.at("object") == "chat.completion");
  CHECK(c.at("model") == "anthropic/claude-sonnet-4-6");
  CHECK(c.at("choices").as_array()[0].at("message").at("content") == "Hi! My name is Claude.");
  CHECK(c.at("choices").as_array()[0].at("finish_reason") == "stop");
  CHECK(c.at("usage").at("prompt_tokens") == 2095);
  CHECK(c.at("usage").at("completion_tokens") == 503);
  CHECK(c.at("usage").at("total_tokens") == 2598);
}

TEST_CASE("anthropic response: tool_use blocks / stop reasons / cache usage") {
  const std::string message = R"({"type":"message","id":"msg_1","role":"assistant",
    "content":[{"type":"text","text":"Let me check."},{"type":"tool_use","id":"toolu_01A",
    "name":"get_weather","input":{"location":"San Francisco, CA"}}],"stop_reason":"tool_use",
    "usage":{"input_tokens":10,"cache_read_input_tokens":100,"cache_creation_input_tokens":5,
    "output_tokens":20}})";
  auto out = MessageToChatCompletion(message, "m", 1);
  REQUIRE(out.ok());
  const json::object c = json::parse(*out).as_object();
  const json::value& msg = c.at("choices").as_array()[0].at("message");
  CHECK(
      msg.at("tool_calls").as_array()[0] ==
      json::parse(
          R"({"id":"toolu_01A","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"San Francisco, CA\"}"}})"));
  CHECK(c.at("choices").as_array()[0].at("finish_reason") == "tool_calls");
  CHECK(c.at("usage").at("prompt_tokens") == 115);
  CHECK(c.at("usage").at("prompt_tokens_details").at("cached_tokens") == 100);
  for (auto [reason, finish] : {std::pair{"max_tokens", "length"},
                                {"stop_sequence", "stop"},
                                {"refusal", "content_filter"}}) {
    auto r = MessageToChatCompletion(
        std::string(R"({"type":"message","content":[],"stop_reason":")") + reason + R"("})", "m",
        1);
    REQUIRE(r.ok());
    CHECK(json::parse(*r).at("choices").as_array()[0].at("finish_reason") == finish);
  }
  CHECK_FALSE(MessageToChatCompletion(R"({"type":"error"})", "m", 1).ok());
}

std::string Translated(const std::string& stream, StreamTranslator* t) {
  SseParser parser;
  std::string out;
  parser.Feed(stream, [&](const SseEvent& ev) { t->Process(ev, out); });
  if (t->stopped()) t->Finish(out);
  return out;
}

std::vector<json::object> Chunks(const std::string& sse) {
  std::vector<json::object> out;
  SseParser parser;
  parser.Feed(sse, [&](const SseEvent& ev) {
    if (ev.data != "[DONE]") out.push_back(json::parse(ev.data).as_object());
  });
  return out;
}

TEST_CASE("anthropic stream: the reference text stream becomes chat.completion.chunk events") {
  // Anthropic API reference, "Streaming Messages" — basic streaming request.
  const std::string stream =
      "event: message_start\ndata: {\"type\": \"message_start\", \"message\": {\"id\": "
      "\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\", \"type\": \"message\", \"role\": "
      "\"assistant\", \"content\": [], \"model\": \"claude-opus-4-6\", \"stop_reason\": null, "
      "\"stop_sequence\": null, \"usage\": {\"input_tokens\": 25, \"output_tokens\": 1}}}\n\n"
      "event: content_block_start\ndata: {\"type\": \"content_block_start\", \"index\": 0, "
      "\"content_block\": {\"type\": \"text\", \"text\": \"\"}}\n\n"
      "event: ping\ndata: {\"type\": \"ping\"}\n\n"
      "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, "
      "\"delta\": {\"type\": \"text_delta\", \"text\": \"Hello\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, "
      "\"delta\": {\"type\": \"text_delta\", \"text\": \"!\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\": \"content_block_stop\", \"index\": 0}\n\n"
      "event: message_delta\ndata: {\"type\": \"message_delta\", \"delta\": {\"stop_reason\": "
      "\"end_turn\", \"stop_sequence\":null}, \"usage\": {\"output_tokens\": 15}}\n\n"
      "event: message_stop\ndata: {\"type\": \"message_stop\"}\n\n";
  StreamTranslator t("anthropic/claude-opus-4-6", /*include_usage=*/true, 1700000000);
  const std::string out = Translated(stream, &t);
  const auto chunks = Chunks(out);
  INFO(out);
  REQUIRE(chunks.size() == 5);  // role, "Hello", "!", finish, usage
  CHECK(chunks[0].at("choices").as_array()[0].at("delta").at("role") == "assistant");
  CHECK(chunks[1].at("choices").as_array()[0].at("delta").at("content") == "Hello");
  CHECK(chunks[2].at("choices").as_array()[0].at("delta").at("content") == "!");
  CHECK(chunks[3].at("choices").as_array()[0].at("finish_reason") == "stop");
  CHECK(chunks[4].at("choices").as_array().empty());
  CHECK(chunks[4].at("usage").at("prompt_tokens") == 25);
  CHECK(chunks[4].at("usage").at("completion_tokens") == 15);
  for (const auto& c : chunks) {
    CHECK(c.at("object") == "chat.completion.chunk");
    CHECK(c.at("id") == "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY");
  }
  CHECK(out.substr(out.size() - 14) == "data: [DONE]\n\n");
  CHECK(t.usage().present);
  CHECK(t.usage().completion_tokens == 15);
}

TEST_CASE("anthropic stream: tool_use blocks and input_json_delta become tool call deltas") {
  const std::string stream =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_2\","
      "\"usage\":{\"input_tokens\":472,\"output_tokens\":2}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
      "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"Checking.\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
      "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\","
      "\"name\":\"get_weather\",\"input\":{}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
      "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
      "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\":\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
      "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" \\\"Paris\\\"}\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
      "\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  StreamTranslator t("m", false, 1);
  const auto chunks = Chunks(Translated(stream, &t));
  std::string args;
  std::string name, id;
  for (const auto& c : chunks) {
    const json::object& d = c.at("choices").as_array()[0].at("delta").as_object();
    if (!d.contains("tool_calls")) continue;
    const json::object& tc = d.at("tool_calls").as_array()[0].as_object();
    CHECK(tc.at("index") == 0);
    if (tc.contains("id")) id = tc.at("id").as_string();
    if (tc.at("function").as_object().contains("name"))
      name = tc.at("function").at("name").as_string();
    args += tc.at("function").at("arguments").as_string();
  }
  CHECK(id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
  CHECK(name == "get_weather");
  CHECK(json::parse(args) == json::parse(R"({"location": "Paris"})"));
  CHECK(chunks.back().at("choices").as_array()[0].at("finish_reason") == "tool_calls");
  REQUIRE(t.tool_calls().size() == 1);
  CHECK(t.tool_calls()[0].name == "get_weather");
  CHECK(t.usage().prompt_tokens == 472);
}

TEST_CASE("anthropic stream: a tool call without input deltas gets arguments {}") {
  const std::string stream =
      "event: message_start\ndata: "
      "{\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":3,"
      "\"output_tokens\":1}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
      "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"now\",\"input\":{}}}"
      "\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
      "event: message_delta\ndata: "
      "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},"
      "\"usage\":{\"output_tokens\":7}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  StreamTranslator t("m", false, 1);
  std::string args;
  for (const auto& c : Chunks(Translated(stream, &t))) {
    const json::object& d = c.at("choices").as_array()[0].at("delta").as_object();
    if (d.contains("tool_calls"))
      args += d.at("tool_calls").as_array()[0].at("function").at("arguments").as_string();
  }
  CHECK(args == "{}");
  CHECK(t.final_usage());
  CHECK(t.usage().completion_tokens == 7);
  // A negative or huge block index from the provider is ignored, not used.
  StreamTranslator u("m", false, 1);
  Translated(
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":-1,"
      "\"content_block\":{\"type\":\"tool_use\",\"id\":\"x\",\"name\":\"y\"}}\n\n",
      &u);
  CHECK(u.tool_calls().empty());
}

TEST_CASE("anthropic stream: an error event becomes the OpenAI error the relay reports") {
  const std::string stream =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\n"
      "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", "
      "\"message\": \"Overloaded\"}}\n\n";
  StreamTranslator t("m", false, 1);
  const std::string out = Translated(stream, &t);
  CHECK(t.failed());
  CHECK_FALSE(t.stopped());
  CHECK(t.error().http_status == 503);
  CHECK(t.error().code == "upstream_overloaded");
  CHECK(t.error().message == "Overloaded");
  CHECK(out.find("error") == std::string::npos);  // reported once, by the relay
  CHECK(out.find("[DONE]") == std::string::npos);
}

TEST_CASE("anthropic errors: the mapping table") {
  struct Row {
    int status;
    const char* type;
    int http;
    const char* code;
  };
  const Row rows[] = {
      {400, "invalid_request_error", 400, "invalid_request_error"},
      {401, "authentication_error", 502, "upstream_auth_error"},
      {403, "permission_error", 502, "upstream_auth_error"},
      {404, "not_found_error", 404, "not_found_error"},
      {413, "request_too_large", 413, "request_too_large"},
      {429, "rate_limit_error", 429, "rate_limit_exceeded"},
      {500, "api_error", 502, "api_error"},
      {529, "overloaded_error", 503, "upstream_overloaded"},
  };
  for (const Row& r : rows) {
    INFO(r.status);
    const ApiError e = ErrorToOpenAI(r.status, std::string(R"({"type":"error","error":{"type":")") +
                                                   r.type + R"(","message":"m"}})");
    CHECK(e.http_status == r.http);
    CHECK(e.code == r.code);
  }
}

}  // namespace
}  // namespace pai::gateway::anthropic
