// Budget admission cost, the input tokenizer's speed, and the false-rejection trade-off near
// the limit.
//   build/bench/budget_bench                      (Google Benchmark timings)
//   build/bench/budget_bench --utilization        (the trade-off table, docs/budgets.md)
#include <benchmark/benchmark.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "../tests/budget/redis_server.h"
#include "budget/budget_store.h"
#include "budget/redis_store.h"
#include "gateway/stages/admission.h"
#include "gateway/stages/input_tokens.h"
#include "tokenizer/tokenizer.h"

namespace pai::budget {
namespace tokenizer = pai::tokenizer;
namespace gateway = pai::gateway;
namespace {

std::unique_ptr<BudgetStore> MemoryStore() {
  auto s = OpenLocalBudgetStore(LocalStoreOptions{});
  return std::move(*s);
}

ReserveRequest Request(int64_t body_bytes) {
  ReserveRequest r;
  r.agent = "default/coder";
  r.provider = "openai";
  r.agent_limits.tokens_per_day = int64_t{1} << 50;
  r.agent_limits.nano_usd_per_day = int64_t{1} << 60;
  r.provider_tokens_per_day = int64_t{1} << 50;
  r.input_upper = body_bytes;
  r.input_estimate = body_bytes / 4;
  r.requested_output = 256;
  Price price;  // gpt-4o-mini: $0.15 / $0.075 cached / $0.60 per 1M tokens
  price.input = price.cache_write = price.cache_write_1h = 150;
  price.cached_input = 75;
  price.output = price.reasoning = 600;
  price.max_output = 16384;
  r.price = price;
  return r;
}

// AdmitSettleLoop(): the benchmark's iterations: slot, reservation, settlement, release.
// `store` is read only inside the loop: thread 0 sets it up before the loop's start barrier.
void AdmitSettleLoop(benchmark::State& state, const std::unique_ptr<BudgetStore>& store) {
  const ReserveRequest req = Request(2000);
  const std::string agent(req.agent);
  AgentLimits lim;
  lim.requests_per_minute = int64_t{1} << 40;
  lim.concurrent_requests = int64_t{1} << 40;
  for (auto _ : state) {
    store->AcquireSlot(agent, lim);
    auto r = store->Reserve(req);
    if (auto* res = std::get_if<Reservation>(&r)) store->Settle(*res, Usage{true, 500, 0, 200, 0});
    store->ReleaseSlot(agent);
  }
}

// One admission (slot + reservation over agent tokens, agent USD and provider cap) and its
// settlement: the budget work the gateway adds to a request.
void BM_BudgetStore_AdmitSettle(benchmark::State& state) {
  static std::unique_ptr<BudgetStore> store;
  if (state.thread_index() == 0) store = MemoryStore();
  AdmitSettleLoop(state, store);
}
BENCHMARK(BM_BudgetStore_AdmitSettle)->Threads(1)->Threads(2);

// The same admission and settlement on the Redis store (`--redis`), against a redis-server this
// benchmark starts on a unix socket: the caller waits for two round trips (slot, reservation);
// the settlement and the release are applied by the store's background thread. Compare with
// BM_BudgetStore_AdmitSettle of the same run (docs/budgets.md, "Cost").
void BM_RedisStore_AdmitSettle(benchmark::State& state) {
  static std::unique_ptr<pai::testing::RedisServer> redis;
  static std::unique_ptr<BudgetStore> store;
  if (state.thread_index() == 0) {
    // A server per run, started by this run's first thread (it dies with the thread that
    // started it: RedisServer sets PR_SET_PDEATHSIG).
    store.reset();
    char tmpl[] = "/tmp/pai-bench-redis-XXXXXX";
    redis = std::make_unique<pai::testing::RedisServer>(mkdtemp(tmpl));
    if (!redis->Start()) {
      state.SkipWithError("redis-server did not start");
      return;
    }
    RedisStoreOptions o;
    o.url = redis->url();
    store = std::move(*OpenRedisBudgetStore(o));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!store->Available() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    if (!store->Available()) {
      state.SkipWithError("the Redis store did not connect");
      return;
    }
  }
  AdmitSettleLoop(state, store);
}
BENCHMARK(BM_RedisStore_AdmitSettle)->Threads(1)->Threads(2)->UseRealTime();

// The baseline for BM_RedisStore_AdmitSettle: one PING round trip with hiredis on a Redis
// started the same way; an admission needs two round trips (slot, reservation).
void BM_RedisPing(benchmark::State& state) {
  char tmpl[] = "/tmp/pai-bench-redis-XXXXXX";
  pai::testing::RedisServer redis(mkdtemp(tmpl));
  if (!redis.Start()) {
    state.SkipWithError("redis-server did not start");
    return;
  }
  redisContext* c = redisConnectUnix(redis.socket().c_str());
  for (auto _ : state) freeReplyObject(redisCommand(c, "PING"));
  redisFree(c);
}
BENCHMARK(BM_RedisPing)->UseRealTime();

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string& SourceFile() {
  static const std::string s = ReadFile(PAI_SOURCE_DIR "/bench/fixtures/source_40k.cc");
  return s;
}

const std::string& AgentRequest() {
  static const std::string s = ReadFile(PAI_SOURCE_DIR "/bench/fixtures/agent_request_100k.json");
  return s;
}

// Tokenizer throughput on a 40 KB C++ file and on a 100 KB agent request's JSON text.
void BM_Tokenizer_Count(benchmark::State& state) {
  const auto& enc = tokenizer::Encoding::Get(state.range(0) ? tokenizer::EncodingId::kO200kBase
                                                            : tokenizer::EncodingId::kCl100kBase);
  const std::string& text = state.range(1) ? AgentRequest() : SourceFile();
  for (auto _ : state) benchmark::DoNotOptimize(enc.Count(text));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.SetLabel(std::string(tokenizer::EncodingName(enc.id())) +
                 (state.range(1) ? " agent_request_100k.json" : " source_40k.cc"));
}
BENCHMARK(BM_Tokenizer_Count)->Args({1, 0})->Args({1, 1})->Args({0, 0})->Args({0, 1});

// The whole input bound of the 100 KB agent request (JSON walk + tokenizer): what admission
// adds to a budgeted request.
void BM_ChatInputTokens_AgentRequest(benchmark::State& state) {
  std::string body = AgentRequest();
  body.reserve(body.size() + 64);
  const auto& enc = tokenizer::Encoding::Get(tokenizer::EncodingId::kO200kBase);
  for (auto _ : state) benchmark::DoNotOptimize(gateway::ChatInputTokens(body, enc));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ChatInputTokens_AgentRequest);

// Workload: one kind of request an agent repeats. `billed_input`: the input tokens the
// provider bills; `bound_bytes` / `bound_tokens`: the gateway's input bound by body size / by
// the tokenizer; the client asks for `max_tokens` and the model answers `output` tokens.
struct Workload {
  const char* name;
  int64_t billed_input;
  int64_t bound_bytes;
  int64_t bound_tokens;
  int64_t max_tokens;
  int64_t output;
};

int64_t Billed(const char* fixture) {
  static const boost::json::value v =
      boost::json::parse(ReadFile(PAI_SOURCE_DIR "/tests/tokenizer/vectors.json"));
  return v.at("encodings").at("o200k_base").at("cookbook").at(fixture).as_int64();
}

std::vector<Workload> Workloads() {
  const auto& enc = tokenizer::Encoding::Get(tokenizer::EncodingId::kO200kBase);
  auto chat = [](const std::string& text, int64_t max_tokens) {
    boost::json::object req;
    req["model"] = "gpt-4o-mini";
    req["max_tokens"] = max_tokens;
    boost::json::object msg;
    msg["role"] = "user";
    msg["content"] = text;
    req["messages"] = boost::json::array{msg};
    return boost::json::serialize(req);
  };
  std::vector<Workload> w;
  // A short question (~400 B body): billed = its exact count by the cookbook.
  const std::string question =
      "Here is a function that parses a duration like 1h2m3s and returns seconds. It returns 0 "
      "for 90s. Why? int64_t Parse(std::string_view s) { int64_t n = 0, t = 0; for (char c : s) "
      "{ if (isdigit(c)) n = n * 10 + (c - '0'); else { t += n * Unit(c); } } return t; }";
  const std::string small = chat(question, 256);
  w.push_back({"chat 400 B", 3 + 3 + enc.Count("user") + enc.Count(question),
               static_cast<int64_t>(small.size()), *gateway::ChatInputTokens(small, enc), 256,
               256});
  const std::string source = chat("Review this file and list its bugs.\n\n" + SourceFile(), 1024);
  w.push_back({"source 40 KB", Billed("source_40k"), static_cast<int64_t>(source.size()),
               *gateway::ChatInputTokens(source, enc), 1024, 256});
  std::string agent = AgentRequest();
  w.push_back({"agent 100 KB", Billed("agent_request_100k"), static_cast<int64_t>(agent.size()),
               *gateway::ChatInputTokens(agent, enc), 4096, 512});
  return w;
}

// Utilization(): an agent repeats `w` against a daily budget of `budget` tokens with
// `concurrency` calls in flight, the input bound being `bound`. Returns the fraction of the
// budget actually spent when the first request is refused with nothing in flight.
double Utilization(int64_t budget, const Workload& w, int64_t bound, int concurrency) {
  auto store = MemoryStore();
  ReserveRequest req;
  req.agent = "default/coder";
  req.provider = "openai";
  req.agent_limits.tokens_per_day = budget;
  req.input_upper = bound;
  req.input_estimate = bound;
  req.requested_output = w.max_tokens;
  std::deque<Reservation> in_flight;
  int64_t spent = 0;
  for (;;) {
    auto r = store->Reserve(req);
    if (std::holds_alternative<Rejection>(r)) {
      if (in_flight.empty()) break;
      // Refused while calls are in flight: the oldest completes, then the client retries.
    } else {
      in_flight.push_back(std::get<Reservation>(r));
      if (static_cast<int>(in_flight.size()) < concurrency) continue;
    }
    const Reservation done = in_flight.front();
    in_flight.pop_front();
    const int64_t out = std::min<int64_t>(w.output, done.output_limit.value_or(w.output));
    spent += store->Settle(done, Usage{true, w.billed_input, 0, out, 0}).tokens;
  }
  return static_cast<double>(spent) / static_cast<double>(budget);
}

// Worst(): the least utilization over budgets from lo× to hi× the billed input (400 steps):
// "any budget at least lo× the input".
double Worst(const Workload& w, int64_t bound, double lo, double hi) {
  double worst = 1;
  for (int i = 0; i <= 400; ++i) {
    const double m = lo + (hi - lo) * i / 400;
    worst = std::min(
        worst,
        Utilization(static_cast<int64_t>(m * static_cast<double>(w.billed_input)), w, bound, 1));
  }
  return worst;
}

void PrintUtilization() {
  const std::vector<Workload> ws = Workloads();
  std::printf("workloads (o200k_base): billed input, input bound by bytes / by tokenizer\n");
  for (const Workload& w : ws) {
    std::printf(
        "  %-13s billed %6lld  bytes %6lld  tokenizer %6lld (+%.2f%%)  max_tokens %lld, "
        "answer %lld\n",
        w.name, static_cast<long long>(w.billed_input), static_cast<long long>(w.bound_bytes),
        static_cast<long long>(w.bound_tokens),
        100.0 * static_cast<double>(w.bound_tokens - w.billed_input) /
            static_cast<double>(w.billed_input),
        static_cast<long long>(w.max_tokens), static_cast<long long>(w.output));
  }
  std::printf("\nbudget spent when the first request is refused (sequential; 16 in flight)\n");
  std::printf("%-13s %10s %18s %18s\n", "workload", "budget", "bytes bound", "tokenizer bound");
  for (const Workload& w : ws) {
    for (double m : {10.0, 20.0, 50.0, 100.0}) {
      const auto budget = static_cast<int64_t>(m * static_cast<double>(w.billed_input));
      std::printf("%-13s %6lld (%3.0fx) %7.1f%% / %5.1f%% %7.1f%% / %5.1f%%\n", w.name,
                  static_cast<long long>(budget), m, 100 * Utilization(budget, w, w.bound_bytes, 1),
                  100 * Utilization(budget, w, w.bound_bytes, 16),
                  100 * Utilization(budget, w, w.bound_tokens, 1),
                  100 * Utilization(budget, w, w.bound_tokens, 16));
    }
  }
  std::printf("\nworst over every budget from 10x to 20x the billed input (401 budgets)\n");
  for (const Workload& w : ws) {
    std::printf("%-13s bytes bound %5.1f%%  tokenizer bound %5.1f%%  (exact bound %5.1f%%)\n",
                w.name, 100 * Worst(w, w.bound_bytes, 10, 20),
                100 * Worst(w, w.bound_tokens, 10, 20), 100 * Worst(w, w.billed_input, 10, 20));
  }
  // Anthropic / Gemini near a limit: the provider's count plus the default margin, for a count
  // equal to the bill (docs/budgets.md, "Provider counts").
  std::printf("provider count bound (count x 1.%02d + %lld, count = bill):",
              gateway::kDefaultCountMarginPercent, static_cast<long long>(gateway::kCountSlack));
  for (const Workload& w : ws) {
    const int64_t counted =
        gateway::CountedInputBound(w.billed_input, gateway::kDefaultCountMarginPercent);
    std::printf("  %s %5.1f%%", w.name, 100 * Worst(w, std::min(counted, w.bound_bytes), 10, 20));
  }
  std::printf("\n");
}

}  // namespace
}  // namespace pai::budget

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--utilization") == 0) {
      pai::budget::PrintUtilization();
      return 0;
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
