// chat.completion.chunk streams → OpenAI Responses streaming events
// (translate_responses_stream.h), fed by the real Anthropic stream translator where the
// provider's events matter.
#include "gateway/providers/translate_responses_stream.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "gateway/providers/translate_anthropic.h"
#include "gateway/relay/sse.h"

namespace pai::gateway::responses {
namespace {
namespace json = boost::json;

struct Event {
  std::string type;
  json::object data;
};

std::vector<Event> Events(std::string_view sse) {
  std::vector<Event> out;
  SseParser p;
  p.Feed(sse, [&](const SseEvent& ev) {
    json::object d = json::parse(ev.data).as_object();
    CHECK(std::string_view(ev.event) == std::string_view(d.at("type").as_string()));
    out.push_back({std::string(ev.event), std::move(d)});
  });
  CHECK(p.Pending() == 0);
  return out;
}

std::vector<std::string> Types(const std::vector<Event>& events) {
  std::vector<std::string> t;
  for (const Event& e : events) t.push_back(e.type);
  return t;
}

std::string Chunk(std::string_view delta, std::string_view finish = {}) {
  std::string out =
      R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":)";
  out += delta;
  out += ",\"finish_reason\":";
  out += finish.empty() ? "null" : "\"" + std::string(finish) + "\"";
  out += "}]}\n\n";
  return out;
}

const json::object kRequest =
    json::parse(R"({"model":"claude/claude-sonnet-4-6","input":"x"})").as_object();

TEST_CASE("responses stream: text, then the final event only at [DONE], numbered events") {
  StreamTranslator t(kRequest, 1700000000);
  std::string out;
  t.Process(Chunk(R"({"role":"assistant","content":""})"), out);
  t.Process(Chunk(R"({"content":"Hel"})") + Chunk(R"({"content":"lo"})"), out);
  t.Process(Chunk("{}", "stop"), out);
  t.Process(
      R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],)"
      R"("usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9,"prompt_tokens_details":{"cached_tokens":3}}})"
      "\n\n",
      out);
  const auto before_done = Events(out);
  CHECK(Types(before_done) ==
        std::vector<std::string>{"response.created", "response.in_progress",
                                 "response.output_item.added", "response.content_part.added",
                                 "response.output_text.delta", "response.output_text.delta"});
  CHECK_FALSE(t.completed());
  t.Process("data: [DONE]\n\n", out);
  CHECK(t.completed());
  const auto events = Events(out);
  for (size_t i = 0; i < events.size(); ++i)
    CHECK(events[i].data.at("sequence_number") == static_cast<int64_t>(i));
  CHECK(Types(events) ==
        std::vector<std::string>{"response.created", "response.in_progress",
                                 "response.output_item.added", "response.content_part.added",
                                 "response.output_text.delta", "response.output_text.delta",
                                 "response.output_text.done", "response.content_part.done",
                                 "response.output_item.done", "response.completed"});
  const json::object& created = events[0].data.at("response").as_object();
  CHECK(created.at("id") == "resp_chatcmpl1");
  CHECK(created.at("status") == "in_progress");
  CHECK(created.at("created_at") == 1700000000);
  CHECK(created.at("model") == "m");
  CHECK(events[4].data.at("delta") == "Hel");
  CHECK(events[4].data.at("item_id") == "msg_chatcmpl1_0");
  CHECK(events[6].data.at("text") == "Hello");
  const json::object& done = events.back().data.at("response").as_object();
  CHECK(done.at("status") == "completed");
  CHECK(done.at("output") ==
        json::parse(R"([{"id":"msg_chatcmpl1_0","type":"message","status":"completed",
    "role":"assistant","content":[{"type":"output_text","text":"Hello","annotations":[],"logprobs":[]}]}])"));
  CHECK(done.at("usage") ==
        json::parse(R"({"input_tokens":7,"input_tokens_details":{"cached_tokens":3},
    "output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":9})"));
  std::string after;
  t.Process(Chunk(R"({"content":"late"})"), after);
  CHECK(after.empty());
}

TEST_CASE(
    "responses stream: an Anthropic tool turn becomes a message item then a function_call item") {
  anthropic::StreamTranslator from_anthropic("claude-tools", true, 1);
  StreamTranslator t(kRequest, 1);
  const char* anthropic_events[] = {
      R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-tools","stop_reason":null,"usage":{"input_tokens":10,"output_tokens":1}}})",
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking."}})",
      R"({"type":"content_block_stop","index":0})",
      R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}})",
      R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\""}})",
      R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":": \"Paris\"}"}})",
      R"({"type":"content_block_stop","index":1})",
      R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":15}})",
      R"({"type":"message_stop"})",
  };
  std::string chat;
  SseParser parser;
  for (const char* data : anthropic_events) {
    const std::string type = json::parse(data).at("type").as_string().c_str();
    parser.Feed("event: " + type + "\ndata: " + data + "\n\n",
                [&](const SseEvent& ev) { from_anthropic.Process(ev, chat); });
  }
  from_anthropic.Finish(chat);
  std::string out;
  t.Process(chat, out);
  const auto events = Events(out);
  CHECK(Types(events) ==
        std::vector<std::string>{
            "response.created", "response.in_progress", "response.output_item.added",
            "response.content_part.added", "response.output_text.delta",
            "response.output_text.done", "response.content_part.done", "response.output_item.done",
            "response.output_item.added", "response.function_call_arguments.delta",
            "response.function_call_arguments.delta", "response.function_call_arguments.done",
            "response.output_item.done", "response.completed"});
  CHECK(events[8].data.at("output_index") == 1);
  CHECK(events[8].data.at("item") == json::parse(R"({"id":"fc_msg1_1","type":"function_call",
    "status":"in_progress","call_id":"toolu_1","name":"get_weather","arguments":""})"));
  CHECK(events[11].data.at("arguments") == "{\"city\": \"Paris\"}");
  CHECK(events[11].data.at("name") == "get_weather");
  const json::object& done = events.back().data.at("response").as_object();
  CHECK(done.at("output").as_array()[1].at("status") == "completed");
  CHECK(done.at("usage").at("input_tokens") == 10);
  CHECK(done.at("usage").at("output_tokens") == 15);
}

TEST_CASE(
    "responses stream: length → response.incomplete, and a failure → error then response.failed") {
  {
    StreamTranslator t(kRequest, 1);
    std::string out;
    t.Process(Chunk(R"({"content":"Hel"})") + Chunk("{}", "length") + "data: [DONE]\n\n", out);
    const auto events = Events(out);
    CHECK(events.back().type == "response.incomplete");
    CHECK(events.back().data.at("response").at("incomplete_details") ==
          json::parse(R"({"reason":"max_output_tokens"})"));
  }
  {
    StreamTranslator t(kRequest, 1);
    std::string out;
    t.Process(Chunk(R"({"content":"Hel"})"), out);
    ApiError e;
    e.http_status = 502;
    e.code = "upstream_error";
    e.message = "The model provider's stream ended early";
    t.Fail(e, out);
    const auto events = Events(out);
    REQUIRE(events.size() >= 2);
    CHECK(events[events.size() - 2].data == json::parse(R"({"code":"upstream_error",
      "message":"The model provider's stream ended early","param":null,"type":"error","sequence_number":5})"));
    CHECK(events.back().type == "response.failed");
    CHECK(events.back().data.at("response").at("status") == "failed");
    CHECK(events.back().data.at("response").at("error") ==
          json::parse(
              R"({"code":"upstream_error","message":"The model provider's stream ended early"})"));
  }
  {
    StreamTranslator t(kRequest, 1);  // failed before any chunk: still a Response to fail
    std::string out;
    t.Fail(ApiError{503, "api_error", "upstream_overloaded", "", "Overloaded"}, out);
    CHECK(Types(Events(out)) == std::vector<std::string>{"response.created", "response.in_progress",
                                                         "error", "response.failed"});
  }
}

}  // namespace
}  // namespace pai::gateway::responses
