// Budget admission cost and the false-rejection trade-off near the limit.
//   build/bench/budget_bench                      (Google Benchmark timings)
//   build/bench/budget_bench --utilization        (the trade-off table, docs/budgets.md)
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <thread>

#include "budget/budget_store.h"

namespace pai::budget {
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

// One admission (slot + reservation over agent tokens, agent USD and provider cap) and its
// settlement: the budget work the gateway adds to a request.
void BM_BudgetStore_AdmitSettle(benchmark::State& state) {
  static std::unique_ptr<BudgetStore> store;
  if (state.thread_index() == 0) store = MemoryStore();
  const ReserveRequest req = Request(2000);
  AgentLimits lim;
  lim.requests_per_minute = int64_t{1} << 40;
  lim.concurrent_requests = int64_t{1} << 40;
  for (auto _ : state) {
    store->AcquireSlot(req.agent, lim);
    auto r = store->Reserve(req);
    store->Settle(std::get<Reservation>(r), Usage{true, 500, 0, 200, 0});
    store->ReleaseSlot(req.agent);
  }
}
BENCHMARK(BM_BudgetStore_AdmitSettle)->Threads(1)->Threads(2);

// Utilization(): requests of `body_bytes` bytes whose real cost is body_bytes/4 input tokens
// (typical English chat JSON) + `output` tokens, against a daily budget of `budget` tokens,
// with `concurrency` calls in flight. Returns the fraction of the budget actually spent when the
// first request is refused.
double Utilization(int64_t budget, int64_t body_bytes, int64_t output, int concurrency) {
  auto store = MemoryStore();
  ReserveRequest req;
  req.agent = "default/coder";
  req.provider = "openai";
  req.agent_limits.tokens_per_day = budget;
  req.input_upper = body_bytes;
  req.input_estimate = body_bytes / 4;
  req.requested_output = output;
  std::deque<Reservation> in_flight;
  int64_t spent = 0;
  for (;;) {
    auto r = store->Reserve(req);
    if (std::holds_alternative<Rejection>(r)) {
      if (in_flight.empty()) break;
      // Refused while calls are in flight: the oldest completes, then the client retries.
      // Count the first refusal with nothing in flight (all reservations settled).
    } else {
      in_flight.push_back(std::get<Reservation>(r));
      if (static_cast<int>(in_flight.size()) < concurrency) continue;
    }
    const Reservation done = in_flight.front();
    in_flight.pop_front();
    const int64_t out = std::min<int64_t>(output, done.output_limit.value_or(output));
    spent += store->Settle(done, Usage{true, body_bytes / 4, 0, out, 0}).tokens;
  }
  return static_cast<double>(spent) / static_cast<double>(budget);
}

void PrintUtilization() {
  std::printf("false-rejection trade-off: budget spent when the first request is refused\n");
  std::printf("%10s %10s %8s %12s %12s\n", "budget", "body B", "output", "concurrency",
              "spent/budget");
  for (int64_t budget : {int64_t{10000}, int64_t{100000}, int64_t{1000000}}) {
    for (int64_t body : {int64_t{400}, int64_t{4000}, int64_t{40000}}) {
      for (int c : {1, 16}) {
        std::printf("%10lld %10lld %8d %12d %11.1f%%\n", static_cast<long long>(budget),
                    static_cast<long long>(body), 256, c,
                    100.0 * Utilization(budget, body, 256, c));
      }
    }
  }
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
