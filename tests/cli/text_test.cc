#include "cli/pai/text.h"

#include <catch2/catch.hpp>

#include "boost/json/parse.hpp"

namespace pai::cli {
namespace {

TEST_CASE("thousands separators group by three", "[cli]") {
  CHECK(FormatThousands(0) == "0");
  CHECK(FormatThousands(999) == "999");
  CHECK(FormatThousands(1000) == "1,000");
  CHECK(FormatThousands(12450) == "12,450");
  CHECK(FormatThousands(5000000) == "5,000,000");
  CHECK(FormatThousands(-1234567) == "-1,234,567");
}

TEST_CASE("ages render kubectl-style with one unit", "[cli]") {
  CHECK(FormatAge(10) == "10s");
  CHECK(FormatAge(59) == "59s");
  CHECK(FormatAge(600) == "10m");
  CHECK(FormatAge(2 * 3600 + 59 * 60) == "2h");
  CHECK(FormatAge(5 * 86400 + 100) == "5d");
  CHECK(FormatAge(400 * 86400) == "1y");
  CHECK(FormatAge(-5) == "0s");
}

TEST_CASE("RFC 3339 times parse with fractions and offsets", "[cli]") {
  CHECK(ParseRfc3339("1970-01-01T00:00:00Z") == 0);
  CHECK(ParseRfc3339("2026-04-14T14:18:30Z") == 1776176310);
  CHECK(ParseRfc3339("2026-04-14T14:18:30.123Z") == 1776176310);
  CHECK(ParseRfc3339("2026-04-14T16:18:30+02:00") == 1776176310);
  CHECK_FALSE(ParseRfc3339("2026-04-14").has_value());
  CHECK_FALSE(ParseRfc3339("garbage").has_value());
  CHECK(FormatUtc(1776176310) == "2026-04-14 14:18:30");
}

TEST_CASE("display width counts code points and truncation ends in an ellipsis", "[cli]") {
  CHECK(DisplayWidth("abc") == 3);
  CHECK(DisplayWidth("\u2014") == 1);
  CHECK(DisplayWidth("a\u2026b") == 3);
  CHECK(Truncate("short", 40) == "short");
  const std::string t = Truncate("Analyze Q4 sales data and produce a report for the board", 35);
  CHECK(DisplayWidth(t) <= 35);
  CHECK(t == "Analyze Q4 sales data and produce\u2026");
  CHECK(Truncate("\u00e9\u00e9\u00e9\u00e9", 3) == "\u00e9\u00e9\u2026");
}

TEST_CASE("percent-encoding keeps only unreserved characters", "[cli]") {
  CHECK(PercentEncode("coder-1.a_b~") == "coder-1.a_b~");
  CHECK(PercentEncode("a/b c") == "a%2Fb%20c");
  CHECK(PercentEncode("llm_call,guard") == "llm_call%2Cguard");
  CHECK(PercentEncode("2026-04-14T14:18:30+02:00") == "2026-04-14T14%3A18%3A30%2B02%3A00");
}

TEST_CASE("base64 pads as RFC 4648 says", "[cli]") {
  CHECK(Base64Encode("") == "");
  CHECK(Base64Encode("f") == "Zg==");
  CHECK(Base64Encode("fo") == "Zm8=");
  CHECK(Base64Encode("foo") == "Zm9v");
  CHECK(Base64Encode("foobar") == "Zm9vYmFy");
  CHECK(Base64Encode(std::string("\xff\x00", 2)) == "/wA=");
}

TEST_CASE("pretty JSON indents by two and keeps member order", "[cli]") {
  CHECK(PrettyJson(boost::json::parse(R"({"b":1,"a":[1,{}],"c":{}})")) ==
        "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    {}\n  ],\n  \"c\": {}\n}\n");
}

TEST_CASE("random suffixes are lowercase alphanumerics", "[cli]") {
  const std::string s = RandomSuffix(6);
  REQUIRE(s.size() == 6);
  for (char c : s) CHECK(((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')));
}

}  // namespace
}  // namespace pai::cli
