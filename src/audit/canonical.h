// The audit chain's canonical JSON encoding (docs/audit.md, "Record format"): what a record's MAC
// covers. Objects have their members in ascending byte order of their keys, there is no
// whitespace, strings are escaped as Boost.JSON's serializer escapes them (`\"`, `\\`, `\b`,
// `\f`, `\n`, `\r`, `\t`, other control bytes as `\u00xx`, every other byte as is: chains written
// when records were encoded with boost::json::serialize keep verifying), integers are decimal and
// doubles have 15 significant digits (`%.15g`).
//
// Thread safety: the functions are reentrant; a CanonicalDetail is used by one thread.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace pai::audit {

// AppendBoostJsonString(): `s` as a JSON string (quotes included), escaped as above.
void AppendBoostJsonString(std::string& out, std::string_view s);

// AppendCanonical(): `v` (or the object `o`) in the canonical encoding.
void AppendCanonical(std::string& out, const boost::json::value& v);
void AppendCanonical(std::string& out, const boost::json::object& o);

// AppendCanonicalDouble(): `d` with 15 significant digits, as printf's `%.15g` writes it.
void AppendCanonicalDouble(std::string& out, double d);

// CanonicalDetail: a record's `detail` object written directly in the canonical encoding — the
// bytes AppendCanonical() writes for the boost::json::object with the same members, without
// building one (the request path's LLM_CALL and TOOL_CALL records: see Event::canonical_detail).
// Members must be added in ascending byte order of their keys; adding one out of order (or twice)
// is a programming error and aborts, so every call site's shapes are covered by its tests. A key
// must outlive the builder (call sites pass literals).
class CanonicalDetail {
 public:
  CanonicalDetail() { out_.reserve(512); }
  CanonicalDetail& String(std::string_view key, std::string_view value);
  CanonicalDetail& Int(std::string_view key, int64_t value);
  CanonicalDetail& Bool(std::string_view key, bool value);
  CanonicalDetail& Double(std::string_view key, double value);
  // Take(): the object, `{...}`; the builder is empty afterwards.
  std::string Take();

 private:
  void Key(std::string_view key);
  std::string out_;
  std::string_view last_key_;
  bool any_ = false;
};

}  // namespace pai::audit
