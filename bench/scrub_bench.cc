// Provider-key scrub cost per byte relayed (docs/benchmarks.md, "Key scrub").
//   build/bench/scrub_bench
// The scrub runs on every byte a provider sends to a client: 200 bodies, error bodies and SSE
// streams. Texts: a chat.completion-like JSON body (ASCII, escapes), an SSE stream in 16 KiB
// reads (as UpstreamCall::ReadSome() delivers them) and a worst case of text made only of key
// characters (every position a filter probe).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "gateway/relay/scrub.h"

namespace pai::gateway {
namespace {

const std::vector<std::string> kKeys = {
    "sk-proj-Zq4Tw9Xr7Lp2Vn5KbM8cQ1dF6gH3jK0lM5nB7vC9xZ2aS4dF6gH8jK1lP3oI5uY7tR9eW2qA4sD6fG8hJ0k",
    "sk-ant-api03-Mq8Zt2Vx7Kp4Rw9Ln5Bc3Hd6Jf1Gs0Ay2Eu4Io7Pl9Ok3Ij5Uh8Yg6Tf4Rd2Es1Wa0Qz",
    "AIzaSyQ7vK2mX9pL4wR8tN3bZ6cV1xJ5hG0fD"};

std::string JsonBody(size_t bytes) {
  const std::string event =
      R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini",)"
      R"("choices":[{"index":0,"message":{"role":"assistant","content":"The quick brown fox )"
      R"(jumps over the lazy dog.\nA \"quoted\" word and \u00e9 an escape.\n"}}]})";
  std::string out;
  while (out.size() < bytes) out += event;
  out.resize(bytes);
  return out;
}

std::string SseStream(size_t bytes) {
  const std::string event =
      "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
      "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" word\"},"
      "\"finish_reason\":null}]}\n\n";
  std::string out;
  while (out.size() < bytes) out += event;
  out.resize(bytes);
  return out;
}

void BM_KeyScrubber_Body(benchmark::State& state) {
  const KeyScrubber scrubber(kKeys);
  const std::string body = JsonBody(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    std::string copy = body;  // Scrub() works in place; the copy is part of the figure
    benchmark::DoNotOptimize(scrubber.Scrub(copy));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_KeyScrubber_Body)->Arg(4 << 10)->Arg(1 << 20);

void BM_StringCopy_Body(benchmark::State& state) {  // baseline: the copy alone
  const std::string body = JsonBody(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    std::string copy = body;
    benchmark::DoNotOptimize(copy);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_StringCopy_Body)->Arg(1 << 20);

void BM_ScrubStream_Sse(benchmark::State& state) {
  const KeyScrubber scrubber(kKeys);
  const std::string stream = SseStream(1 << 20);
  const size_t piece = static_cast<size_t>(state.range(0));
  std::string out;
  out.reserve(piece + 64);
  for (auto _ : state) {
    ScrubStream s(&scrubber);
    for (size_t at = 0; at < stream.size(); at += piece) {
      out.clear();
      s.Feed(std::string_view(stream).substr(at, piece), out);
      benchmark::DoNotOptimize(out.data());
    }
    out.clear();
    s.Finish(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_ScrubStream_Sse)->Arg(16 << 10)->Arg(256);

void BM_KeyScrubber_KeyAlphabetText(benchmark::State& state) {
  const KeyScrubber scrubber(kKeys);
  // Characters of the keys in an order that forms no 8-gram of them: the filter is probed at
  // every position, the exact set only on filter false positives.
  std::string text;
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
  for (size_t i = 0; text.size() < (1u << 20); ++i) text += alphabet[(i * 7) % alphabet.size()];
  for (auto _ : state) {
    benchmark::DoNotOptimize(scrubber.Contains(text));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_KeyScrubber_KeyAlphabetText);

}  // namespace
}  // namespace pai::gateway
