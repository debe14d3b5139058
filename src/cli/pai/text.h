// Pure text helpers of the `pai` CLI: display width of UTF-8, truncation, thousands separators,
// kubectl-style ages, timestamps, percent-encoding, base64 and pretty-printed JSON.
//
// Thread safety: every function is pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "boost/json/value.hpp"

namespace pai::cli {

// DisplayWidth() counts UTF-8 code points (— and … are one column each); continuation bytes do
// not count. Wide (East Asian) characters are not special-cased.
size_t DisplayWidth(std::string_view utf8);

// Truncate() shortens `s` to at most `max_cols` display columns, the last one being "…" when it
// had to cut. Never splits a code point.
std::string Truncate(std::string_view s, size_t max_cols);

// FormatThousands() renders 12450 as "12,450" (negative numbers keep their sign).
std::string FormatThousands(int64_t n);

// FormatAge() renders a duration in seconds kubectl-style: "10s", "10m", "2h", "5d", "3y".
// Negative durations (clock skew) render as "0s".
std::string FormatAge(int64_t seconds);

// ParseRfc3339() reads "2026-04-14T14:18:30Z", "...30.123Z" or "...30+02:00" into Unix seconds.
std::optional<int64_t> ParseRfc3339(std::string_view text);

// FormatUtc() renders Unix seconds as "2026-04-14 14:18:30" (UTC).
std::string FormatUtc(int64_t unix_seconds);

// PercentEncode() escapes everything but RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~),
// for path segments and query values.
std::string PercentEncode(std::string_view s);

// Base64Encode() is standard base64 with padding (RFC 4648 §4).
std::string Base64Encode(std::string_view bytes);

// PrettyJson() renders `v` with two-space indentation and a trailing newline; members keep
// their order (the server's).
std::string PrettyJson(const boost::json::value& v);

// RandomSuffix() is `n` random characters of [a-z0-9] (name suffixes for created Agents).
std::string RandomSuffix(size_t n);

}  // namespace pai::cli
