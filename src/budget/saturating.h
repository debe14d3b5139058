// Saturating int64 arithmetic for token counts and nano-USD amounts: a sum or product that
// would overflow sticks at INT64_MAX (or INT64_MIN) instead of wrapping around, so that an
// absurd count reported by a provider or sent by a client can never turn a charge negative or
// a check into a pass.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <limits>

namespace pai::budget {

inline constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
inline constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

// SatAdd() is a + b, clamped to [INT64_MIN, INT64_MAX].
inline int64_t SatAdd(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kInt64Max : kInt64Min;
  return r;
}

// SatSub() is a - b, clamped.
inline int64_t SatSub(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? kInt64Max : kInt64Min;
  return r;
}

// SatMul() is a × b, clamped.
inline int64_t SatMul(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return (a < 0) == (b < 0) ? kInt64Max : kInt64Min;
  return r;
}

}  // namespace pai::budget
