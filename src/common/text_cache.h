// TextCache<V>: values computed from short texts, remembered under the text itself (exact: no
// text can be given another's value, as it could under a hash). For work that recurs because an
// agent resends its system prompt and history with every request: the tokenizer's counts of
// texts and of pre-split pieces (tokenizer::Encoding::Count()), the input bounds remembered under
// a text's digest (gateway/stages/input_tokens.cc) and the builtin guard's verdicts
// (BuiltinClassifier::Classify()).
//
// Bounded by what its entries hold: each Put() is charged the text's bytes, kEntryOverhead (the
// map slot and the key's header) and the bytes the caller says the value holds beyond its own
// size, so that a flood of one-byte texts is bounded like a few long ones; when the next entry
// would pass `max_bytes`, the cache is cleared first.
//
// Not thread-safe: meant as a thread_local, one per thread (and per kind of value).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"

namespace pai {

// StdStringHash: std::hash of the bytes, for std::string keys looked up by std::string_view.
struct StdStringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <typename V, typename Hash = StdStringHash>
class TextCache {
 public:
  static constexpr size_t kEntryOverhead = 64 + sizeof(V);

  explicit TextCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Find(): the value remembered for `text`, or null. Valid until the next Put().
  const V* Find(std::string_view text) const {
    auto it = values_.find(text);
    return it == values_.end() ? nullptr : &it->second;
  }

  // Put() remembers `value` for `text` (which Find() did not have); `value_bytes` is what the
  // value holds on the heap.
  void Put(std::string_view text, V value, size_t value_bytes = 0) {
    const size_t charge = text.size() + kEntryOverhead + value_bytes;
    if (bytes_ + charge > max_bytes_) {
      values_.clear();
      bytes_ = 0;
    }
    values_.emplace(std::string(text), std::move(value));
    bytes_ += charge;
  }

 private:
  absl::flat_hash_map<std::string, V, Hash, std::equal_to<>> values_;
  size_t max_bytes_;
  size_t bytes_ = 0;
};

}  // namespace pai
