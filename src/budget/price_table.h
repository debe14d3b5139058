// Model prices for USD budgets and the cost metric.
//
// The default table is data/prices.yaml, compiled into the binary (its header names the
// sources and the date). Its entries use the field names of LiteLLM's public price map
// (model_prices_and_context_window.json: `input_cost_per_token`, `output_cost_per_token`,
// `cache_read_input_token_cost`, `cache_creation_input_token_cost`,
// `cache_creation_input_token_cost_above_1hr`, `output_cost_per_reasoning_token`, the
// `*_above_200k_tokens` long-context rates, `max_input_tokens`, `max_output_tokens`), in USD
// per token, so that operators can copy LiteLLM's rows. In memory prices are integer nano-USD
// (1e-9 USD) per token, so that budgets add up exactly.
//
// Thread safety: immutable after construction.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace pai::budget {

// Rates: nano-USD per token of each kind a provider bills.
struct Rates {
  int64_t input = 0;           // input tokens neither read from nor written to a cache
  int64_t output = 0;          // output tokens (reasoning included unless `reasoning` differs)
  int64_t cached_input = 0;    // cache reads (OpenAI cached_tokens, Anthropic cache_read, Gemini)
  int64_t cache_write = 0;     // cache writes (Anthropic: 5-minute TTL)
  int64_t cache_write_1h = 0;  // cache writes with a 1-hour TTL (Anthropic)
  int64_t reasoning = 0;       // reasoning / thinking output tokens
};

// Price: a model's rates, its long-context tier and its limits.
struct Price : Rates {
  int64_t max_output = 0;  // the model's largest completion (0: unknown → kDefaultMaxOutput)
  int64_t max_input = 0;   // its context window in input tokens (0: unknown)
  // Rates for a call whose input tokens (cache reads and writes included) exceed
  // kLongContextThreshold, where the provider bills such a tier (Anthropic Sonnet 4 / 4.5,
  // Gemini 2.5 Pro): every token of the call is billed at them.
  std::optional<Rates> above_200k;

  // RatesFor() are the rates of a call with `input_tokens` input tokens.
  const Rates& RatesFor(int64_t input_tokens) const;
  // MaxInputRate() / MaxOutputRate(): the highest rate an input (output) token of a call with
  // at most `input_upper` input tokens can be billed at — what a reservation must assume.
  int64_t MaxInputRate(int64_t input_upper) const;
  int64_t MaxOutputRate(int64_t input_upper) const;
};

inline constexpr int64_t kDefaultMaxOutput = 4096;
inline constexpr int64_t kLongContextThreshold = 200000;

// NanoUsdPerToken() converts USD per 1M tokens to nano-USD per token (×1000), rounding up so a
// budget is never under-charged.
int64_t NanoUsdPerToken(double usd_per_million);

// PriceFields: one price entry as written, field name → number. Names are LiteLLM's
// (kPriceFields) or, in ModelProvider spec.pricing, the older camelCase ones (`input`,
// `output`, `cachedInput` in USD per 1M tokens, `maxOutput`).
using PriceFields = std::vector<std::pair<std::string, double>>;

// IsPriceField() is whether `name` is a field PriceFromFields() reads.
bool IsPriceField(std::string_view name);

// PriceFromFields() builds a Price. Needs an input and an output price (either naming);
// absent rates default to what the provider bills without them (cache reads / writes and
// reasoning at the input / output price, long-context rates at the base ones). Errors:
// InvalidArgument naming `where` and the field (negative, not finite, missing, unknown).
absl::StatusOr<Price> PriceFromFields(const PriceFields& fields, std::string_view where);

class PriceTable {
 public:
  // Parse() reads "<provider>/<model-id>: {<PriceFields>}" entries.
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
