// Secret scrubbing of provider bytes relayed to clients: error bodies, 200 bodies, SSE streams
// and the few header values the gateway copies.
//
// A text leaks a key when it holds a run of >= kMinRun (8) consecutive characters of one. Every
// such run is covered by 8-character windows ("8-grams") of the key, so marking each position of
// the text whose 8-character window is an 8-gram of some key marks exactly the leaked runs; each
// maximal marked stretch is replaced by "[redacted]". The scan is linear: an 8-gram is a 64-bit
// integer updated by one shift per character, tested against a 64 Kibit filter (one multiply and
// one load) and, on a filter hit, against the exact set. On spans without a backslash (most of a
// body) only every 4th position is probed, with the 4-byte runs of the keys (any 8-character run
// holds one at such a position); the 8-grams around a hit are then checked exactly.
//
// The text is matched as decoded: JSON string escapes (\uXXXX, \/, \\, \" …) are decoded before
// matching, so `sk\u002d…` (which any JSON parser turns back into the key) is found, and a
// stretch that covers escapes is replaced whole. Escapes are decoded anywhere in the text (a
// provider error may be plain text); code points >= 0x80 written as \u escapes break a run.
// "[redacted]" is plain ASCII, so a stretch inside a JSON string leaves a valid string.
//
// Keys shorter than kMinRun are not scrubbed (no real provider key is that short). Not covered:
// a key cut into pieces shorter than 8 characters, or re-encoded (base64, URL encoding).
//
// Thread safety: a KeyScrubber is immutable after construction and may be shared; a ScrubStream
// belongs to one response.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace pai::gateway {

class KeyScrubber {
 public:
  static constexpr size_t kMinRun = 8;
  static constexpr std::string_view kMarker = "[redacted]";

  // `keys`: the secrets to scrub (provider keys); shorter ones are ignored.
  explicit KeyScrubber(const std::vector<std::string>& keys = {});

  // empty(): no key to scrub (every call is then a no-op that does not scan).
  bool empty() const { return grams_.empty(); }

  // Scrub() redacts every leaked run in `text` in place; returns the number of stretches
  // replaced (0: `text` is untouched).
  size_t Scrub(std::string& text) const;

  // Contains() is true when `text` holds a leaked run.
  bool Contains(std::string_view text) const;

  // Region: a raw byte range [begin, end) of a scanned text to redact.
  struct Region {
    size_t begin;
    size_t end;
  };
  // ScanResult: what Scan() found in a buffer.
  struct ScanResult {
    std::vector<Region> regions;  // ascending, merged when they touch
    size_t decoded_end = 0;       // bytes decoded (< size when a final escape is incomplete)
    size_t chars = 0;             // decoded characters
    // Raw start offsets of the last 8 decoded characters (ring indexed by character number).
    std::array<size_t, 8> starts{};
  };
  // Scan() finds the leaked runs of `text`. With `final` false an incomplete escape at the end
  // is left undecoded (a stream continues it in its next bytes). Used by ScrubStream.
  void Scan(std::string_view text, bool final, ScanResult* out) const;

 private:
  bool Hit(uint64_t gram) const {
    const uint64_t h = (gram * 0x9E3779B97F4A7C15ull) >> 48;
    return (filter_[h >> 6] >> (h & 63)) & 1;
  }

  absl::flat_hash_set<uint64_t> grams_;
  std::vector<uint64_t> filter_;  // 65536 bits
};

// ScrubStream: scrubs a byte stream delivered in pieces (an SSE body), so that a run split across
// two pieces is still found. It holds back the bytes of the last 7 decoded characters (and an
// incomplete escape) until the next piece shows whether they start a leaked run.
class ScrubStream {
 public:
  // `scrubber` may be null or empty: the stream then passes bytes through unchanged.
  explicit ScrubStream(const KeyScrubber* scrubber) : scrubber_(scrubber) {}

  // Feed() appends to `out` the scrubbed bytes of `in` that are final.
  void Feed(std::string_view in, std::string& out);
  // Finish() appends what is held back (the stream ended).
  void Finish(std::string& out);
  // redactions() is the number of stretches replaced so far.
  size_t redactions() const { return redactions_; }

 private:
  void Emit(bool final, std::string& out);

  const KeyScrubber* scrubber_;
  std::string buf_;             // held-back bytes, then the new piece
  size_t redacted_prefix_ = 0;  // leading bytes of buf_ already replaced by a marker
  bool marker_open_ = false;    // the output ends with a marker that buf_ may continue
  size_t redactions_ = 0;
  KeyScrubber::ScanResult scan_;
};

}  // namespace pai::gateway
