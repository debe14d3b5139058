// Model prices for USD budgets and the cost metric.
//
// The default table is data/prices.yaml, compiled into the binary (its header names the
// sources and the date). Prices there are USD per 1,000,000 tokens; in memory they are integer
// nano-USD (1e-9 USD) per token, so that budgets add up exactly.
//
// Thread safety: immutable after construction.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pai::budget {

// Price: nano-USD per token.
struct Price {
  int64_t input = 0;
  int64_t cached_input = 0;
  int64_t output = 0;
  int64_t max_output = 0;  // the model's largest completion (0: unknown → kDefaultMaxOutput)
};

inline constexpr int64_t kDefaultMaxOutput = 4096;

// NanoUsdPerToken() converts USD per 1M tokens to nano-USD per token (×1000), rounding up so a
// budget is never under-charged.
int64_t NanoUsdPerToken(double usd_per_million);

class PriceTable {
 public:
  // Parse() reads "<provider>/<model-id>: {input, output, cachedInput?, maxOutput?}" entries.
  // Errors: InvalidArgument naming `source` and the entry.
  static absl::StatusOr<PriceTable> Parse(std::string_view yaml, std::string_view source);

  // Default() is the compiled-in data/prices.yaml.
  static const PriceTable& Default();

  // Find() looks up "<provider_kind>/<model_id>", then the longest entry that is a prefix of the
  // model id followed by '-' (dated variants), then "<provider_kind>/*".
  std::optional<Price> Find(std::string_view provider_kind, std::string_view model_id) const;

  void Set(const std::string& key, const Price& price) { prices_[key] = price; }
  size_t size() const { return prices_.size(); }

 private:
  std::map<std::string, Price, std::less<>> prices_;
};

}  // namespace pai::budget
