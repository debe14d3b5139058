// YAML ↔ JSON for resources: YamlToJson() types plain scalars as Kubernetes (YAML 1.1) does;
// JsonToYaml() writes block YAML that reads back to the same JSON.
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/ascii.h"
#include "common/json_util.h"
#include "common/strings.h"
#include "common/yaml_documents.h"
#include "resource/internal.h"
#include "resource/resource.h"

namespace pai::resource {
namespace {

namespace json = boost::json;

// Removes '_' digit separators (YAML 1.1 allows them anywhere after the first digit).
std::string StripUnderscores(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c != '_') out.push_back(c);
  }
  return out;
}

bool AllOf(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsOctal(char c) { return c >= '0' && c <= '7'; }
bool IsBinary(char c) { return c == '0' || c == '1'; }
bool IsHex(char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); }

// Integer forms: [-+]digits, 0x.., 0o.., 0b.., and YAML 1.1's leading-zero octal (0755).
// Returns false when `s` is not an integer; *overflow when it is one but exceeds int64.
bool ParseInt(std::string_view text, int64_t* out, bool* overflow) {
  if (text.empty() || text.front() == '_') return false;
  std::string s = StripUnderscores(text);
  bool negative = false;
  std::string_view body = s;
  if (!body.empty() && (body.front() == '-' || body.front() == '+')) {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  int base = 10;
  bool (*pred)(char) = IsDigit;
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
    base = 16, pred = IsHex, body.remove_prefix(2);
  } else if (body.size() > 2 && body[0] == '0' && body[1] == 'o') {
    base = 8, pred = IsOctal, body.remove_prefix(2);
  } else if (body.size() > 2 && body[0] == '0' && body[1] == 'b') {
    base = 2, pred = IsBinary, body.remove_prefix(2);
  } else if (body.size() > 1 && body[0] == '0' && AllOf(body, IsOctal)) {
    base = 8, pred = IsOctal, body.remove_prefix(1);
  }
  if (!AllOf(body, pred)) return false;
  uint64_t magnitude = 0;
  auto [ptr, ec] = std::from_chars(body.data(), body.data() + body.size(), magnitude, base);
  const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  if (ec == std::errc::result_out_of_range || magnitude > limit) {
    *overflow = true;
    return false;
  }
  if (ec != std::errc() || ptr != body.data() + body.size()) return false;
  *out = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  return true;
}

// Float forms of YAML 1.1: 1.5, -1.5e3, 1e3, .5, .inf, -.Inf, .nan (with '_' separators).
bool ParseFloat(std::string_view text, double* out) {
  static const std::set<std::string_view> kInf = {".inf", ".Inf", ".INF"};
  static const std::set<std::string_view> kNan = {".nan", ".NaN", ".NAN"};
  std::string_view t = text;
  double sign = 1;
  if (!t.empty() && (t.front() == '-' || t.front() == '+')) {
    sign = t.front() == '-' ? -1 : 1;
    t.remove_prefix(1);
  }
  if (kInf.contains(t)) return *out = sign * std::numeric_limits<double>::infinity(), true;
  if (kNan.contains(text)) return *out = std::numeric_limits<double>::quiet_NaN(), true;
  if (t.empty() || t.front() == '_') return false;
  std::string s = StripUnderscores(t);
  bool digit = false, dot = false, exp = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (IsDigit(c)) {
      digit = true;
    } else if (c == '.' && !dot && !exp) {
      dot = true;
    } else if ((c == 'e' || c == 'E') && digit && !exp) {
      exp = true;
      if (i + 1 < s.size() && (s[i + 1] == '+' || s[i + 1] == '-')) ++i;
      if (i + 1 >= s.size()) return false;
    } else {
      return false;
    }
  }
  if (!digit || (!dot && !exp)) return false;
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return false;
  *out = sign * v;
  return true;
}

std::string Where(const YAML::Mark& m, std::string_view what) {
  return pai::StrCat("line ", m.line + 1, ", column ", m.column + 1, ": ", what);
}

// Limits: YAML aliases share nodes, so a small document can expand into billions of values
// ("billion laughs"); nesting deeper than any manifest needs is refused too.
struct Budget {
  int64_t nodes = 1'000'000;
  int depth = 0;
};
constexpr int kMaxDepth = 256;

absl::StatusOr<json::value> Convert(const YAML::Node& n, Budget* budget);

absl::StatusOr<json::value> ConvertScalar(const YAML::Node& n) {
  const std::string& tag = n.Tag();
  const std::string& text = n.Scalar();
  // "!" is a quoted scalar; !!str / !!binary force a string as well.
  if (tag == "!" || tag == "tag:yaml.org,2002:str" || tag == "tag:yaml.org,2002:binary") {
    return json::value(json::string(text));
  }
  bool overflow = false;
  auto v = internal::ResolvePlainScalar(text, &overflow);
  if (!v) {
    return absl::InvalidArgumentError(
        Where(n.Mark(), pai::StrCat("integer ", text, " does not fit in 64 bits")));
  }
  return *v;
}

absl::StatusOr<json::value> ConvertMap(const YAML::Node& n, Budget* budget) {
  json::object obj;
  for (const auto& kv : n) {
    if (!kv.first.IsScalar()) {
      return absl::InvalidArgumentError(Where(kv.first.Mark(), "mapping keys must be scalars"));
    }
    const std::string& key = kv.first.Scalar();
    if (obj.contains(key)) {
      return absl::InvalidArgumentError(
          Where(kv.first.Mark(), pai::StrCat("duplicate key \"", key, "\"")));
    }
    auto value = Convert(kv.second, budget);
    if (!value.ok()) return value.status();
    obj.emplace(key, std::move(*value));
  }
  return json::value(std::move(obj));
}

absl::StatusOr<json::value> Convert(const YAML::Node& n, Budget* budget) {
  if (--budget->nodes < 0) {
    return absl::InvalidArgumentError(
        Where(n.Mark(), "document too large once aliases are expanded (1,000,000 values at most)"));
  }
  if (budget->depth >= kMaxDepth) {
    return absl::InvalidArgumentError(Where(n.Mark(), "nested deeper than 256 levels"));
  }
  struct Depth {
    Budget* b;
    explicit Depth(Budget* budget) : b(budget) { ++b->depth; }
    ~Depth() { --b->depth; }
  } depth(budget);
  switch (n.Type()) {
    case YAML::NodeType::Null:
      // A quoted empty string ('') is a Null-typed node with the "!" tag in yaml-cpp.
      if (n.Tag() == "!") return json::value(json::string());
      return json::value(nullptr);
    case YAML::NodeType::Scalar:
      return ConvertScalar(n);
    case YAML::NodeType::Sequence: {
      json::array arr;
      arr.reserve(n.size());
      for (const auto& item : n) {
        auto value = Convert(item, budget);
        if (!value.ok()) return value.status();
        arr.push_back(std::move(*value));
      }
      return json::value(std::move(arr));
    }
    case YAML::NodeType::Map:
      return ConvertMap(n, budget);
    default:
      return json::value(nullptr);
  }
}

// ---- JsonToYaml ----

bool NeedsQuotes(std::string_view s) {
  if (s.empty()) return true;
  bool overflow = false;
  auto typed = internal::ResolvePlainScalar(s, &overflow);
  if (!typed || !typed->is_string()) return true;
  // Other YAML 1.1 readers (go-yaml v2, PyYAML) take these as booleans.
  static const std::set<std::string, std::less<>> kYaml11Bools = {
      "y",  "Y",  "n",  "N",  "yes", "Yes", "YES", "no",
      "No", "NO", "on", "On", "ON",  "off", "Off", "OFF"};
  if (kYaml11Bools.contains(s)) return true;
  // YAML 1.1 timestamps ("2026-04-14", "2026-04-14T00:00:00Z") would come back as dates.
  if (s.size() >= 10 && absl::ascii_isdigit(static_cast<unsigned char>(s[0])) && s[4] == '-' &&
      s[7] == '-') {
    return true;
  }
  static constexpr std::string_view kSpecialStart = "-?:,[]{}#&*!|>'\"%@` \t";
  if (kSpecialStart.find(s.front()) != std::string_view::npos) {
    // "-x", "?x", ":x" are plain scalars in YAML, but quoting them is clearer and always safe.
    return true;
  }
  if (s.back() == ' ' || s.back() == ':' || s.back() == '\t') return true;
  if (s.find(": ") != std::string_view::npos || s.find(" #") != std::string_view::npos) {
    return true;
  }
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// DoubleQuoted(): a JSON string is a valid YAML double-quoted scalar, escapes included.
std::string DoubleQuoted(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

std::string ScalarText(std::string_view s) {
  return NeedsQuotes(s) ? DoubleQuoted(s) : std::string(s);
}

// A multi-line string can be a literal block (`|`, or `|-` without the final newline) when it
// has no control characters, no trailing spaces on lines, does not start with a space (which
// would need an indentation indicator) and does not end in several newlines.
bool LiteralBlockable(std::string_view s) {
  if (s.find('\n') == std::string_view::npos || s.front() == ' ' || s.front() == '\n') {
    return false;
  }
  if (s.size() >= 2 && s.substr(s.size() - 2) == "\n\n") return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = s[i];
    if ((c < 0x20 && c != '\n') || c == 0x7f) return false;
    if (c == '\n' && i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t')) return false;
  }
  return s.back() != ' ' && s.back() != '\t';
}

std::string DoubleText(double d) {
  if (std::isnan(d)) return ".nan";
  if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string s(buf, ptr);
  // Keep it a float on read-back: 5 → 5.0.
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

void EmitValue(const json::value& v, int indent, std::string* out);

std::string Pad(int indent) { return std::string(static_cast<size_t>(indent), ' '); }

// Emits a value that follows "key:" or "- " on the same line (scalars, empty containers,
// literal blocks) or on the next lines (non-empty containers).
void EmitAfterKey(const json::value& v, int indent, std::string* out) {
  if (v.is_object() && !v.get_object().empty()) {
    *out += "\n";
    EmitValue(v, indent + 2, out);
  } else if (v.is_array() && !v.get_array().empty()) {
    *out += "\n";
    EmitValue(v, indent, out);  // "key:\n- a" (Kubernetes style, sequences not indented)
  } else if (v.is_string() && LiteralBlockable(v.get_string())) {
    std::string_view s = v.get_string();
    *out += s.back() == '\n' ? " |\n" : " |-\n";
    if (s.back() == '\n') s.remove_suffix(1);
    size_t start = 0;
    while (start <= s.size()) {
      size_t end = s.find('\n', start);
      if (end == std::string_view::npos) end = s.size();
      std::string_view line = s.substr(start, end - start);
      if (!line.empty()) *out += Pad(indent + 2);
      pai::StrAppend(out, line, "\n");
      start = end + 1;
    }
  } else {
    *out += " ";
    EmitValue(v, indent, out);
  }
}

void EmitObject(const json::object& obj, int indent, std::string* out) {
  bool first = true;
  for (const auto& kv : obj) {
    // The first key of an object in a sequence item follows "- " directly.
    if (!first || out->empty() || out->back() == '\n') *out += Pad(indent);
    first = false;
    pai::StrAppend(out, ScalarText(kv.key()), ":");
    EmitAfterKey(kv.value(), indent, out);
  }
}

void EmitArray(const json::array& arr, int indent, std::string* out) {
  for (const auto& item : arr) {
    pai::StrAppend(out, Pad(indent), "-");
    if (item.is_object() && !item.get_object().empty()) {
      *out += " ";
      EmitObject(item.get_object(), indent + 2, out);
    } else if (item.is_array() && !item.get_array().empty()) {
      *out += "\n";
      EmitArray(item.get_array(), indent + 2, out);
    } else {
      EmitAfterKey(item, indent, out);
    }
  }
}

void EmitValue(const json::value& v, int indent, std::string* out) {
  switch (v.kind()) {
    case json::kind::object:
      if (v.get_object().empty()) {
        *out += "{}\n";
      } else {
        EmitObject(v.get_object(), indent, out);
      }
      return;
    case json::kind::array:
      if (v.get_array().empty()) {
        *out += "[]\n";
      } else {
        EmitArray(v.get_array(), indent, out);
      }
      return;
    case json::kind::string:
      pai::StrAppend(out, ScalarText(v.get_string()), "\n");
      return;
    case json::kind::int64:
      pai::StrAppend(out, v.get_int64(), "\n");
      return;
    case json::kind::uint64:
      pai::StrAppend(out, v.get_uint64(), "\n");
      return;
    case json::kind::double_:
      pai::StrAppend(out, DoubleText(v.get_double()), "\n");
      return;
    case json::kind::bool_:
      *out += v.get_bool() ? "true\n" : "false\n";
      return;
    case json::kind::null:
      *out += "null\n";
      return;
  }
}

}  // namespace

namespace internal {

std::optional<boost::json::value> ResolvePlainScalar(std::string_view text, bool* overflow) {
  static const std::set<std::string_view> kNull = {"", "~", "null", "Null", "NULL"};
  if (kNull.contains(text)) return json::value(nullptr);
  const std::string lower = absl::AsciiStrToLower(pai::AV(text));
  if (lower == "true") return json::value(true);
  if (lower == "false") return json::value(false);
  int64_t i = 0;
  if (ParseInt(text, &i, overflow)) return json::value(i);
  if (*overflow) return std::nullopt;
  double d = 0;
  if (ParseFloat(text, &d)) return json::value(d);
  return json::value(json::string(text));
}

}  // namespace internal

absl::StatusOr<std::vector<boost::json::value>> YamlToJson(std::string_view yaml) {
  std::vector<json::value> out;
  try {
    for (const YAML::Node& doc : LoadYamlDocuments(yaml)) {  // not YAML::LoadAll()
      if (doc.IsNull() && doc.Tag() != "!") continue;        // empty document
      Budget budget;
      auto v = Convert(doc, &budget);
      if (!v.ok()) return v.status();
      out.push_back(std::move(*v));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(Where(e.mark, e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(pai::StrCat("YAML: ", e.what()));
  }
  return out;
}

std::string JsonToYaml(const boost::json::value& v) {
  std::string out;
  EmitValue(v, 0, &out);
  return out;
}

}  // namespace pai::resource
