// Byte-pair merge of one pre-tokenised piece (tiktoken's `_byte_pair_merge` and
// `_byte_pair_merge_large`, src/lib.rs). Internal to pai_tokenizer; public for its tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace pai::tokenizer::internal {

using Rank = uint32_t;
inline constexpr Rank kNoRank = std::numeric_limits<Rank>::max();
using RankMap = absl::flat_hash_map<std::string_view, Rank>;

// MergeBoundaries() merges `piece` (≥ 2 bytes) by ascending rank of adjacent pairs (leftmost
// first on ties) until no adjacent pair is a token, and writes the start offset of each
// resulting token to `starts` (cleared first). O(n·m) for short pieces, O(n log n) from
// kLargePiece bytes on, as tiktoken does.
void MergeBoundaries(const RankMap& ranks, std::string_view piece, std::vector<size_t>& starts);

inline constexpr size_t kLargePiece = 100;

}  // namespace pai::tokenizer::internal
