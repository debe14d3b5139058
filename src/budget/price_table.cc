#include "budget/price_table.h"

#include <cmath>

#include <yaml-cpp/yaml.h>

#include "common/strings.h"

namespace pai::budget {

extern const char kDefaultPricesYaml[];  // generated from data/prices.yaml

int64_t NanoUsdPerToken(double usd_per_million) {
  return static_cast<int64_t>(std::ceil(usd_per_million * 1000.0 - 1e-9));
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
    auto number = [&](const char* field, double* out) -> absl::Status {
      if (!v[field]) return absl::OkStatus();
      try {
        *out = v[field].as<double>();
      } catch (const YAML::Exception&) {
        return absl::InvalidArgumentError(pai::StrCat(source, ": ", key, ".", field, ": not a number"));
      }
      if (*out < 0 || !std::isfinite(*out)) {
        return absl::InvalidArgumentError(pai::StrCat(source, ": ", key, ".", field, ": negative"));
      }
      return absl::OkStatus();
    };
    if (!v.IsMap() || !v["input"] || !v["output"]) {
      return absl::InvalidArgumentError(
          pai::StrCat(source, ": ", key, ": needs {input, output} (USD per 1M tokens)"));
    }
    double input = 0, output = 0, cached = -1, max_output = 0;
    for (auto [field, out] : {std::pair{"input", &input}, std::pair{"output", &output},
                              std::pair{"cachedInput", &cached}, std::pair{"maxOutput", &max_output}}) {
      absl::Status s = number(field, out);
      if (!s.ok()) return s;
    }
    Price p;
    p.input = NanoUsdPerToken(input);
    p.output = NanoUsdPerToken(output);
    p.cached_input = cached < 0 ? p.input : NanoUsdPerToken(cached);
    p.max_output = static_cast<int64_t>(max_output);
    table.prices_[key] = p;
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
