#include "audit/canonical.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "common/json_util.h"

namespace pai::audit {

void AppendBoostJsonString(std::string& out, std::string_view s) {
  AppendJsonStringAs(out, s, /*short_bf=*/true);
}

void AppendCanonical(std::string& out, const boost::json::object& o) {
  absl::InlinedVector<const boost::json::key_value_pair*, 16> members;
  for (const auto& kv : o) members.push_back(&kv);
  std::sort(members.begin(), members.end(),
            [](const auto* a, const auto* b) { return a->key() < b->key(); });
  out += '{';
  for (size_t i = 0; i < members.size(); ++i) {
    if (i) out += ',';
    AppendBoostJsonString(out, members[i]->key());
    out += ':';
    AppendCanonical(out, members[i]->value());
  }
  out += '}';
}

void AppendCanonical(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::object:
      AppendCanonical(out, v.get_object());
      return;
    case boost::json::kind::array: {
      const boost::json::array& a = v.get_array();
      out += '[';
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) out += ',';
        AppendCanonical(out, a[i]);
      }
      out += ']';
      return;
    }
    case boost::json::kind::string:
      AppendBoostJsonString(out, v.get_string());
      return;
    case boost::json::kind::int64:
      absl::StrAppend(&out, v.get_int64());
      return;
    case boost::json::kind::uint64:
      absl::StrAppend(&out, v.get_uint64());
      return;
    case boost::json::kind::double_:
      AppendCanonicalDouble(out, v.get_double());
      return;
    case boost::json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return;
    case boost::json::kind::null:
      out += "null";
      return;
  }
}

void AppendCanonicalDouble(std::string& out, double d) {
  // 15 significant digits: Boost.JSON 1.81 may parse a double one ULP off, and printing at 15
  // digits is idempotent across such a round trip, so the verifier rebuilds the same text.
  // std::to_chars with a precision converts "as if by printf" ([charconv.to.chars]): the bytes
  // of `%.15g`, without printf's locale and format parsing.
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::general, 15);
  out.append(buf, r.ptr);
}

void CanonicalDetail::Key(CanonicalKey key) {
  const std::string_view k = key.view();
  if (any_ && !(last_key_ < k)) std::abort();  // see the class comment: keys in order
  out_ += any_ ? ',' : '{';
  any_ = true;
  last_key_ = k;
  if (key.plain()) {
    out_ += '"';
    out_.append(k);
    out_.append("\":", 2);
    return;
  }
  AppendBoostJsonString(out_, k);
  out_ += ':';
}

CanonicalDetail& CanonicalDetail::String(CanonicalKey key, std::string_view value) {
  Key(key);
  AppendBoostJsonString(out_, value);
  return *this;
}

CanonicalDetail& CanonicalDetail::Int(CanonicalKey key, int64_t value) {
  Key(key);
  absl::StrAppend(&out_, value);
  return *this;
}

CanonicalDetail& CanonicalDetail::Bool(CanonicalKey key, bool value) {
  Key(key);
  out_ += value ? "true" : "false";
  return *this;
}

CanonicalDetail& CanonicalDetail::Double(CanonicalKey key, double value) {
  Key(key);
  AppendCanonicalDouble(out_, value);
  return *this;
}

std::string CanonicalDetail::Take() {
  if (!any_) out_ += '{';
  out_ += '}';
  any_ = false;
  last_key_ = {};
  return std::move(out_);
}

}  // namespace pai::audit
