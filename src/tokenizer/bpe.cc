#include "tokenizer/internal/bpe.h"

#include <queue>
#include <utility>

namespace pai::tokenizer::internal {
namespace {

Rank Lookup(const RankMap& ranks, std::string_view bytes) {
  auto it = ranks.find(bytes);
  return it == ranks.end() ? kNoRank : it->second;
}

// Short pieces: a vector of (start, rank of the pair starting there), rescanned after each
// merge; n is small, so the scan beats a heap (tiktoken's reasoning).
void MergeSmall(const RankMap& ranks, std::string_view piece, std::vector<size_t>& starts) {
  const size_t n = piece.size();
  thread_local std::vector<std::pair<size_t, Rank>> parts;
  parts.clear();
  Rank min_rank = kNoRank;
  size_t min_i = 0;
  for (size_t i = 0; i + 1 < n; ++i) {
    const Rank r = Lookup(ranks, piece.substr(i, 2));
    if (r < min_rank) {
      min_rank = r;
      min_i = i;
    }
    parts.emplace_back(i, r);
  }
  parts.emplace_back(n - 1, kNoRank);
  parts.emplace_back(n, kNoRank);
  // The rank of merging parts[i] with parts[i+1] once parts[i+1] is gone: the bytes from
  // parts[i] to parts[i+3] (parts[i+1] is removed only after this is computed).
  auto rank_at = [&](size_t i) {
    if (i + 3 < parts.size()) {
      return Lookup(ranks, piece.substr(parts[i].first, parts[i + 3].first - parts[i].first));
    }
    return kNoRank;
  };
  while (min_rank != kNoRank) {
    const size_t i = min_i;
    if (i > 0) parts[i - 1].second = rank_at(i - 1);
    parts[i].second = rank_at(i);
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    min_rank = kNoRank;
    for (size_t j = 0; j + 1 < parts.size(); ++j) {
      if (parts[j].second < min_rank) {
        min_rank = parts[j].second;
        min_i = j;
      }
    }
  }
  starts.clear();
  for (size_t j = 0; j + 1 < parts.size(); ++j) starts.push_back(parts[j].first);
}

// Long pieces (long runs of punctuation or spaces): a linked list of tokens and a heap of
// candidate merges, stale entries skipped when popped.
void MergeLarge(const RankMap& ranks, std::string_view piece, std::vector<size_t>& starts) {
  struct State {
    size_t prev, end, next_end;
    Rank next_rank;  // rank of merging the token starting here with the next one
  };
  const size_t n = piece.size();
  std::vector<State> st(n);
  using Merge = std::pair<Rank, size_t>;  // (rank, start): lowest rank, then leftmost
  std::priority_queue<Merge, std::vector<Merge>, std::greater<>> heap;
  st[0] = State{SIZE_MAX, 1, 2, kNoRank};
  for (size_t i = 0; i + 1 < n; ++i) {
    const Rank r = Lookup(ranks, piece.substr(i, 2));
    if (r != kNoRank) {
      heap.emplace(r, i);
      st[i].next_rank = r;
    }
    st[i + 1] = State{i, i + 2, i + 3, kNoRank};
  }
  auto candidate = [&](size_t start, size_t next_end) {
    st[start].next_end = next_end;
    st[start].next_rank = kNoRank;
    if (next_end <= n) {
      const Rank r = Lookup(ranks, piece.substr(start, next_end - start));
      if (r != kNoRank) {
        heap.emplace(r, start);
        st[start].next_rank = r;
      }
    }
  };
  while (!heap.empty()) {
    const auto [rank, left] = heap.top();
    heap.pop();
    if (rank != st[left].next_rank) continue;  // invalidated by an earlier merge
    const size_t right = st[left].end;
    const size_t right_end = st[left].next_end;
    const size_t right_next_end = st[right].next_end;
    st[left].end = right_end;
    candidate(left, right_next_end);
    if (right_end < n) st[right_end].prev = left;
    if (left > 0) candidate(st[left].prev, right_end);
    st[right].next_rank = kNoRank;
  }
  starts.clear();
  for (size_t i = 0; i < n; i = st[i].end) starts.push_back(i);
}

}  // namespace

void MergeBoundaries(const RankMap& ranks, std::string_view piece, std::vector<size_t>& starts) {
  if (piece.size() < kLargePiece) {
    MergeSmall(ranks, piece, starts);
  } else {
    MergeLarge(ranks, piece, starts);
  }
}

}  // namespace pai::tokenizer::internal
