#include "gateway/relay/scrub.h"

#include <algorithm>
#include <cstring>

namespace pai::gateway {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// DecodeEscape() decodes the JSON escape at p[0] == '\\' into one character (a code point
// >= 0x80 becomes 0, which no 8-gram holds) and its raw length. Not an escape: the backslash
// itself, length 1. False when the escape is cut by the end of the text and `final` is false.
bool DecodeEscape(const char* p, size_t n, bool final, unsigned char* c, size_t* len) {
  *c = '\\';
  *len = 1;
  if (n < 2) return final;
  switch (p[1]) {
    case '"':
    case '\\':
    case '/':
      *c = static_cast<unsigned char>(p[1]);
      *len = 2;
      return true;
    case 'b':
      *c = '\b';
      *len = 2;
      return true;
    case 'f':
      *c = '\f';
      *len = 2;
      return true;
    case 'n':
      *c = '\n';
      *len = 2;
      return true;
    case 'r':
      *c = '\r';
      *len = 2;
      return true;
    case 't':
      *c = '\t';
      *len = 2;
      return true;
    case 'u':
      break;
    default:
      return true;
  }
  unsigned cp = 0;
  for (size_t j = 2; j < 6; ++j) {
    if (j >= n) return final;  // cut: decide when the rest arrives
    const int h = HexValue(p[j]);
    if (h < 0) return true;  // not an escape: a literal backslash
    cp = cp << 4 | static_cast<unsigned>(h);
  }
  *c = cp < 0x80 ? static_cast<unsigned char>(cp) : 0;
  *len = 6;
  return true;
}

// The filter: 65536 bits over the keys' 8-grams, then 65536 bits over their 4-byte runs.
constexpr size_t kFilterWords = 65536 / 64;
// Escape-free spans at least this long take the 4-byte probe path.
constexpr size_t kFastSpan = 32;

uint32_t Hash4(uint32_t four) { return (four * 0x9E3779B1u) >> 16; }

// Gram() is the 8 bytes at `p` as an 8-gram (first byte highest, as the rolling update makes).
uint64_t Gram(const char* p) {
  uint64_t g;
  std::memcpy(&g, p, 8);
  return __builtin_bswap64(g);
}

}  // namespace

KeyScrubber::KeyScrubber(const std::vector<std::string>& keys) : filter_(2 * kFilterWords, 0) {
  for (const std::string& key : keys) {
    if (key.size() < kMinRun) continue;
    for (size_t i = 0; i + kMinRun <= key.size(); ++i) {
      uint64_t gram = 0;
      bool has_nul = false;
      for (size_t j = 0; j < kMinRun; ++j) {
        const auto c = static_cast<unsigned char>(key[i + j]);
        has_nul = has_nul || c == 0;
        gram = gram << 8 | c;
      }
      if (has_nul) continue;
      grams_.insert(gram);
      const uint64_t h = (gram * 0x9E3779B97F4A7C15ull) >> 48;
      filter_[h >> 6] |= uint64_t{1} << (h & 63);
      for (size_t j = 0; j + 4 <= kMinRun; ++j) {
        uint32_t four;
        std::memcpy(&four, key.data() + i + j, 4);
        const uint32_t h4 = Hash4(four);
        filter_[kFilterWords + (h4 >> 6)] |= uint64_t{1} << (h4 & 63);
      }
    }
  }
}

void KeyScrubber::Scan(std::string_view text, bool final, ScanResult* out) const {
  out->regions.clear();
  const char* p = text.data();
  const size_t n = text.size();
  const uint64_t* filter4 = filter_.data() + kFilterWords;
  uint64_t gram = 0;
  size_t k = 0;
  auto add_region = [out](size_t begin, size_t end) {
    if (!out->regions.empty() && begin <= out->regions.back().end) {
      out->regions.back().end = std::max(out->regions.back().end, end);
    } else {
      out->regions.push_back(Region{begin, end});
    }
  };
  // One decoded character `c` whose raw bytes are [start, end).
  auto step = [&](unsigned char c, size_t start, size_t end) {
    gram = gram << 8 | c;
    out->starts[k & 7] = start;
    ++k;
    if (Hit(gram) && k >= kMinRun && grams_.contains(gram)) {
      add_region(out->starts[k & 7], end);  // the window's first character (number k - 8)
    }
  };
  size_t i = 0;
  while (i < n) {
    if (p[i] == '\\') {
      unsigned char c = '\\';
      size_t len = 1;
      if (!DecodeEscape(p + i, n - i, final, &c, &len)) break;
      step(c, i, i + len);
      i += len;
      continue;
    }
    const void* slash = std::memchr(p + i, '\\', n - i);
    const size_t e = slash ? static_cast<size_t>(static_cast<const char*>(slash) - p) : n;
    if (e - i < kFastSpan) {
      for (; i < e; ++i) step(static_cast<unsigned char>(p[i]), i, i + 1);
      continue;
    }
    // An escape-free span: one character per byte. Windows that begin before it end within its
    // first 7 bytes (stepped); a window inside it holds a 4-byte run at an offset that is a
    // multiple of 4 from its start, which is probed first (a quarter of the probes).
    const size_t s = i;
    for (; i < s + kMinRun - 1; ++i) step(static_cast<unsigned char>(p[i]), i, i + 1);
    for (size_t q = s; q + 4 <= e; q += 4) {
      uint32_t four;
      std::memcpy(&four, p + q, 4);
      const uint32_t h4 = Hash4(four);
      if (!((filter4[h4 >> 6] >> (h4 & 63)) & 1)) continue;
      const size_t hi = std::min(q + 8, e);
      for (size_t x = std::max(q + 4, s + kMinRun); x <= hi; ++x) {
        const uint64_t g = Gram(p + x - kMinRun);
        if (Hit(g) && grams_.contains(g)) add_region(x - kMinRun, x);
      }
    }
    k += e - i;
    gram = Gram(p + e - kMinRun);
    for (size_t j = 0; j < kMinRun; ++j) out->starts[(k - kMinRun + j) & 7] = e - kMinRun + j;
    i = e;
  }
  out->decoded_end = i;
  out->chars = k;
}

size_t KeyScrubber::Scrub(std::string& text) const {
  if (empty()) return 0;
  ScanResult r;
  Scan(text, /*final=*/true, &r);
  if (r.regions.empty()) return 0;
  std::string out;
  out.reserve(text.size());
  size_t at = 0;
  for (const Region& g : r.regions) {
    out.append(text, at, g.begin - at);
    out += kMarker;
    at = g.end;
  }
  out.append(text, at, std::string::npos);
  text = std::move(out);
  return r.regions.size();
}

bool KeyScrubber::Contains(std::string_view text) const {
  if (empty()) return false;
  ScanResult r;
  Scan(text, /*final=*/true, &r);
  return !r.regions.empty();
}

void ScrubStream::Feed(std::string_view in, std::string& out) {
  if (!scrubber_ || scrubber_->empty()) {
    out.append(in);
    return;
  }
  buf_.append(in);
  Emit(/*final=*/false, out);
}

void ScrubStream::Finish(std::string& out) {
  if (!scrubber_ || scrubber_->empty() || buf_.empty()) return;
  Emit(/*final=*/true, out);
}

void ScrubStream::Emit(bool final, std::string& out) {
  scrubber_->Scan(buf_, final, &scan_);
  // Held back: the last 7 decoded characters (they may begin a run the next piece completes)
  // and an undecoded escape. No 8-character window lies inside them, so no region starts there.
  size_t hold = buf_.size();
  if (!final) {
    constexpr size_t kKeep = KeyScrubber::kMinRun - 1;
    hold = scan_.chars >= kKeep ? scan_.starts[(scan_.chars - kKeep) & 7] : 0;
  }
  size_t emitted = redacted_prefix_;
  bool in_marker = marker_open_;  // buf_ starts where a redacted stretch ended or goes on
  for (const KeyScrubber::Region& r : scan_.regions) {
    if (in_marker && r.begin <= emitted) {  // the stretch continues (or touches the last one)
      emitted = std::max(emitted, r.end);
      continue;
    }
    out.append(buf_, emitted, r.begin - emitted);
    out += KeyScrubber::kMarker;
    ++redactions_;
    emitted = r.end;
    in_marker = true;
  }
  // A marker that reaches the held-back bytes may go on with them.
  marker_open_ = !final && in_marker && emitted >= hold;
  if (emitted < hold) {
    out.append(buf_, emitted, hold - emitted);
    emitted = hold;
  }
  if (final) {
    buf_.clear();
    redacted_prefix_ = 0;
    return;
  }
  redacted_prefix_ = emitted - hold;
  buf_.erase(0, hold);
}

}  // namespace pai::gateway
