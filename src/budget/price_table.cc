#include "budget/price_table.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/strings.h"

namespace pai::budget {

extern const char kDefaultPricesYaml[];  // generated from data/prices.yaml

int64_t NanoUsdPerToken(double usd_per_million) {
  return static_cast<int64_t>(std::ceil(usd_per_million * 1000.0 - 1e-6));
}

namespace {

// What a field sets: a rate (USD per token, or per 1M tokens for the camelCase names) of the
// base or the long-context tier, or a limit.
enum class Target { kRate, kLongRate, kMaxInput, kMaxOutput };
struct FieldDef {
  std::string_view name;
  Target target;
  int64_t Rates::*rate;
  double scale;  // to nano-USD per token
};
constexpr double kPerToken = 1e9;
constexpr double kPerMillion = 1e3;
constexpr FieldDef kFields[] = {
    {"input_cost_per_token", Target::kRate, &Rates::input, kPerToken},
    {"output_cost_per_token", Target::kRate, &Rates::output, kPerToken},
    {"cache_read_input_token_cost", Target::kRate, &Rates::cached_input, kPerToken},
    {"cache_creation_input_token_cost", Target::kRate, &Rates::cache_write, kPerToken},
    {"cache_creation_input_token_cost_above_1hr", Target::kRate, &Rates::cache_write_1h, kPerToken},
    {"output_cost_per_reasoning_token", Target::kRate, &Rates::reasoning, kPerToken},
    {"input_cost_per_token_above_200k_tokens", Target::kLongRate, &Rates::input, kPerToken},
    {"output_cost_per_token_above_200k_tokens", Target::kLongRate, &Rates::output, kPerToken},
    {"cache_read_input_token_cost_above_200k_tokens", Target::kLongRate, &Rates::cached_input,
     kPerToken},
    {"cache_creation_input_token_cost_above_200k_tokens", Target::kLongRate, &Rates::cache_write,
     kPerToken},
    {"cache_creation_input_token_cost_above_1hr_above_200k_tokens", Target::kLongRate,
     &Rates::cache_write_1h, kPerToken},
    {"max_input_tokens", Target::kMaxInput, nullptr, 1},
    {"max_output_tokens", Target::kMaxOutput, nullptr, 1},
    // The older camelCase names of ModelProvider spec.pricing (USD per 1M tokens).
    {"input", Target::kRate, &Rates::input, kPerMillion},
    {"output", Target::kRate, &Rates::output, kPerMillion},
    {"cachedInput", Target::kRate, &Rates::cached_input, kPerMillion},
    {"maxOutput", Target::kMaxOutput, nullptr, 1},
};

const FieldDef* FieldNamed(std::string_view name) {
  for (const FieldDef& f : kFields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

int64_t ToNano(double v, double scale) {
  const double x = v * scale;
  if (x >= 9e18) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(std::ceil(x - 1e-6));
}

}  // namespace

bool IsPriceField(std::string_view name) { return FieldNamed(name) != nullptr; }

absl::StatusOr<Price> PriceFromFields(const PriceFields& fields, std::string_view where) {
  // -1: not given.
  Rates base{-1, -1, -1, -1, -1, -1};
  Rates tier{-1, -1, -1, -1, -1, -1};
  Price p;
  for (const auto& [name, value] : fields) {
    const FieldDef* f = FieldNamed(name);
    if (!f) return absl::InvalidArgumentError(pai::StrCat(where, ".", name, ": unknown field"));
    if (!std::isfinite(value) || value < 0) {
      return absl::InvalidArgumentError(
          pai::StrCat(where, ".", name, ": must be a non-negative number"));
    }
    switch (f->target) {
      case Target::kRate:
        base.*(f->rate) = ToNano(value, f->scale);
        break;
      case Target::kLongRate:
        tier.*(f->rate) = ToNano(value, f->scale);
        break;
      case Target::kMaxInput:
        p.max_input = static_cast<int64_t>(std::min(value, 9e18));
        break;
      case Target::kMaxOutput:
        p.max_output = static_cast<int64_t>(std::min(value, 9e18));
        break;
    }
  }
  if (base.input < 0 || base.output < 0) {
    return absl::InvalidArgumentError(pai::StrCat(
        where, ": needs input_cost_per_token and output_cost_per_token (or input and output)"));
  }
  auto fill = [](Rates& r, const Rates& from) {
    for (int64_t Rates::*m : {&Rates::input, &Rates::output, &Rates::cached_input,
                              &Rates::cache_write, &Rates::cache_write_1h, &Rates::reasoning}) {
      if (r.*m < 0) r.*m = from.*m;
    }
  };
  // Defaults: what the provider bills when the entry names no separate rate.
  const Rates defaults{base.input,
                       base.output,
                       base.input,
                       base.input,
                       base.cache_write >= 0 ? base.cache_write : base.input,
                       base.output};
  fill(base, defaults);
  static_cast<Rates&>(p) = base;
  const bool has_tier = tier.input >= 0 || tier.output >= 0 || tier.cached_input >= 0 ||
                        tier.cache_write >= 0 || tier.cache_write_1h >= 0;
  if (has_tier) {
    // Unnamed long-context rates are the base ones (reasoning: the tier's output rate unless
    // the entry prices reasoning apart).
    if (tier.output < 0) tier.output = base.output;
    tier.reasoning = base.reasoning == base.output ? tier.output : base.reasoning;
    fill(tier, base);
    p.above_200k = tier;
  }
  return p;
}

const Rates& Price::RatesFor(int64_t input_tokens) const {
  if (above_200k && input_tokens > kLongContextThreshold) return *above_200k;
  return *this;
}

int64_t Price::MaxInputRate(int64_t input_upper) const {
  const Rates& r = RatesFor(input_upper);
  return std::max({r.input, r.cached_input, r.cache_write, r.cache_write_1h, input, cached_input,
                   cache_write, cache_write_1h});
}

int64_t Price::MaxOutputRate(int64_t input_upper) const {
  const Rates& r = RatesFor(input_upper);
  return std::max({r.output, r.reasoning, output, reasoning});
}

absl::StatusOr<PriceTable> PriceTable::Parse(std::string_view yaml, std::string_view source) {
  PriceTable table;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(pai::StrCat(source, ": ", e.what()));
  }
  if (!root.IsMap()) return absl::InvalidArgumentError(pai::StrCat(source, ": expected a mapping"));
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node v = kv.second;
    const std::string where = pai::StrCat(source, ": ", key);
    if (!v.IsMap()) return absl::InvalidArgumentError(pai::StrCat(where, ": expected a mapping"));
    PriceFields fields;
    for (const auto& f : v) {
      const std::string name = f.first.as<std::string>();
      try {
        fields.emplace_back(name, f.second.as<double>());
      } catch (const YAML::Exception&) {
        return absl::InvalidArgumentError(pai::StrCat(where, ".", name, ": not a number"));
      }
    }
    auto price = PriceFromFields(fields, where);
    if (!price.ok()) return price.status();
    table.prices_[key] = *price;
  }
  return table;
}

const PriceTable& PriceTable::Default() {
  static const PriceTable* table = [] {
    auto t = Parse(kDefaultPricesYaml, "data/prices.yaml");
    return new PriceTable(t.ok() ? std::move(*t) : PriceTable());
  }();
  return *table;
}

std::optional<Price> PriceTable::Find(std::string_view provider_kind,
                                      std::string_view model_id) const {
  const std::string exact = pai::StrCat(provider_kind, "/", model_id);
  if (auto it = prices_.find(exact); it != prices_.end()) return it->second;
  // Dated variants: "gpt-4o-mini-2024-07-18" → "gpt-4o-mini" (longest prefix wins).
  std::optional<Price> best;
  size_t best_len = 0;
  for (const auto& [key, price] : prices_) {
    if (key.size() > best_len && key.size() < exact.size() &&
        exact.compare(0, key.size(), key) == 0 && exact[key.size()] == '-') {
      best = price;
      best_len = key.size();
    }
  }
  if (best) return best;
  if (auto it = prices_.find(pai::StrCat(provider_kind, "/*")); it != prices_.end()) {
    return it->second;
  }
  return std::nullopt;
}

}  // namespace pai::budget
