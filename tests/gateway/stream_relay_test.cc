#include "gateway/stream_relay.h"

#include <catch2/catch.hpp>

#include "gateway/usage.h"

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
  const auto calls = ExtractToolCalls(body);
  REQUIRE(calls.size() == 2);
  CHECK(calls[0].id == "call_1");
  CHECK(calls[0].name == "get_weather");
  CHECK(calls[1].index == 1);
  CHECK(calls[1].name == "get_time");
  std::string plain = R"({"choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}]})";
  CHECK(ExtractToolCalls(plain).empty());
}

}  // namespace
}  // namespace pai::gateway
