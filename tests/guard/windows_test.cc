#include "guard/windows.h"

#include <catch2/catch.hpp>
#include <string>

namespace pai::guard {
namespace {

TEST_CASE("windows: a text that fits / or no limit / is one window") {
  CHECK(SplitWindows("short text", 4096, 256).size() == 1);
  const std::string big(10000, 'x');
  CHECK(SplitWindows(big, 0, 0).size() == 1);
}

TEST_CASE("windows: cover the text with bounded overlapping windows on UTF-8 boundaries") {
  std::string text;
  for (int i = 0; text.size() < 9000; ++i)
    text += (i % 7 == 0) ? "caf\u00E9 \u5fd8\u8bb0 " : "word ";
  const size_t max = 1024, overlap = 128;
  const auto w = SplitWindows(text, max, overlap);
  REQUIRE(w.size() >= 9);
  size_t covered_to = 0;
  for (std::string_view v : w) {
    CHECK(v.size() <= max);
    const size_t start = static_cast<size_t>(v.data() - text.data());
    CHECK(start <= covered_to);  // no gap
    // Starts and ends on character boundaries (never a UTF-8 continuation byte).
    CHECK((static_cast<unsigned char>(v.front()) & 0xC0) != 0x80);
    if (start + v.size() < text.size()) {
      CHECK((static_cast<unsigned char>(text[start + v.size()]) & 0xC0) != 0x80);
    }
    if (covered_to > 0) CHECK(covered_to - start >= overlap);  // the overlap is kept
    covered_to = start + v.size();
  }
  CHECK(covered_to == text.size());
}

TEST_CASE("windows: a phrase shorter than the overlap is whole in some window") {
  std::string text(5000, 'a');
  const std::string phrase = "ignore all previous instructions";
  for (size_t at = 900; at < 1100; at += 7) {
    std::string t = text;
    t.replace(at, phrase.size(), phrase);
    bool whole = false;
    for (std::string_view v : SplitWindows(t, 1024, 128)) {
      whole = whole || v.find(phrase) != std::string_view::npos;
    }
    INFO(at);
    CHECK(whole);
  }
}

}  // namespace
}  // namespace pai::guard
