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
// is a string literal (CanonicalKey).
class CanonicalDetail {
 public:
  // CanonicalKey: a member name given as a string literal, whose need for JSON escapes is known
  // when the program is compiled: a plain key (the usual case) is written as it is, without a
  // scan at run time; any other is escaped like every string.
  class CanonicalKey {
   public:
    template <size_t N>
    consteval CanonicalKey(const char (&s)[N])  // NOLINT(google-explicit-constructor): literals
        : s_(s, N - 1) {
      for (const char c : s_) {
        if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') plain_ = false;
      }
    }
    std::string_view view() const { return s_; }
    bool plain() const { return plain_; }

   private:
    std::string_view s_;
    bool plain_ = true;
  };

  CanonicalDetail() { out_.reserve(512); }
  CanonicalDetail& String(CanonicalKey key, std::string_view value);
  CanonicalDetail& Int(CanonicalKey key, int64_t value);
  CanonicalDetail& Bool(CanonicalKey key, bool value);
  CanonicalDetail& Double(CanonicalKey key, double value);
  // Take(): the object, `{...}`; the builder is empty afterwards.
  std::string Take();

 private:
  void Key(CanonicalKey key);
  std::string out_;
  std::string_view last_key_;
  bool any_ = false;
};

}  // namespace pai::audit
