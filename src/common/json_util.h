// Small helpers shared by modules that build JSON documents with Boost.JSON.
#pragma once

#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace pai {

// FormatRfc3339Millis() formats `t` as RFC 3339 in UTC with millisecond precision,
// e.g. "2026-11-22T01:20:59.123Z".
std::string FormatRfc3339Millis(absl::Time t);

// AppendRfc3339Millis() appends the same text to `out` (24 bytes for years 1000-9999, which it
// writes digit by digit without allocating; other years as absl::FormatTime writes them).
// Thread-safe.
void AppendRfc3339Millis(std::string& out, absl::Time t);

// HexEncode() is the lowercase hex of `n` bytes at `p`; AppendHex() appends it to `out`.
std::string HexEncode(const unsigned char* p, size_t n);
void AppendHex(std::string& out, const unsigned char* p, size_t n);

// AppendJsonString() appends `s` to `out` as a quoted, escaped JSON string (RFC 8259): `\"`,
// `\\`, `\n`, `\r`, `\t`, every other control byte as `\u00xx`, every other byte as is.
// AppendJsonStringAs() with `short_bf` also writes backspace and form feed as `\b` and `\f`
// (how Boost.JSON's serializer escapes strings: audit/canonical.h).
void AppendJsonString(std::string& out, std::string_view s);
void AppendJsonStringAs(std::string& out, std::string_view s, bool short_bf);

// FindJsonEscape() is the position of the first byte at or after `from` that a JSON string
// must escape (a control byte below 0x20, `"` or `\`), or s.size() when there is none. It tests
// eight bytes at a time (SWAR), so the plain runs between escapes cost ~1 instruction a byte.
size_t FindJsonEscape(std::string_view s, size_t from);

}  // namespace pai
