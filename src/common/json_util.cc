#include "common/json_util.h"

#include <cstdint>
#include <cstring>

#include "absl/time/civil_time.h"

namespace pai {

std::string FormatRfc3339Millis(absl::Time t) {
  std::string out;
  AppendRfc3339Millis(out, t);
  return out;
}

void AppendRfc3339Millis(std::string& out, absl::Time t) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::CivilSecond cs = absl::ToCivilSecond(t, utc);  // floors, as %E3S truncates
  if (cs.year() < 1000 || cs.year() > 9999) {  // absl does not pad; also the infinite times
    out += absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, utc);
    return;
  }
  const int64_t ms = absl::ToInt64Milliseconds(t - absl::FromCivil(cs, utc));  // 0..999
  // YYYY-MM-DDTHH:MM:SS.mmmZ: each part's digits, then the character after it.
  const int64_t parts[] = {cs.year(),   cs.month(),  cs.day(), cs.hour(),
                           cs.minute(), cs.second(), ms};
  static constexpr int kDigits[] = {4, 2, 2, 2, 2, 2, 3};
  static constexpr char kAfter[] = "--T::.Z";
  char b[24];
  int at = 0;
  for (int p = 0; p < 7; ++p) {
    int64_t v = parts[p];
    for (int i = kDigits[p] - 1; i >= 0; --i, v /= 10) b[at + i] = static_cast<char>('0' + v % 10);
    at += kDigits[p];
    b[at++] = kAfter[p];
  }
  out.append(b, sizeof(b));
}

std::string HexEncode(const unsigned char* p, size_t n) {
  std::string out;
  out.reserve(n * 2);
  AppendHex(out, p, n);
  return out;
}

void AppendHex(std::string& out, const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
}

size_t FindJsonEscape(std::string_view s, size_t from) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  // A byte of `w` is below n (n <= 0x80) iff its bit 7 is set in (w - n*kOnes) & ~w & kHigh
  // ("Bit Twiddling Hacks", hasless): a nonzero result means such a byte exists (the bits
  // above the first one may be false positives, so the word is then scanned byte by byte).
  const auto below = [](uint64_t w, uint64_t n) { return (w - n * kOnes) & ~w & kHigh; };
  const char* p = s.data();
  const size_t n = s.size();
  size_t i = from;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, sizeof w);
    if (below(w, 0x20) | below(w ^ ('"' * kOnes), 1) | below(w ^ ('\\' * kOnes), 1)) break;
  }
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x20 || c == '"' || c == '\\') return i;
  }
  return n;
}

void AppendJsonStringAs(std::string& out, std::string_view s, bool short_bf) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // start of the pending run of bytes copied as they are
  for (size_t i = FindJsonEscape(s, 0); i < s.size(); i = FindJsonEscape(s, i + 1)) {
    const auto c = static_cast<unsigned char>(s[i]);
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        if (short_bf) {
          out += "\\b";
          continue;
        }
        break;
      case '\f':
        if (short_bf) {
          out += "\\f";
          continue;
        }
        break;
      default:
        break;
    }
    out += "\\u00";
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void AppendJsonString(std::string& out, std::string_view s) { AppendJsonStringAs(out, s, false); }

}  // namespace pai
