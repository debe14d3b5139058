// Obfuscation variants and encoded payloads of the builtin classifier: the deobfuscators that
// undo leetspeak, spaced letters, Cyrillic homoglyphs, percent/\u escapes, ROT13 and reversed
// text, and the pass that finds and decodes base64/hex payloads (gathering, on the way, the
// features that decide which deobfuscators run).
#include "guard/builtin/deobfuscate.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "common/strings.h"

namespace pai::guard::builtin {
namespace {

// Payload decoding: runs of base64/hex long enough to hide an instruction.
constexpr size_t kMinBase64Run = 20;
constexpr size_t kMinHexRun = 32;
// Payloads decoded per text: enough that harmless ones (hashes, keys, images in code) cannot
// hide a later one in any realistic text; the decoded bytes are capped too (each is rescanned).
constexpr size_t kMaxPayloads = 64;
constexpr size_t kMaxPayloadBytes = size_t{16} * 1024;
constexpr size_t kMaxDecodedBytes = size_t{256} * 1024;

// Byte classes for the per-byte loops (a table, not branches: these loops run over every
// classified byte).
enum : uint8_t { kAlpha = 1, kDigit = 2, kB64 = 4, kHex = 8 };
constexpr std::array<uint8_t, 256> kClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 32] = kAlpha | kB64;
  for (int c = '0'; c <= '9'; ++c) t[c] = kDigit | kB64 | kHex;
  for (int c = 'a'; c <= 'f'; ++c) t[c] |= kHex, t[c - 32] |= kHex;
  t['+'] = t['/'] = t['-'] = t['_'] = kB64;
  return t;
}();
inline uint8_t ClassOf(char c) { return kClass[static_cast<unsigned char>(c)]; }

}  // namespace

// MostlyText(): a decoded payload worth rescanning — at least 85 % printable ASCII/UTF-8.
bool MostlyText(std::string_view s) {
  if (s.size() < 12) return false;
  size_t good = 0;
  for (unsigned char c : s) {
    if ((c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t' || c == '\r' || c >= 0x80) ++good;
  }
  return good * 100 >= s.size() * 85;
}

// --- obfuscation variants -------------------------------------------------------------------

// Leetspeak inside words that mix letters and digits: "1gn0r3 4ll" -> "ignore all".
bool Unleet(std::string_view text, const Features& features, std::string* out) {
  static constexpr char kMap[] = "oizeasgtbg";  // 0..9 (2→z, 6→g, 8→b, 9→g)
  // Only short words mixing letters and digits count (identifiers and base64 runs are long),
  // and at least two of them: one "mp3" or "h264" is not leetspeak.
  if (features.leet_words < 2) return false;
  bool changed = false;
  out->assign(text);
  size_t i = 0;
  while (i < out->size()) {
    size_t j = i;
    bool letters = false, digits = false;
    while (j < out->size() &&
           (absl::ascii_isalnum((*out)[j]) || (*out)[j] == '@' || (*out)[j] == '$')) {
      letters = letters || absl::ascii_isalpha((*out)[j]);
      digits = digits || absl::ascii_isdigit((*out)[j]) || (*out)[j] == '@' || (*out)[j] == '$';
      ++j;
    }
    if (letters && digits && j - i <= 14) {
      for (size_t k = i; k < j; ++k) {
        char& c = (*out)[k];
        if (absl::ascii_isdigit(c)) {
          c = kMap[c - '0'];
        } else if (c == '@') {
          c = 'a';
        } else if (c == '$') {
          c = 's';
        }
      }
      changed = true;
    }
    i = j == i ? i + 1 : j;
  }
  return changed;
}

// Letters spaced out: "I g n o r e   a l l" -> "Ignore all" (runs of >= 4 single letters).
bool Unspace(std::string_view text, const Features& features, std::string* out) {
  const bool found = features.spaced;
  if (!found) return false;
  out->clear();
  bool changed = false;
  size_t i = 0;
  while (i < text.size()) {
    // A run: letter (space letter)+ with single spaces.
    size_t j = i, letters = 0;
    while (j < text.size() && absl::ascii_isalpha(text[j]) &&
           (j + 1 >= text.size() || !absl::ascii_isalpha(text[j + 1]))) {
      ++letters;
      if (j + 2 < text.size() && text[j + 1] == ' ' && absl::ascii_isalpha(text[j + 2]) &&
          (j == 0 || !absl::ascii_isalpha(text[j - 1]) || j > i)) {
        j += 2;
      } else {
        ++j;
        break;
      }
    }
    if (letters >= 4) {
      for (size_t k = i; k < j; ++k) {
        if (text[k] != ' ') out->push_back(text[k]);
      }
      changed = true;
      i = j;
    } else {
      out->push_back(text[i]);
      ++i;
    }
  }
  return changed;
}

// Cyrillic letters that look Latin, inside Latin words: "ignоre" (о = U+043E) -> "ignore".
bool Unhomoglyph(std::string_view text, const Features& features, std::string* out) {
  auto latin = [](unsigned char c) { return c < 0x80 && absl::ascii_isalpha(c); };
  auto map = [](unsigned char a, unsigned char b) -> char {
    if (a == 0xD0) {
      switch (b) {
        case 0xB0:
          return 'a';
        case 0xB5:
          return 'e';
        case 0xBE:
          return 'o';
        case 0x90:
          return 'A';
        case 0x95:
          return 'E';
        case 0x9E:
          return 'O';
        case 0xA0:
          return 'P';
        case 0xA1:
          return 'C';
        case 0xA2:
          return 'T';
        case 0x9D:
          return 'H';
        case 0x9A:
          return 'K';
        case 0x9C:
          return 'M';
        case 0x92:
          return 'B';
        case 0x85:
          return 'S';
        case 0x86:
          return 'I';
      }
    } else if (a == 0xD1) {
      switch (b) {
        case 0x80:
          return 'p';
        case 0x81:
          return 'c';
        case 0x83:
          return 'y';
        case 0x85:
          return 'x';
        case 0x96:
          return 'i';
        case 0x95:
          return 's';
      }
    }
    return 0;
  };
  if (!features.cyrillic) return false;
  bool changed = false;
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = text[i];
    if ((c == 0xD0 || c == 0xD1) && i + 1 < text.size()) {
      const char m = map(c, static_cast<unsigned char>(text[i + 1]));
      const bool beside_latin =
          (i > 0 && latin(text[i - 1])) || (i + 2 < text.size() && latin(text[i + 2]));
      if (m && beside_latin) {
        out->push_back(m);
        ++i;
        changed = true;
        continue;
      }
    }
    out->push_back(text[i]);
  }
  return changed;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-encoding (%49%67...) and JSON/JS \uXXXX escapes of ASCII, when at least 4 appear.
bool Unescape(std::string_view text, const Features& features, std::string* out) {
  int escapes = features.escapes;
  if (escapes < 4) return false;
  escapes = 0;
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out->push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
      ++escapes;
    } else if (text[i] == '\\' && i + 5 < text.size() && text[i + 1] == 'u' && text[i + 2] == '0' &&
               text[i + 3] == '0' && HexValue(text[i + 4]) >= 0 && HexValue(text[i + 5]) >= 0) {
      out->push_back(static_cast<char>(HexValue(text[i + 4]) * 16 + HexValue(text[i + 5])));
      i += 5;
      ++escapes;
    } else {
      out->push_back(text[i]);
    }
  }
  return escapes >= 4;
}

// ROT13, when the text names it.
bool Rot13(std::string_view text, const Features& features, std::string* out) {
  if (!features.rot13) return false;
  out->assign(text);
  for (char& c : *out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>('a' + (c - 'a' + 13) % 26);
    if (c >= 'A' && c <= 'Z') c = static_cast<char>('A' + (c - 'A' + 13) % 26);
  }
  return true;
}

// Reversed text, when the text asks for reading backwards.
bool Reverse(std::string_view text, const Features& features, std::string* out) {
  if (!features.reverse) return false;
  out->assign(text.rbegin(), text.rend());
  return true;
}

namespace {

constexpr Deobfuscator kDeobfuscators[] = {
    {"encoded.leetspeak", Unleet},
    {"encoded.spaced_letters", Unspace},
    {"encoded.homoglyphs", Unhomoglyph},
    {"encoded.escapes", Unescape},
    {"encoded.rot13", Rot13},
    {"encoded.reversed", Reverse},
};

}  // namespace

std::span<const Deobfuscator> Deobfuscators() { return kDeobfuscators; }

// --- encoded payloads -----------------------------------------------------------------------

void ScanPayloads(std::string_view text, bool top, Features* features_out,
                  absl::FunctionRef<void(std::string_view decoded, size_t end)> on_payload) {
  Features& features = *features_out;
  const size_t n = text.size();
  size_t payloads = 0, decoded_total = 0, single_run = 0, last_single_end = std::string_view::npos;
  std::string decoded;
  for (size_t i = 0; i < n;) {
    const unsigned char c = text[i];
    if (!(kClass[c] & kB64)) {
      if (top) {
        if (c == 0xD0 || c == 0xD1) {
          features.cyrillic = true;
        } else if ((c == '%' && i + 2 < n && (ClassOf(text[i + 1]) & kHex) &&
                    (ClassOf(text[i + 2]) & kHex)) ||  // %XX
                   (c == '\\' && i + 5 < n && text[i + 1] == 'u' && text[i + 2] == '0' &&
                    text[i + 3] == '0')) {  // \u00XX
          ++features.escapes;
        }
      }
      ++i;
      continue;
    }
    size_t j = i, word = i;
    bool all_hex = true, letters = false, digits = false;
    while (j < n) {
      const uint8_t cl = ClassOf(text[j]);
      if (!(cl & kB64)) break;
      all_hex = all_hex && (cl & kHex);
      if (cl & kAlpha) {
        letters = true;
      } else if (cl & kDigit) {
        digits = true;
      } else {  // + / - _ end a word (leetspeak is counted per word)
        if (letters && digits && j - word <= 14) ++features.leet_words;
        letters = digits = false;
        word = j + 1;
      }
      ++j;
    }
    if (top) {
      if (letters && digits && j - word <= 14) ++features.leet_words;
      // Spaced letters: single-letter words separated by single spaces.
      if (j - i == 1 && (ClassOf(text[i]) & kAlpha)) {
        single_run =
            (i >= 2 && last_single_end == i - 1 && text[i - 1] == ' ') ? single_run + 1 : 1;
        last_single_end = j;
        if (single_run >= 4) features.spaced = true;
      }
    }
    size_t stop = j;
    while (stop < n && text[stop] == '=' && stop - j < 2) ++stop;
    const size_t start = i;
    i = stop;
    if (payloads >= kMaxPayloads || decoded_total >= kMaxDecodedBytes) continue;
    const std::string_view run = text.substr(start, std::min(stop - start, kMaxPayloadBytes));
    bool ok = false;
    if (all_hex && run.size() >= kMinHexRun && run.size() % 2 == 0) {
      decoded = absl::HexStringToBytes(pai::AV(run));
      ok = true;
    } else if (run.size() >= kMinBase64Run) {
      ok = absl::Base64Unescape(pai::AV(run), &decoded) ||
           absl::WebSafeBase64Unescape(pai::AV(run), &decoded);
    }
    if (ok && MostlyText(decoded)) {
      ++payloads;
      decoded_total += decoded.size();
      on_payload(decoded, stop);
    }
  }
}

}  // namespace pai::guard::builtin
