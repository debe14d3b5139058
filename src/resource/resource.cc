// The kind table, durations, the built-in model aliases and small shared helpers.
#include "resource/resource.h"

#include <charconv>
#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "boost/json/serialize.hpp"
#include "common/strings.h"
#include "resource/internal.h"

namespace pai::resource {

const std::vector<KindInfo>& Kinds() {
  static const auto* const kKinds = new std::vector<KindInfo>{
      {"Agent", kApiVersion, "agents", {"agent", "agents"}, true},
      {"Session", kApiVersion, "sessions", {"session", "sessions"}, true},
      {"ModelProvider",
       kApiVersion,
       "modelproviders",
       {"model-provider", "model-providers", "modelprovider", "modelproviders"},
       true},
      {"Provider", kApiVersion, "providers", {"provider", "providers"}, true},
      {"Secret", "v1", "secrets", {"secret", "secrets"}, true},
      {"Skill", kApiVersion, "skills", {"skill", "skills"}, true},
      {"PaiFile", kApiVersion, "paifiles", {"paifile", "paifiles", "file", "files"}, true},
      {"GuardBinding",
       kApiVersion,
       "guardbindings",
       {"guard-binding", "guard-bindings", "guardbinding", "guardbindings"},
       true},
      {"Eval", kApiVersion, "evals", {"eval", "evals"}, true},
      {"PaiAccessToken", kApiVersion, "paiaccesstokens", {"token", "tokens"}, false},
  };
  return *kKinds;
}

const KindInfo* FindKind(std::string_view name) {
  if (name == "AgentWorkload") name = "Agent";
  for (const KindInfo& k : Kinds()) {
    if (k.kind == name || k.plural == name) return &k;
    for (std::string_view alias : k.cli_names) {
      if (alias == name) return &k;
    }
  }
  return nullptr;
}

std::optional<int64_t> ParseDurationSeconds(std::string_view text) {
  // Go's time.ParseDuration units; the result is truncated to whole seconds.
  static const std::map<std::string_view, double> kUnits = {
      {"ns", 1e-9}, {"us", 1e-6}, {"µs", 1e-6}, {"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600}};
  if (text == "0") return 0;
  if (text.empty()) return std::nullopt;
  double total = 0;
  while (!text.empty()) {
    size_t n = 0;
    while (n < text.size() && (absl::ascii_isdigit(text[n]) || text[n] == '.')) ++n;
    if (n == 0) return std::nullopt;
    double value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + n, value);
    if (ec != std::errc() || ptr != text.data() + n) return std::nullopt;
    text.remove_prefix(n);
    size_t u = 0;
    while (u < text.size() && !absl::ascii_isdigit(text[u]) && text[u] != '.') ++u;
    auto unit = kUnits.find(text.substr(0, u));
    if (unit == kUnits.end()) return std::nullopt;
    total += value * unit->second;
    text.remove_prefix(u);
  }
  if (!std::isfinite(total) || total > 9.2e18) return std::nullopt;
  return static_cast<int64_t>(total);
}

std::optional<ModelAlias> DefaultModelAlias(std::string_view name) {
  static const std::map<std::string_view, ModelAlias> kAliases = {
      {"gemini-flash", {"gemini", "gemini-2.5-flash"}},
      {"gemini-pro", {"gemini", "gemini-2.5-pro"}},
      {"claude-sonnet", {"anthropic", "claude-sonnet-4-6"}},
      {"claude-haiku", {"anthropic", "claude-haiku-4-5"}},
      {"claude-opus", {"anthropic", "claude-opus-4-1"}},
      {"gpt-4o", {"openai", "gpt-4o"}},
      {"gpt-4o-mini", {"openai", "gpt-4o-mini"}},
      {"gpt-4.1", {"openai", "gpt-4.1"}},
      {"o3", {"openai", "o3"}},
  };
  auto it = kAliases.find(name);
  if (it == kAliases.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string_view> SchemaYaml(std::string_view kind) {
  if (kind == "AgentWorkload") kind = "Agent";
  return internal::SchemaText(kind);
}

std::string SchemaLoadError(std::string_view kind) { return internal::SchemaLoadError(kind); }

namespace internal {

std::string Join(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : pai::StrCat(path, ".", key);
}

std::string Index(std::string_view path, size_t i) { return pai::StrCat(path, "[", i, "]"); }

std::string Quote(const boost::json::value& v) {
  if (v.is_string()) return pai::StrCat("\"", std::string_view(v.get_string()), "\"");
  return boost::json::serialize(v);
}

}  // namespace internal

bool IsDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-')) return false;
  }
  return s.front() != '-' && s.back() != '-';
}

}  // namespace pai::resource
