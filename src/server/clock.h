// The control plane's clock: real time in production, a manual one in tests (idle timeouts,
// TTLs and cron schedules are tested by moving it, never by sleeping).
// Thread safety: Now() from any thread; ManualClock::Advance/Set from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace pai::server {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// ManualClock: starts at the real time of its construction; moves only when told to.
class ManualClock final : public Clock {
 public:
  ManualClock() : nanos_(absl::ToUnixNanos(absl::Now())) {}
  absl::Time Now() const override { return absl::FromUnixNanos(nanos_.load()); }
  void Advance(absl::Duration d) { nanos_ += absl::ToInt64Nanoseconds(d); }
  void Set(absl::Time t) { nanos_ = absl::ToUnixNanos(t); }

 private:
  std::atomic<int64_t> nanos_;
};

// Rfc3339(): "2026-12-05T04:31:00Z"; Rfc3339Millis(): "2026-12-05T04:31:00.123Z" (UTC).
inline std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}
inline std::string Rfc3339Millis(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}
// ParseRfc3339(): InfinitePast on failure.
inline absl::Time ParseRfc3339(const std::string& s) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, s, &t, &err)) return absl::InfinitePast();
  return t;
}

}  // namespace pai::server
