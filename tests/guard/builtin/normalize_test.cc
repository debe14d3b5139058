// Unit tests of the Unicode normalisation before scanning: Decode(), Replacement() and
// NormalizeForScan() on inputs whose results follow from src/guard/builtin/normalize.cc.
#include "guard/builtin/normalize.h"

#include <catch2/catch.hpp>
#include <string>

#include "guard/builtin_classifier.h"

namespace pai::guard::builtin {
namespace {

TEST_CASE("builtin/normalize: Decode reads whole UTF-8 sequences and rejects the rest") {
  int len = -1;
  CHECK(Decode("\u00E9", 0, &len) == 0xE9);
  CHECK(len == 2);
  CHECK(Decode("x\u200B", 1, &len) == 0x200B);
  CHECK(len == 3);
  CHECK(Decode("\U0001D400", 0, &len) == 0x1D400);
  CHECK(len == 4);
  // ASCII, a stray continuation byte, a truncated sequence, a bad continuation byte.
  CHECK(Decode("a", 0, &len) == 0);
  CHECK(len == 0);
  CHECK(Decode("\x80", 0, &len) == 0);
  CHECK(len == 0);
  CHECK(Decode(std::string_view("\xE2\x80", 2), 0, &len) == 0);
  CHECK(len == 0);
  CHECK(Decode("\xC3(", 0, &len) == 0);
  CHECK(len == 0);
}

TEST_CASE("builtin/normalize: Replacement drops invisibles and maps look-alikes to ASCII") {
  // Dropped: zero-width space, soft hyphen, word joiner, variation selector, BOM, tag controls.
  for (uint32_t cp : {0x200Bu, 0x00ADu, 0x2060u, 0xFE0Fu, 0xFEFFu, 0xE0001u, 0xE007Fu}) {
    INFO(cp);
    CHECK(Replacement(cp) == 0);
  }
  CHECK(Replacement(0xE0041) == 'A');  // tag character
  CHECK(Replacement(0xFF21) == 'A');   // fullwidth A
  CHECK(Replacement(0xFF5E) == '~');   // fullwidth tilde, the last fullwidth form mapped
  CHECK(Replacement(0x3000) == ' ');   // ideographic space
  CHECK(Replacement(0x1D400) == 'A');  // mathematical bold capital A
  CHECK(Replacement(0x1D41A) == 'a');  // mathematical bold small a
  CHECK(Replacement(0x1D434) == 'A');  // mathematical italic capital A (the next alphabet)
  CHECK(Replacement(0x1D7CE) == '0');  // mathematical bold digit zero
  CHECK(Replacement(0x1D7D8) == '0');  // the next digit style
  // Kept: ordinary letters of any script.
  CHECK(Replacement(0xE9) == -1);
  CHECK(Replacement(0x043E) == -1);
  CHECK(Replacement(0x4E2D) == -1);
}

TEST_CASE("builtin/normalize: NormalizeForScan keeps what needs no change and copies once") {
  std::string out = "untouched";
  CHECK_FALSE(NormalizeForScan("", &out));
  CHECK_FALSE(NormalizeForScan("caf\u00E9 \u043E \u4E2D", &out));
  CHECK_FALSE(NormalizeForScan("\xC3(", &out));  // invalid UTF-8 alone is left as it is
  CHECK(out == "untouched");
  // Past the 8-byte ASCII fast path; invalid bytes before the change are kept.
  REQUIRE(NormalizeForScan("0123456789abcdef\u200Bxyz", &out));
  CHECK(out == "0123456789abcdefxyz");
  REQUIRE(NormalizeForScan("\xC3(\u00E9\uFF29\uFF47", &out));
  CHECK(out == "\xC3(\u00E9Ig");
  REQUIRE(NormalizeForScan("a\U000E0069\U000E0067b", &out));
  CHECK(out == "aigb");
}

}  // namespace
}  // namespace pai::guard::builtin
