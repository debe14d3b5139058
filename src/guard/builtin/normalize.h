// Unicode normalisation before scanning (internal to src/guard): the UTF-8 decoding and the
// per-code-point mapping behind NormalizeForScan(), which the public header
// guard/builtin_classifier.h declares and normalize.cc defines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pai::guard::builtin {

// Decode() reads the UTF-8 sequence at text[i] (i < text.size()): returns its code point and
// sets *len to its length in bytes; or returns 0 with *len = 0 when text[i] is ASCII or a
// continuation byte, or the sequence is truncated or has a bad continuation byte (overlong forms
// are not rejected). Pure.
uint32_t Decode(std::string_view text, size_t i, int* len);

// Replacement() says what becomes of code point `cp`: -1 keep it, 0 drop it (invisible), or
// an ASCII byte to put instead. Pure.
int Replacement(uint32_t cp);

}  // namespace pai::guard::builtin
