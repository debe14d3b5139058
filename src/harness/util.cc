#include "harness/util.h"

#include <unistd.h>

#include <mutex>

namespace pai::harness {

namespace json = boost::json;

std::string SanitizeUtf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    }
    bool ok = len != 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Reject overlong forms, surrogates and values past U+10FFFF.
    if (ok && ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
               (cp >= 0xD800 && cp <= 0xDFFF))) {
      ok = false;
    }
    if (ok) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

absl::StatusOr<std::optional<std::string>> GetString(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) {
    return absl::InvalidArgumentError("'" + std::string(key) + "' must be a string");
  }
  return std::optional<std::string>(std::string(v->get_string()));
}

absl::StatusOr<std::string> RequireString(const json::object& o, std::string_view key) {
  auto v = GetString(o, key);
  if (!v.ok()) return v.status();
  if (!v->has_value()) {
    return absl::InvalidArgumentError("'" + std::string(key) + "' (string) is required");
  }
  return std::move(**v);
}

absl::StatusOr<std::optional<int64_t>> GetInt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->get_int64());
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return std::optional<int64_t>(static_cast<int64_t>(v->get_uint64()));
  }
  if (v->is_double()) {
    const double d = v->get_double();
    if (d == static_cast<double>(static_cast<int64_t>(d))) {
      return std::optional<int64_t>(static_cast<int64_t>(d));
    }
  }
  return absl::InvalidArgumentError("'" + std::string(key) + "' must be an integer");
}

absl::StatusOr<std::optional<bool>> GetBool(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<bool>();
  if (!v->is_bool()) {
    return absl::InvalidArgumentError("'" + std::string(key) + "' must be a boolean");
  }
  return std::optional<bool>(v->get_bool());
}

std::string TextContent(const json::value* content) {
  if (content == nullptr) return "";
  if (content->is_string()) return std::string(content->get_string());
  std::string out;
  if (!content->is_array()) return out;
  for (const json::value& part : content->get_array()) {
    if (!part.is_object()) continue;
    const json::value* text = part.get_object().if_contains("text");
    if (text == nullptr || !text->is_string()) continue;
    if (!out.empty()) out.push_back('\n');
    out.append(text->get_string());
  }
  return out;
}

void Log(std::string_view msg) {
  static std::mutex mu;
  std::string line = "pai-harness: ";
  line.append(msg);
  line.push_back('\n');
  std::lock_guard lock(mu);
  size_t off = 0;
  while (off < line.size()) {
    const ssize_t w = ::write(2, line.data() + off, line.size() - off);
    if (w <= 0) return;
    off += static_cast<size_t>(w);
  }
}

}  // namespace pai::harness
