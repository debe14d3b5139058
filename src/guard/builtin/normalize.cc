// Unicode normalisation before scanning: NormalizeForScan() (declared in
// guard/builtin_classifier.h) and its helpers Decode() and Replacement() (normalize.h).
#include "guard/builtin/normalize.h"

#include <cstring>
#include <string>

#include "guard/builtin_classifier.h"

namespace pai::guard {
namespace builtin {

// Decode() reads the UTF-8 sequence at text[i]: its code point and length (0 when invalid).
uint32_t Decode(std::string_view text, size_t i, int* len) {
  const unsigned char c = text[i];
  int n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  *len = 0;
  if (n == 1 || i + n > text.size()) return 0;
  uint32_t cp = c & (0x7F >> n);
  for (int k = 1; k < n; ++k) {
    const unsigned char d = text[i + k];
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  *len = n;
  return cp;
}

// Replacement() says what becomes of code point `cp`: -1 keep it, 0 drop it (invisible), or
// an ASCII byte to put instead.
int Replacement(uint32_t cp) {
  // Invisible or default-ignorable characters that split keywords without showing.
  if (cp == 0x00AD || cp == 0x034F || cp == 0x180E || (cp >= 0x200B && cp <= 0x200F) ||
      (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF || (cp >= 0xFE00 && cp <= 0xFE0F) ||
      (cp >= 0xE0100 && cp <= 0xE01EF) || cp == 0xE0001 || cp == 0xE007F) {
    return 0;
  }
  // Unicode tag characters ("ASCII smuggling"): U+E0020–U+E007E carry ASCII invisibly.
  if (cp >= 0xE0020 && cp <= 0xE007E) return static_cast<int>(cp - 0xE0000);
  if (cp >= 0xFF01 && cp <= 0xFF5E) return static_cast<int>(cp - 0xFF01 + 0x21);  // fullwidth
  if (cp == 0x3000) return ' ';  // ideographic space
  // Mathematical alphanumerics (bold, italic, script, ... letters and digits).
  if (cp >= 0x1D400 && cp <= 0x1D6A3) {
    const uint32_t k = (cp - 0x1D400) % 52;
    return static_cast<int>(k < 26 ? 'A' + k : 'a' + (k - 26));
  }
  if (cp >= 0x1D7CE && cp <= 0x1D7FF) return static_cast<int>('0' + (cp - 0x1D7CE) % 10);
  return -1;
}

}  // namespace builtin

bool NormalizeForScan(std::string_view text, std::string* out) {
  size_t first = text.size();
  for (size_t i = 0; i < text.size(); ++i) {
    // ASCII text is the common case: skip 8 bytes at a time while no byte has its high bit.
    while (i + 8 <= text.size()) {
      uint64_t word;
      std::memcpy(&word, text.data() + i, 8);
      if (word & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= text.size()) break;
    if (static_cast<unsigned char>(text[i]) < 0xC2) continue;
    int len = 0;
    const uint32_t cp = builtin::Decode(text, i, &len);
    if (len > 0 && builtin::Replacement(cp) >= 0) {
      first = i;
      break;
    }
  }
  if (first == text.size()) return false;
  out->assign(text.substr(0, first));
  for (size_t i = first; i < text.size();) {
    const unsigned char c = text[i];
    int len = 0;
    const uint32_t cp = c >= 0xC2 ? builtin::Decode(text, i, &len) : 0;
    const int r = len > 0 ? builtin::Replacement(cp) : -1;
    if (r < 0) {
      const size_t n = len > 0 ? static_cast<size_t>(len) : 1;
      out->append(text.substr(i, n));
      i += n;
      continue;
    }
    if (r > 0) out->push_back(static_cast<char>(r));
    i += static_cast<size_t>(len);
  }
  return true;
}

}  // namespace pai::guard
