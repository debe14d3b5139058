// Byte-pair merge of one pre-tokenised piece (tiktoken's `_byte_pair_merge` and
// `_byte_pair_merge_large`, src/lib.rs). Internal to pai_tokenizer; public for its tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace pai::tokenizer::internal {

using Rank = uint32_t;
inline constexpr Rank kNoRank = std::numeric_limits<Rank>::max();

// BytesHash: a fast hash of short byte strings (tokens average 6 bytes): 8-byte words mixed
// with multiply-xorshift and a splitmix64 finalizer, so that both the high and the low bits
// SwissTable uses are well spread. (absl::Hash of std::string_view is slow with Debian's
// abseil, whose absl::string_view is its own type.)
struct BytesHash {
  using is_transparent = void;  // std::string keys looked up by std::string_view
  size_t operator()(std::string_view s) const {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (s.size() * 0xC2B2AE3D27D4EB4Full);
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
      h ^= h >> 29;
    }
    uint64_t tail = 0;
    std::memcpy(&tail, s.data() + i, s.size() - i);
    h = (h ^ tail) * 0x94D049BB133111EBull;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return static_cast<size_t>(h);
  }
};
using RankMap = absl::flat_hash_map<std::string_view, Rank, BytesHash>;

// MergeBoundaries() merges `piece` (≥ 2 bytes) by ascending rank of adjacent pairs (leftmost
// first on ties) until no adjacent pair is a token, and writes the start offset of each
// resulting token to `starts` (cleared first). O(n·m) for short pieces, O(n log n) from
// kLargePiece bytes on, as tiktoken does.
void MergeBoundaries(const RankMap& ranks, std::string_view piece, std::vector<size_t>& starts);

inline constexpr size_t kLargePiece = 100;

}  // namespace pai::tokenizer::internal
