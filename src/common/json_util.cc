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

namespace {

// The first instant of year 10000 in Unix milliseconds: past it absl's text is used.
constexpr int64_t kYear10000Millis = 253402300800000;

// CivilFromDays(): the proleptic Gregorian date of `days` since 1970-01-01 (days >= 0), by
// Howard Hinnant's civil_from_days ("chrono-Compatible Low-Level Date Algorithms").
void CivilFromDays(int64_t days, int64_t* y, int64_t* m, int64_t* d) {
  const int64_t z = days + 719468;
  const int64_t era = z / 146097;
  const int64_t doe = z - era * 146097;                                       // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

}  // namespace

void AppendRfc3339Millis(std::string& out, absl::Time t) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  int64_t parts[7];  // year, month, day, hour, minute, second, millisecond
  if (t >= absl::UnixEpoch() && t < absl::FromUnixMillis(kYear10000Millis)) {
    // The usual case (every record's time), in integer arithmetic: no time zone lookup.
    const int64_t ms = absl::ToUnixMillis(t);  // truncates: the floor, from 1970 on
    const int64_t secs = ms / 1000;
    CivilFromDays(secs / 86400, &parts[0], &parts[1], &parts[2]);
    parts[3] = secs % 86400 / 3600;
    parts[4] = secs % 3600 / 60;
    parts[5] = secs % 60;
    parts[6] = ms % 1000;
  } else {
    const absl::CivilSecond cs = absl::ToCivilSecond(t, utc);  // floors, as %E3S truncates
    if (cs.year() < 1000 || cs.year() > 9999) {  // absl does not pad; also the infinite times
      out += absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, utc);
      return;
    }
    parts[0] = cs.year();
    parts[1] = cs.month();
    parts[2] = cs.day();
    parts[3] = cs.hour();
    parts[4] = cs.minute();
    parts[5] = cs.second();
    parts[6] = absl::ToInt64Milliseconds(t - absl::FromCivil(cs, utc));  // 0..999
  }
  // YYYY-MM-DDTHH:MM:SS.mmmZ: each part's digits, then the character after it.
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
  const size_t at = out.size();
  out.resize(at + 2 * n);  // then written in place: no capacity check per character
  char* d = out.data() + at;
  for (size_t i = 0; i < n; ++i) {
    d[2 * i] = kDigits[p[i] >> 4];
    d[2 * i + 1] = kDigits[p[i] & 15];
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
