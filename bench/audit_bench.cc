// Audit chain throughput: records per second with HMAC-SHA256 and fsync group commit, with
// producers emitting concurrently (as request threads do).
//   build/bench/audit_bench [--records N] [--producers P] [--dir DIR]
// The directory should be on the disk the gateway's state directory uses.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "audit/chain.h"

int main(int argc, char** argv) {
  int64_t records = 100000;
  int producers = 2;
  std::string dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--records")) records = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--producers")) producers = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
  }
  if (dir.empty()) {
    char tmpl[] = "/tmp/pai-audit-bench-XXXXXX";
    dir = mkdtemp(tmpl);
  }
  auto key = pai::audit::LoadOrCreateKey(dir);
  pai::audit::ChainOptions o;
  o.dir = dir + "/chain";
  o.key = *key;
  auto chain = pai::audit::Chain::Open(o);
  if (!chain.ok()) {
    std::fprintf(stderr, "%s\n", std::string(chain.status().message()).c_str());
    return 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  std::atomic<uint64_t> last{0};
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (int64_t i = p; i < records; i += producers) {
        pai::audit::Event e;
        e.type = "LLM_CALL";
        e.ns = "default";
        e.agent = "coder";
        e.detail["request_id"] = "0123456789abcdef0123456789abcdef";
        e.detail["model"] = "openai/gpt-4o-mini";
        e.detail["provider"] = "openai";
        e.detail["input_tokens"] = 1200;
        e.detail["output_tokens"] = 250;
        e.detail["cost_usd"] = 0.00033;
        e.detail["latency_ms"] = 812;
        e.detail["status"] = 200;
        e.detail["stream"] = true;
        const uint64_t seq = (*chain)->EmitSeq(std::move(e));
        uint64_t cur = last.load();
        while (seq > cur && !last.compare_exchange_weak(cur, seq)) {
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::promise<bool> done;
  (*chain)->WhenDurable(last.load(), [&](bool ok) { done.set_value(ok); });
  const bool ok = done.get_future().get();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  (*chain)->Close();
  const auto bytes = std::filesystem::file_size(o.dir + "/chain.jsonl");
  std::printf(
      "records=%lld producers=%d durable=%s seconds=%.3f records/s=%.0f bytes/record=%.0f\n",
      static_cast<long long>(records), producers, ok ? "yes" : "NO", s,
      static_cast<double>(records) / s, static_cast<double>(bytes) / records);
  std::filesystem::remove_all(dir);
  return ok ? 0 : 1;
}
