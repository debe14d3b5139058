// The canonical encoding (audit/canonical.h): doubles exactly as printf's %.15g writes them, and
// CanonicalDetail writing the bytes AppendCanonical() writes for the same object.
#include "audit/canonical.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>

namespace pai::audit {
namespace {

std::string Printf15g(double d) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.15g", d);
  return buf;
}

std::string Double(double d) {
  std::string out;
  AppendCanonicalDouble(out, d);
  return out;
}

TEST_CASE("canonical doubles are printf's %.15g") {
  for (double d : {0.0, -0.0, 1.0, -1.0, 0.1, 0.123456789, 1e-9, 123456789012345.0,
                   1234567890123456.0, 1e21, 1e-300, 5e-324, 0.000123, 1e15, 1e16,
                   std::numeric_limits<double>::max(), std::numeric_limits<double>::min()}) {
    CHECK(Double(d) == Printf15g(d));
  }
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<uint64_t> bits;
  std::uniform_int_distribution<int64_t> nano(0, int64_t{1} << 53);
  for (int i = 0; i < 20000; ++i) {
    uint64_t b = bits(rng);
    double d = 0;
    std::memcpy(&d, &b, sizeof d);
    if (!std::isfinite(d)) continue;
    REQUIRE(Double(d) == Printf15g(d));
    const double usd = static_cast<double>(nano(rng)) / 1e9;  // how costs are written
    REQUIRE(Double(usd) == Printf15g(usd));
  }
}

TEST_CASE("CanonicalDetail writes AppendCanonical's bytes") {
  CanonicalDetail d;
  d.String("a\"quote", "x\ny\x01\x7f\xc3\xa9\\")
      .Int("b", -9223372036854775807 - 1)
      .Bool("c", false)
      .Double("d", 0.1)
      .Int("e", 42)
      .String("f", "")
      .Bool("g", true);
  const std::string text = d.Take();
  const auto parsed = boost::json::parse(text);
  REQUIRE(parsed.is_object());
  CHECK(parsed.as_object().size() == 7U);
  std::string canonical;
  AppendCanonical(canonical, parsed.as_object());
  CHECK(text == canonical);
  // Reused after Take(), and empty.
  CHECK(d.Take() == "{}");
  d.Int("k", 1);
  CHECK(d.Take() == R"({"k":1})");
}

// Strings are escaped exactly as Boost.JSON's serializer escapes them (chains written with it
// keep verifying), whatever mix of plain, UTF-8 and escaped bytes they hold.
TEST_CASE("canonical strings are Boost.JSON's") {
  std::mt19937_64 rng(11);
  const std::string special("\"\\\b\f\n\r\t\x01\x1f\x7f\xc3\xa9", 12);
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    const size_t len = rng() % 48;
    for (size_t i = 0; i < len; ++i) s.push_back(rng() % 3 ? 'a' : special[rng() % special.size()]);
    std::string out;
    AppendBoostJsonString(out, s);
    REQUIRE(out == boost::json::serialize(boost::json::string(s)));
  }
}

}  // namespace
}  // namespace pai::audit
