#include "common/json_util.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <random>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace {

std::string Reference(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

}  // namespace

TEST_CASE("FormatRfc3339Millis writes what absl::FormatTime writes") {
  const absl::Time t = absl::FromUnixMillis(1764974433123);  // 2025-12-05T22:40:33.123Z
  CHECK(pai::FormatRfc3339Millis(t) == "2025-12-05T22:40:33.123Z");
  // Sub-millisecond parts are truncated, also before 1970 (toward the past).
  CHECK(pai::FormatRfc3339Millis(t + absl::Microseconds(999)) == "2025-12-05T22:40:33.123Z");
  CHECK(pai::FormatRfc3339Millis(absl::FromUnixMicros(-1)) == Reference(absl::FromUnixMicros(-1)));
  CHECK(pai::FormatRfc3339Millis(absl::UnixEpoch()) == "1970-01-01T00:00:00.000Z");
  // Outside years 1000-9999 (absl does not pad), and the infinite times, it is absl's text.
  for (absl::Time odd :
       {absl::InfiniteFuture(), absl::InfinitePast(),
        absl::FromCivil(absl::CivilSecond(12345, 1, 2, 3, 4, 5), absl::UTCTimeZone()),
        absl::FromCivil(absl::CivilSecond(-7, 1, 1, 0, 0, 0), absl::UTCTimeZone())}) {
    CHECK(pai::FormatRfc3339Millis(odd) == Reference(odd));
  }
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> micros(-62135596800000000,
                                                253402300799999999);  // 0001..9999
  for (int i = 0; i < 20000; ++i) {
    const absl::Time r = absl::FromUnixMicros(micros(rng));
    REQUIRE(pai::FormatRfc3339Millis(r) == Reference(r));
  }
  // Leap days, century years, the last millisecond before year 10000 and the first of it.
  for (const absl::CivilSecond cs :
       {absl::CivilSecond(2000, 2, 29, 23, 59, 59), absl::CivilSecond(2100, 2, 28, 12, 0, 0),
        absl::CivilSecond(2100, 3, 1, 0, 0, 0), absl::CivilSecond(2024, 12, 31, 23, 59, 59),
        absl::CivilSecond(9999, 12, 31, 23, 59, 59), absl::CivilSecond(10000, 1, 1, 0, 0, 0)}) {
    const absl::Time at = absl::FromCivil(cs, absl::UTCTimeZone()) + absl::Milliseconds(999);
    CHECK(pai::FormatRfc3339Millis(at) == Reference(at));
  }
  CHECK(pai::FormatRfc3339Millis(absl::FromUnixMillis(253402300799999)) ==
        "9999-12-31T23:59:59.999Z");
  std::string out = "x";
  pai::AppendRfc3339Millis(out, t);
  CHECK(out == "x2025-12-05T22:40:33.123Z");
}

// AppendJsonString's escapes, byte by byte: the two-character escapes for `"`, `\`, newline,
// carriage return and tab, `\u00xx` for every other control byte, every other byte as is (UTF-8
// passes through). Whatever it writes parses back to the input.
TEST_CASE("AppendJsonString escapes exactly the bytes JSON requires") {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::string out = "x";
  pai::AppendJsonString(out, all);
  std::string expected = "x\"";
  for (int c = 0; c < 256; ++c) {
    switch (c) {
      case '"':
        expected += "\\\"";
        break;
      case '\\':
        expected += "\\\\";
        break;
      case '\n':
        expected += "\\n";
        break;
      case '\r':
        expected += "\\r";
        break;
      case '\t':
        expected += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          expected += buf;
        } else {
          expected.push_back(static_cast<char>(c));
        }
    }
  }
  expected += '"';
  CHECK(out == expected);
  out.clear();
  pai::AppendJsonString(out, "plain \xc3\xa9t\xc3\xa9");
  CHECK(out == "\"plain \xc3\xa9t\xc3\xa9\"");
}

// FindJsonEscape's eight-bytes-at-a-time scan against a byte-by-byte one, on random strings of
// plain ASCII, UTF-8 and the bytes to escape, at every alignment and length.
TEST_CASE("FindJsonEscape finds the first byte to escape") {
  const auto reference = [](std::string_view s, size_t from) {
    for (size_t i = from; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c == '"' || c == '\\') return i;
    }
    return s.size();
  };
  const std::string alphabet =
      std::string("ab \x7f\xc3\xa9\xff\x80\x21\x23\x5b\x5d\"\\\n\x1f\x01", 17) +
      std::string(1, '\0');
  std::mt19937_64 rng(3);
  for (int round = 0; round < 20000; ++round) {
    const size_t len = rng() % 40;
    std::string s;
    for (size_t i = 0; i < len; ++i) {
      // Mostly plain bytes, so that long runs without an escape occur too.
      s.push_back(rng() % 4 ? 'x' : alphabet[rng() % alphabet.size()]);
    }
    for (size_t from = 0; from <= s.size(); ++from) {
      REQUIRE(pai::FindJsonEscape(s, from) == reference(s, from));
    }
  }
}

// HexEncode/AppendHex: two lowercase digits per byte, appended after what `out` holds.
TEST_CASE("AppendHex writes two lowercase hex digits per byte after the existing text") {
  unsigned char all[256];
  std::string reference;
  for (int i = 0; i < 256; ++i) {
    all[i] = static_cast<unsigned char>(i);
    char two[3];
    std::snprintf(two, sizeof(two), "%02x", i);
    reference += two;
  }
  CHECK(pai::HexEncode(all, sizeof(all)) == reference);
  std::string out = "mac=";
  pai::AppendHex(out, all + 250, 6);
  CHECK(out == "mac=fafbfcfdfeff");
  pai::AppendHex(out, all, 0);
  CHECK(out == "mac=fafbfcfdfeff");
}
