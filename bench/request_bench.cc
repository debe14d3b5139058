// Hot-path micro-benchmarks: request parsing and rewriting, stream relay per event.
//   build/bench/request_bench
#include <benchmark/benchmark.h>

#include <string>

#include "gateway/providers/openai_request.h"
#include "gateway/providers/translate_anthropic.h"
#include "gateway/providers/translate_gemini.h"
#include "gateway/providers/translate_responses.h"
#include "gateway/providers/translate_responses_stream.h"
#include "gateway/relay/stream_relay.h"

namespace pai::gateway {
namespace {

std::string ChatBody(size_t prompt_bytes) {
  std::string content(prompt_bytes, 'x');
  for (size_t i = 7; i < content.size(); i += 8) content[i] = ' ';
  return R"({"model":"openai/gpt-4o-mini","messages":[{"role":"system","content":"You are a )"
         R"(helpful assistant."},{"role":"user","content":")" +
         content + R"("}],"temperature":0.2,"stream":true})";
}

void BM_ChatCompletionRequest_Parse(benchmark::State& state) {
  const std::string body = ChatBody(static_cast<size_t>(state.range(0)));
  std::string copy;
  for (auto _ : state) {
    state.PauseTiming();
    copy = body;
    state.ResumeTiming();
    auto r = ParseChatCompletionRequest(copy);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ChatCompletionRequest_Parse)->Arg(1 << 10)->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20);

void BM_ChatCompletionRequest_BuildUpstreamBody(benchmark::State& state) {
  std::string body = ChatBody(static_cast<size_t>(state.range(0)));
  auto r = ParseChatCompletionRequest(body);
  UpstreamChatOptions opts;
  opts.model_id = "gpt-4o-mini";
  for (auto _ : state) {
    std::string out = BuildUpstreamChatBody(body, *r, opts);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ChatCompletionRequest_BuildUpstreamBody)->Arg(4 << 10)->Arg(64 << 10);

void BM_ChatStreamRelay_Event(benchmark::State& state) {
  const std::string chunk =
      "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
      "\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp\",\"choices\":[{\"index\":0,"
      "\"delta\":{\"content\":\" word\"},\"logprobs\":null,\"finish_reason\":null}],"
      "\"usage\":null}\n\n";
  ChatStreamRelay relay(false);
  std::string out;
  for (auto _ : state) {
    out.clear();
    relay.Process(chunk, out);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ChatStreamRelay_Event);

// Translation overhead (issue 6): per request, against BuildUpstreamChatBody above (the
// OpenAI pass-through baseline of the same body), and per streamed event, against
// BM_ChatStreamRelay_Event.
void BM_Translate_ChatToAnthropic(benchmark::State& state) {
  const std::string body = ChatBody(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto out = anthropic::ChatToMessages(body, {"claude-sonnet-4-6", 1024});
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_Translate_ChatToAnthropic)->Arg(4 << 10)->Arg(64 << 10);

void BM_Translate_ChatToGemini(benchmark::State& state) {
  const std::string body = ChatBody(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto out = gemini::ChatToGenerateContent(body, {1024});
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_Translate_ChatToGemini)->Arg(4 << 10)->Arg(64 << 10);

void BM_Translate_AnthropicMessageToChat(benchmark::State& state) {
  const std::string message =
      R"({"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":")" +
      std::string(1024, 'x') +
      R"("}],"model":"claude-sonnet-4-6","stop_reason":"end_turn","usage":{"input_tokens":10,"output_tokens":200}})";
  for (auto _ : state) {
    auto out = anthropic::MessageToChatCompletion(message, "claude-sonnet-4-6", 1);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_Translate_AnthropicMessageToChat);

void BM_Translate_AnthropicStreamEvent(benchmark::State& state) {
  const std::string event =
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\" word\"}}\n\n";
  anthropic::StreamTranslator t("claude-sonnet-4-6", false, 1);
  SseParser parser;
  std::string out;
  for (auto _ : state) {
    out.clear();
    parser.Feed(event, [&](const SseEvent& ev) { t.Process(ev, out); });
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Translate_AnthropicStreamEvent);

void BM_Translate_GeminiStreamEvent(benchmark::State& state) {
  const std::string event =
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" word\"}],\"role\":"
      "\"model\"}}],\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r\"}\r\n\r\n";
  gemini::StreamTranslator t("gemini-2.5-flash", false, 1);
  SseParser parser;
  std::string out;
  for (auto _ : state) {
    out.clear();
    parser.Feed(event, [&](const SseEvent& ev) { t.Process(ev, out); });
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Translate_GeminiStreamEvent);

// /v1/responses to Anthropic / Gemini (issue 12): the Responses request to a chat request (then
// BM_Translate_ChatTo* above), and per streamed event the chat chunk to its Responses event
// (after BM_Translate_*StreamEvent and the relay).
void BM_Translate_ResponsesToChat(benchmark::State& state) {
  std::string content(static_cast<size_t>(state.range(0)), 'x');
  for (size_t i = 7; i < content.size(); i += 8) content[i] = ' ';
  const boost::json::object request =
      boost::json::parse(R"({"model":"claude/claude-sonnet-4-6","instructions":"You are a )"
                         R"(helpful assistant.","input":[{"role":"user","content":[{"type":)"
                         R"("input_text","text":")" +
                         content + R"("}]}],"temperature":0.2,"stream":true})")
          .as_object();
  for (auto _ : state) {
    auto out = responses::ResponsesToChat(request);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * content.size()));
}
BENCHMARK(BM_Translate_ResponsesToChat)->Arg(4 << 10)->Arg(64 << 10);

void BM_Translate_ResponsesStreamEvent(benchmark::State& state) {
  const std::string chunk =
      R"(data: {"id":"msg_1","object":"chat.completion.chunk","created":1,"model":"m",)"
      R"("choices":[{"index":0,"delta":{"content":" word"},"finish_reason":null}]})"
      "\n\n";
  const boost::json::object request =
      boost::json::parse(R"({"model":"m","input":"x"})").as_object();
  responses::StreamTranslator t(request, 1);
  std::string out;
  for (auto _ : state) {
    out.clear();
    t.Process(chunk, out);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Translate_ResponsesStreamEvent);

}  // namespace
}  // namespace pai::gateway
