#include "common/log.h"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <mutex>

#include "absl/time/clock.h"
#include "common/json_util.h"

namespace pai::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
std::once_flag g_init_once;
std::shared_ptr<spdlog::logger> g_logger;

constexpr std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::shared_ptr<spdlog::logger> Logger() {
  std::call_once(g_init_once, [] {
    spdlog::init_thread_pool(8192, 1);
    g_logger = spdlog::create_async_nb<spdlog::sinks::stderr_sink_mt>("pai");
    g_logger->set_pattern("%v");
    g_logger->set_level(spdlog::level::trace);
    g_logger->flush_on(spdlog::level::trace);
  });
  return g_logger;
}

}  // namespace

void Init(Level min_level) {
  g_min_level.store(static_cast<int>(min_level), std::memory_order_relaxed);
  Logger();
}

bool ParseLevel(std::string_view text, Level* out) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (text == LevelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

bool Enabled(Level level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

void Write(Level level, std::string_view msg, boost::json::object fields) {
  if (!Enabled(level)) return;
  boost::json::object line;
  line.reserve(fields.size() + 3);
  line["time"] = FormatRfc3339Millis(absl::Now());
  line["level"] = LevelName(level);
  line["msg"] = msg;
  for (auto& kv : fields) line[kv.key()] = std::move(kv.value());
  Logger()->info(boost::json::serialize(line));
}

void Flush() {
  auto logger = Logger();
  logger->flush();
  // The async logger flushes from its worker; shutting the pool down drains the queue.
  spdlog::shutdown();
}

}  // namespace pai::log
