#include "gateway/relay/stream_relay.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdint>

#include "gateway/providers/mock_provider.h"
#include "gateway/providers/usage.h"
#include "gateway/relay/stream_limits.h"
#include "gateway/stages/input_tokens.h"

namespace pai::gateway {
namespace {

// A stream as OpenAI sends it with stream_options.include_usage (API reference, "The chat
// completion chunk object").
const std::string kChunk1 =
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n\n";
const std::string kChunk2 =
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
    "\"stop\"}],\"usage\":null}\n\n";
const std::string kUsage =
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,"
    "\"completion_tokens\":5,\"total_tokens\":16,\"prompt_tokens_details\":{\"cached_tokens\":3}}}"
    "\n\n";
const std::string kDone = "data: [DONE]\n\n";

std::string Run(ChatStreamRelay& relay, const std::string& stream, size_t piece) {
  std::string out;
  for (size_t i = 0; i < stream.size(); i += piece) {
    relay.Process(std::string_view(stream).substr(i, piece), out);
  }
  relay.Finish(out);
  return out;
}

TEST_CASE("usage is read from the stream — the usage-only chunk is dropped if not asked for") {
  const std::string stream = kChunk1 + kChunk2 + kUsage + kDone;
  for (size_t piece : {1, 7, 64, 4096}) {
    ChatStreamRelay relay(/*client_wants_usage=*/false);
    CHECK(Run(relay, stream, piece) == kChunk1 + kChunk2 + kDone);
    CHECK(relay.usage().present);
    CHECK(relay.usage().prompt_tokens == 11);
    CHECK(relay.usage().completion_tokens == 5);
    CHECK(relay.usage().cached_tokens == 3);
    CHECK(relay.saw_done());
  }
}

TEST_CASE("a client that asked for usage gets the stream byte for byte") {
  const std::string stream = kChunk1 + kChunk2 + kUsage + kDone;
  ChatStreamRelay relay(/*client_wants_usage=*/true);
  CHECK(Run(relay, stream, 5) == stream);
  CHECK(relay.usage().completion_tokens == 5);
}

TEST_CASE("a stream without usage reports none") {
  ChatStreamRelay relay(false);
  CHECK(Run(relay, kChunk1 + kChunk2 + kDone, 16) == kChunk1 + kChunk2 + kDone);
  CHECK_FALSE(relay.usage().present);
}

TEST_CASE("usage in a content chunk (some compatible servers) is read and relayed") {
  const std::string last =
      "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
      "\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2}}\n\n";
  ChatStreamRelay relay(false);
  CHECK(Run(relay, kChunk1 + last + kDone, 3) == kChunk1 + last + kDone);
  CHECK(relay.usage().prompt_tokens == 7);
  CHECK(relay.usage().total_tokens == 9);
}

TEST_CASE("ExtractUsage reads a chat completion and an embeddings response") {
  std::string chat =
      R"({"id":"x","object":"chat.completion","choices":[],"usage":{"prompt_tokens":11,)"
      R"("completion_tokens":5,"total_tokens":16}})";
  Usage u = ExtractUsage(chat);
  CHECK(u.present);
  CHECK(u.prompt_tokens == 11);
  CHECK(u.completion_tokens == 5);
  std::string emb = R"({"object":"list","data":[],"usage":{"prompt_tokens":4,"total_tokens":4}})";
  u = ExtractUsage(emb);
  CHECK(u.prompt_tokens == 4);
  CHECK(u.completion_tokens == 0);
  std::string none = R"({"error":{"message":"x"}})";
  CHECK_FALSE(ExtractUsage(none).present);
  std::string garbage = "<html>";
  CHECK_FALSE(ExtractUsage(garbage).present);
}

}  // namespace
}  // namespace pai::gateway

namespace pai::gateway {
namespace {

TEST_CASE("streamed tool calls are assembled from their deltas and [DONE] waits for Finish") {
  // OpenAI's streamed tool call: the first delta has id, type and name; later ones carry
  // argument fragments under the same index.
  const std::string stream =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"tool_calls\":[{"
      "\"index\":0,\"id\":\"call_abc\",\"type\":\"function\",\"function\":{\"name\":"
      "\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
      "{\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":null}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":"
      "\"call_def\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":"
      "\"{}\"}}]},\"finish_reason\":null}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
      "data: [DONE]\n\n";
  ChatStreamRelay relay(false);
  std::string out;
  for (size_t i = 0; i < stream.size(); i += 9) relay.Process(stream.substr(i, 9), out);
  CHECK(out.find("[DONE]") == std::string::npos);  // held back
  REQUIRE(relay.tool_calls().size() == 2);
  CHECK(relay.tool_calls()[0].id == "call_abc");
  CHECK(relay.tool_calls()[0].name == "get_weather");
  CHECK(relay.tool_calls()[1].id == "call_def");
  CHECK(relay.tool_calls()[1].name == "get_time");
  relay.Finish(out);
  CHECK(out == stream);
}

TEST_CASE("tool calls are read from a non-streamed chat completion") {
  std::string body =
      R"({"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":)"
      R"("assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":)"
      R"({"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"call_2","type":)"
      R"("function","function":{"name":"get_time","arguments":"{}"}}]},"finish_reason":)"
      R"("tool_calls"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}})";
  const auto read = ReadChatAnswer(body, false);
  REQUIRE(read);
  const auto& calls = read->tool_calls;
  REQUIRE(calls.size() == 2);
  CHECK(calls[0].id == "call_1");
  CHECK(calls[0].name == "get_weather");
  CHECK(calls[1].index == 1);
  CHECK(calls[1].name == "get_time");
  std::string plain = R"({"choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}]})";
  CHECK(ReadChatAnswer(plain, false)->tool_calls.empty());
}

// --- The mock provider's tool script (mock_provider.h; docs/providers.md) ---

namespace json = boost::json;

const char kTools[] =
    R"([{"type":"function","function":{"name":"write","parameters":{"type":"object"}}},)"
    R"({"type":"function","function":{"name":"bash","parameters":{"type":"object"}}}])";

std::string Body(std::string_view messages, std::string_view tools = kTools, bool stream = false) {
  std::string b = R"({"model":"mock/gpt-4o-mini","messages":)" + std::string(messages);
  if (!tools.empty()) b += R"(,"tools":)" + std::string(tools);
  if (stream) b += R"(,"stream":true,"stream_options":{"include_usage":true})";
  return b + "}";
}

const char kAsk[] =
    R"({"role":"system","content":"You are a coder."},{"role":"user","content":"Write a file."})";
const char kWriteCall[] =
    R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_mock_2","type":"function",)"
    R"("function":{"name":"write","arguments":"{}"}}]},)"
    R"({"role":"tool","tool_call_id":"call_mock_2","content":"wrote 16 bytes to hello.txt"})";
const char kBashCall[] =
    R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_mock_4","type":"function",)"
    R"("function":{"name":"bash","arguments":"{}"}}]},)"
    R"({"role":"tool","tool_call_id":"call_mock_4","content":[{"type":"text","text":"Hello from Pai!\n-rw-r--r-- 1 pai pai 16 hello.txt\n"}]})";

// The non-streamed answer's only choice.
json::object Choice(const std::string& body, int64_t* completion_tokens = nullptr) {
  ChatCompletionRequest req;
  const std::string out = MockChatCompletion(req, body, "gpt-4o-mini", "r1", std::nullopt);
  json::value v = json::parse(out);
  if (completion_tokens) {
    *completion_tokens = v.at("usage").at("completion_tokens").as_int64();
  }
  REQUIRE(v.at("choices").as_array().size() == 1);
  return v.at("choices").at(0).as_object();
}

struct StreamedCall {
  std::string id, type, name, arguments, finish;
  int tool_chunks = 0;
  bool first_has_empty_arguments = false;
  bool usage_last = false;
  bool done = false;
};

// Assemble() reads a stream as an SDK does: tool_call deltas by index, id/name from the first.
StreamedCall Assemble(const std::string& stream) {
  StreamedCall c;
  SseParser parser;
  bool saw_finish = false;
  parser.Feed(stream, [&](const SseEvent& ev) {
    if (ev.data == "[DONE]") {
      c.done = true;
      return;
    }
    json::object o = json::parse(ev.data).as_object();
    const json::array& choices = o.at("choices").as_array();
    if (choices.empty()) {
      c.usage_last = saw_finish && o.at("usage").is_object();
      return;
    }
    const json::object& ch = choices.at(0).as_object();
    if (!ch.at("finish_reason").is_null()) {
      saw_finish = true;
      c.finish = std::string(ch.at("finish_reason").as_string());
    }
    const json::object& delta = ch.at("delta").as_object();
    const json::value* tcs = delta.if_contains("tool_calls");
    if (!tcs) return;
    const json::object& tc = tcs->at(0).as_object();
    CHECK(tc.at("index").as_int64() == 0);
    ++c.tool_chunks;
    if (const auto* id = tc.if_contains("id")) {
      c.id = std::string(id->as_string());
      c.type = std::string(tc.at("type").as_string());
      c.name = std::string(tc.at("function").at("name").as_string());
      c.first_has_empty_arguments = tc.at("function").at("arguments").as_string().empty();
    }
    if (const auto* a = tc.at("function").as_object().if_contains("arguments")) {
      c.arguments += std::string_view(a->as_string());
    }
  });
  return c;
}

std::string Stream(const std::string& body) {
  ChatCompletionRequest req;
  return MockChatStream(req, body, "gpt-4o-mini", "r1", /*include_usage=*/true, std::nullopt);
}

TEST_CASE("mock without tools: the fixed text, as before") {
  const json::object c = Choice(Body(kAsk, ""));
  CHECK(c.at("finish_reason") == "stop");
  CHECK(std::string(c.at("message").at("content").as_string())
            .rfind("Hello from the pai-gateway mock", 0) == 0);
  CHECK(PlanMockReply(Body(kAsk, "")).tool_call == false);
  CHECK(PlanMockReply("not json").tool_call == false);
}

TEST_CASE("mock script step 1: write hello.txt (non-streamed message.tool_calls)") {
  int64_t completion = 0;
  const json::object c = Choice(Body(std::string("[") + kAsk + "]"), &completion);
  CHECK(c.at("finish_reason") == "tool_calls");
  const json::object& m = c.at("message").as_object();
  CHECK(m.at("role") == "assistant");
  CHECK(m.at("content").is_null());
  const json::array& calls = m.at("tool_calls").as_array();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].at("id") == "call_mock_2");
  CHECK(calls[0].at("type") == "function");
  CHECK(calls[0].at("function").at("name") == "write");
  const json::value args = json::parse(calls[0].at("function").at("arguments").as_string());
  CHECK(args.at("path") == "hello.txt");
  CHECK(args.at("content") == "Hello from Pai!\n");
  CHECK(completion > 0);
  // The gateway's own reader sees the call (TOOL_CALL records).
  ChatCompletionRequest req;
  std::string out = MockChatCompletion(req, Body(std::string("[") + kAsk + "]"), "gpt-4o-mini",
                                       "r1", std::nullopt);
  const auto tcs = ReadChatAnswer(out, false).value().tool_calls;
  REQUIRE(tcs.size() == 1);
  CHECK(tcs[0].name == "write");
  CHECK(tcs[0].id == "call_mock_2");
}

TEST_CASE("mock script step 1 streamed: id/type/name first, arguments in fragments, usage last") {
  const std::string body = Body(std::string("[") + kAsk + "]", kTools, true);
  const std::string stream = Stream(body);
  const StreamedCall c = Assemble(stream);
  CHECK(c.id == "call_mock_2");
  CHECK(c.type == "function");
  CHECK(c.name == "write");
  CHECK(c.first_has_empty_arguments);
  CHECK(c.tool_chunks >= 3);  // the naming chunk and at least two argument fragments
  CHECK(c.arguments == R"({"path":"hello.txt","content":"Hello from Pai!\n"})");
  CHECK(c.finish == "tool_calls");
  CHECK(c.usage_last);
  CHECK(c.done);
  // Through the gateway's relay: one TOOL_CALL, usage read, the stream relayed byte for byte.
  for (size_t piece : {5, 4096}) {
    ChatStreamRelay r(true);
    CHECK(Run(r, stream, piece) == stream);
    REQUIRE(r.tool_calls().size() == 1);
    CHECK(r.tool_calls()[0].name == "write");
    CHECK(r.tool_calls()[0].id == "call_mock_2");
    CHECK(r.usage().present);
    CHECK(r.usage().completion_tokens > 0);
    // The mock bills what OpenAI would: the request's o200k_base bound (input_tokens.h).
    CHECK(r.usage().prompt_tokens ==
          *ChatInputTokens(body, tokenizer::Encoding::Get(tokenizer::EncodingId::kO200kBase)));
  }
}

TEST_CASE("mock script step 2: after the write's result, bash cat hello.txt") {
  const std::string body = Body(std::string("[") + kAsk + "," + kWriteCall + "]");
  const MockPlan p = PlanMockReply(body);
  CHECK(p.tool_call);
  CHECK(p.tool_name == "bash");
  CHECK(p.arguments == R"({"command":"cat hello.txt && ls -l"})");
  CHECK(p.call_id == "call_mock_4");
  const StreamedCall c =
      Assemble(Stream(Body(std::string("[") + kAsk + "," + kWriteCall + "]", kTools, true)));
  CHECK(c.name == "bash");
  CHECK(c.arguments == R"({"command":"cat hello.txt && ls -l"})");
  CHECK(c.finish == "tool_calls");
  // Without bash offered, the script answers in text instead.
  const MockPlan only_write =
      PlanMockReply(Body(std::string("[") + kAsk + "," + kWriteCall + "]",
                         R"([{"type":"function","function":{"name":"write"}}])"));
  CHECK_FALSE(only_write.tool_call);
  CHECK(only_write.text.find("wrote 16 bytes to hello.txt") != std::string::npos);
}

TEST_CASE("mock script step 3: a text answer quoting the first line of the last tool result") {
  const std::string body = Body(std::string("[") + kAsk + "," + kWriteCall + "," + kBashCall + "]");
  const json::object c = Choice(body);
  CHECK(c.at("finish_reason") == "stop");
  const std::string text(c.at("message").at("content").as_string());
  CHECK(text == "I wrote hello.txt in the workspace and ran `cat hello.txt`: \"Hello from Pai!\"");
  CHECK_FALSE(c.at("message").as_object().contains("tool_calls"));
  // Streamed: the same text in content deltas.
  std::string streamed;
  SseParser parser;
  parser.Feed(Stream(Body(std::string("[") + kAsk + "," + kWriteCall + "," + kBashCall + "]",
                          kTools, true)),
              [&](const SseEvent& ev) {
                if (ev.data == "[DONE]") return;
                json::object o = json::parse(ev.data).as_object();
                if (o.at("choices").as_array().empty()) return;
                const json::object& d = o.at("choices").at(0).at("delta").as_object();
                if (const auto* t = d.if_contains("content"); t && t->is_string()) {
                  streamed += std::string_view(t->as_string());
                }
              });
  CHECK(streamed == text);
  // Tools offered but not write, no tool result yet: the fixed text.
  CHECK_FALSE(PlanMockReply(Body(std::string("[") + kAsk + "]",
                                 R"([{"type":"function","function":{"name":"bash"}}])"))
                  .tool_call);
}

TEST_CASE("mock loop phrase: 'loop forever' always answers a bash call") {
  const char kLoop[] =
      R"({"role":"user","content":[{"type":"text","text":"Please LOOP FOREVER."}]})";
  for (const std::string& messages :
       {std::string("[") + kLoop + "]", std::string("[") + kLoop + "," + kWriteCall + "]",
        std::string("[") + kLoop + "," + kWriteCall + "," + kBashCall + "]"}) {
    const MockPlan p = PlanMockReply(Body(messages));
    CHECK(p.tool_call);
    CHECK(p.tool_name == "bash");
    CHECK(p.arguments == R"({"command":"echo still looping"})");
    const StreamedCall c = Assemble(Stream(Body(messages, kTools, true)));
    CHECK(c.name == "bash");
    CHECK(c.arguments == R"({"command":"echo still looping"})");
    CHECK(c.finish == "tool_calls");
  }
  // Only with tools.
  CHECK_FALSE(PlanMockReply(Body(std::string("[") + kLoop + "]", "")).tool_call);
}

TEST_CASE("mock output limit: a text answer is cut, a tool call is whole with capped usage") {
  ChatCompletionRequest req;
  const std::string body = Body(std::string("[") + kAsk + "]");
  json::value v = json::parse(MockChatCompletion(req, body, "gpt-4o-mini", "r1", 2));
  CHECK(v.at("choices").at(0).at("finish_reason") == "tool_calls");
  CHECK(v.at("usage").at("completion_tokens").as_int64() == 2);
  CHECK(json::parse(v.at("choices")
                        .at(0)
                        .at("message")
                        .at("tool_calls")
                        .at(0)
                        .at("function")
                        .at("arguments")
                        .as_string())
            .at("path") == "hello.txt");
  const StreamedCall c = Assemble(MockChatStream(
      req, Body(std::string("[") + kAsk + "]", kTools, true), "gpt-4o-mini", "r1", true, 1));
  CHECK(c.finish == "tool_calls");
  CHECK(c.arguments == R"({"path":"hello.txt","content":"Hello from Pai!\n"})");
  json::value t = json::parse(
      MockChatCompletion(req, Body(std::string("[") + kAsk + "]", ""), "gpt-4o-mini", "r1", 3));
  CHECK(t.at("choices").at(0).at("finish_reason") == "length");
  CHECK(t.at("choices").at(0).at("message").at("content") == "Hello from the");
  CHECK(t.at("usage").at("completion_tokens").as_int64() == 3);
}

TEST_CASE("mock fetch phrase: 'fetch http...' answers one web_fetch call of that URL") {
  const char kFetch[] =
      R"({"role":"user","content":"Please fetch http://127.0.0.2:8080/x?y=1 and tell me"})";
  const std::string tools =
      R"([{"type":"function","function":{"name":"web_fetch"}},{"type":"function","function":{"name":"write"}}])";
  const MockPlan p = PlanMockReply(Body(std::string("[") + kFetch + "]", tools));
  CHECK(p.tool_call);
  CHECK(p.tool_name == "web_fetch");
  CHECK(p.arguments == R"({"url":"http://127.0.0.2:8080/x?y=1"})");
  // Without web_fetch offered, the phrase is ordinary text (the write script runs).
  const MockPlan w = PlanMockReply(Body(std::string("[") + kFetch + "]",
                                        R"([{"type":"function","function":{"name":"write"}}])"));
  CHECK(w.tool_name == "write");
}

TEST_CASE("a relay stops at an event above its limit and relays nothing of it") {
  ChatStreamRelay relay(false, 1024);
  std::string out;
  relay.Process("data: {\"choices\":[]}\n\n", out);
  CHECK(out == "data: {\"choices\":[]}\n\n");
  out.clear();
  const std::string line = "data: " + std::string(100, 'x') + "\n";
  for (int i = 0; i < 1000; ++i) relay.Process(line, out);  // never a blank line
  CHECK(relay.overflowed());
  CHECK(out.empty());
  relay.Process("\n\ndata: [DONE]\n\n", out);  // ignored once overflowed
  CHECK(out.empty());
  CHECK(!relay.saw_done());
}

TEST_CASE("stream byte bound follows the output limit and saturates") {
  StreamLimits l;
  CHECK(StreamByteBound(l, std::nullopt, 100) == l.max_stream_bytes);
  CHECK(StreamByteBound(l, 16, 100) == StreamLimits::kSlackBytes + 4 * 100 + 16 * 4096);
  CHECK(StreamByteBound(l, INT64_MAX, 100) == l.max_stream_bytes);
  StreamMeter m(l, 0, 0, StreamMeter::Clock::now());
  CHECK(m.Add(StreamLimits::kSlackBytes));
  CHECK(!m.Add(1));
}

TEST_CASE("stream duration bound follows the output limit, capped, and saturates") {
  using std::chrono::milliseconds;
  StreamLimits l;
  CHECK(StreamDurationBound(l, std::nullopt) == l.max_duration);
  // 100 tokens: 120 s to the first token + 100 × 50 ms, not the hour of --max-stream-duration-ms.
  CHECK(StreamDurationBound(l, 100) == StreamLimits::kSlackDuration + milliseconds(5000));
  CHECK(StreamDurationBound(l, 1'000'000) == l.max_duration);
  CHECK(StreamDurationBound(l, INT64_MAX) == l.max_duration);
  l.max_duration = milliseconds(300);
  CHECK(StreamDurationBound(l, 100) == milliseconds(300));  // the ceiling still applies
  const auto t0 = StreamMeter::Clock::now();
  StreamLimits d;
  StreamMeter m(d, 100, 0, t0);
  CHECK(m.deadline() == t0 + StreamLimits::kSlackDuration + milliseconds(5000));
  CHECK(!m.Expired(t0 + StreamLimits::kSlackDuration));
  CHECK(m.Expired(m.deadline()));
}

}  // namespace
}  // namespace pai::gateway
