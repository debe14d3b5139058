// Structured logging: every line is one JSON object on stderr with `time` (RFC 3339, ms, UTC),
// `level`, `msg` and the caller's fields. Lines are formatted on the calling thread and written
// by one background thread (spdlog's async logger), so logging never blocks on the terminal.
//
// Never pass a prompt, an agent token or a provider key as a field.
//
// Thread safety: all functions are safe to call from any thread after Init().
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

namespace pai::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Init() sets up the async stderr logger. Call once at start-up; idempotent.
void Init(Level min_level);

// ParseLevel() maps "debug" | "info" | "warn" | "error" to a Level; false when unknown.
bool ParseLevel(std::string_view text, Level* out);

// Enabled() is true when a line of `level` would be written.
bool Enabled(Level level);

// Write() emits one line. `fields` are merged after time/level/msg.
void Write(Level level, std::string_view msg, boost::json::object fields = {});

inline void Debug(std::string_view msg, boost::json::object fields = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, msg, std::move(fields));
}
inline void Info(std::string_view msg, boost::json::object fields = {}) {
  Write(Level::kInfo, msg, std::move(fields));
}
inline void Warn(std::string_view msg, boost::json::object fields = {}) {
  Write(Level::kWarn, msg, std::move(fields));
}
inline void Error(std::string_view msg, boost::json::object fields = {}) {
  Write(Level::kError, msg, std::move(fields));
}

// Flush() waits until every line written so far reached stderr (used before exit).
void Flush();

}  // namespace pai::log
