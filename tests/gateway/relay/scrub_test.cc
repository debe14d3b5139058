#include "gateway/relay/scrub.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cctype>
#include <random>

namespace pai::gateway {
namespace {

const std::string kKey = "sk-proj-Zq4Tw9Xr7Lp2Vn5KbM8c";
const std::string kOther = "AIzaSyQ7vK2mX9pL4wR8tN3bZ6";

std::string Scrubbed(const KeyScrubber& s, std::string text) {
  s.Scrub(text);
  return text;
}

// EscapeAll() writes every character of `s` as a JSON \uXXXX escape.
std::string EscapeAll(std::string_view s) {
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : s) {
    out += "\\u00";
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string StreamScrub(const KeyScrubber& s, const std::vector<std::string_view>& pieces) {
  ScrubStream stream(&s);
  std::string out;
  for (std::string_view p : pieces) stream.Feed(p, out);
  stream.Finish(out);
  return out;
}

TEST_CASE("a full key, a partial run of 8 and the key written with JSON escapes are redacted") {
  const KeyScrubber s({kKey, kOther});
  CHECK(Scrubbed(s, "key " + kKey + " end") == "key [redacted] end");
  CHECK(Scrubbed(s, "ending in " + kKey.substr(kKey.size() - 8)) == "ending in [redacted]");
  CHECK(Scrubbed(s, "x" + kOther.substr(3, 10) + "y") == "x[redacted]y");
  std::string dashes = kKey;
  for (size_t at = dashes.find('-'); at != std::string::npos; at = dashes.find('-', at + 6)) {
    dashes.replace(at, 1, "\\u002d");
  }
  CHECK(Scrubbed(s, "\"" + dashes + "\"") == "\"[redacted]\"");
  CHECK(Scrubbed(s, "\"" + EscapeAll(kKey) + "\"") == "\"[redacted]\"");
  CHECK(Scrubbed(s, "a\\/b " + EscapeAll(kKey.substr(4, 9)) + kKey.substr(13)) ==
        "a\\/b [redacted]");
}

TEST_CASE("text without a run of 8 key characters is left untouched") {
  const KeyScrubber s({kKey});
  std::string text = "run of seven " + kKey.substr(0, 7) + " and " + kKey.substr(10, 7) +
                     " \\u0073k \\\\u002d \\q \\u12";
  const std::string before = text;
  CHECK(s.Scrub(text) == 0);
  CHECK(text == before);
  CHECK_FALSE(s.Contains(before));
  // An escaped backslash is one character: "\\u0073" is not an escaped 's'.
  CHECK(Scrubbed(s, "\\\\u0073" + kKey.substr(1, 7)) == "\\\\u0073" + kKey.substr(1, 7));
}

TEST_CASE("keys shorter than 8 characters and an empty key set scrub nothing") {
  const KeyScrubber s({"short", ""});
  CHECK(s.empty());
  CHECK(Scrubbed(s, "short and shorter") == "short and shorter");
  ScrubStream stream(&s);
  std::string out;
  stream.Feed("abc", out);
  CHECK(out == "abc");
}

TEST_CASE("a scrubbed JSON document stays valid and its decoded strings hold no key run") {
  const KeyScrubber s({kKey});
  std::string body = "{\"error\":{\"message\":\"Incorrect key " + EscapeAll(kKey) + " (ending " +
                     kKey.substr(12) + ")\",\"code\":\"invalid_api_key\"}}";
  CHECK(s.Scrub(body) == 2);
  const auto v = boost::json::parse(body);
  const std::string message(v.at("error").at("message").as_string());
  CHECK(message == "Incorrect key [redacted] (ending [redacted])");
  CHECK_FALSE(s.Contains(message));
}

TEST_CASE("a stream is scrubbed like the whole text at every split point") {
  const KeyScrubber s({kKey, kOther});
  const std::vector<std::string> texts = {
      "data: {\"content\":\"" + kKey + "\"}\n\n",
      "data: {\"content\":\"" + EscapeAll(kKey) + " and " + kOther + kKey.substr(0, 9) + "\"}\n\n",
      kKey.substr(0, 7) + "|" + kKey.substr(2, 12) + kKey.substr(5) + "\\u00",
      "no secret at all, just text \\u0041\\n",
      kKey,
  };
  for (const std::string& text : texts) {
    const std::string whole = Scrubbed(s, text);
    CHECK(StreamScrub(s, {text}) == whole);
    for (size_t cut = 0; cut <= text.size(); ++cut) {
      INFO("text " << text << " cut at " << cut);
      const std::string_view t = text;
      CHECK(StreamScrub(s, {t.substr(0, cut), t.substr(cut)}) == whole);
    }
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < text.size(); ++i) bytes.push_back(std::string_view(text).substr(i, 1));
    CHECK(StreamScrub(s, bytes) == whole);
  }
}

TEST_CASE("a stream holds back at most the bytes of 7 characters and an escape") {
  const KeyScrubber s({kKey});
  ScrubStream stream(&s);
  std::string out;
  stream.Feed("hello world, 0123456789", out);
  CHECK(out == "hello world, 012");
  stream.Feed("", out);
  CHECK(out == "hello world, 012");
  stream.Finish(out);
  CHECK(out == "hello world, 0123456789");
}

// NaiveScrub(): the definition, spelled out: decode every JSON escape, look up every window of
// 8 decoded characters in the keys, replace each maximal stretch of matching windows.
std::string NaiveScrub(const std::vector<std::string>& keys, const std::string& text) {
  struct Char {
    unsigned char c;
    size_t begin, end;
  };
  std::vector<Char> chars;
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      const char e = text[i + 1];
      const std::string simple = "\"\\/bfnrt";
      const std::string value = "\"\\/\b\f\n\r\t";
      if (simple.find(e) != std::string::npos) {
        chars.push_back({static_cast<unsigned char>(value[simple.find(e)]), i, i + 2});
        i += 2;
        continue;
      }
      if (e == 'u' && i + 6 <= text.size() && hex(text[i + 2]) && hex(text[i + 3]) &&
          hex(text[i + 4]) && hex(text[i + 5])) {
        const unsigned cp = std::stoul(text.substr(i + 2, 4), nullptr, 16);
        chars.push_back({static_cast<unsigned char>(cp < 0x80 ? cp : 0), i, i + 6});
        i += 6;
        continue;
      }
    }
    chars.push_back({static_cast<unsigned char>(text[i]), i, i + 1});
    ++i;
  }
  std::vector<std::pair<size_t, size_t>> stretches;
  for (size_t w = 0; w + 8 <= chars.size(); ++w) {
    std::string window;
    for (size_t j = w; j < w + 8; ++j) window += static_cast<char>(chars[j].c);
    bool hit = false;
    for (const std::string& k : keys)
      hit = hit || (window.find('\0') == std::string::npos && k.find(window) != std::string::npos);
    if (!hit) continue;
    const size_t b = chars[w].begin, e = chars[w + 7].end;
    if (!stretches.empty() && b <= stretches.back().second) {
      stretches.back().second = std::max(stretches.back().second, e);
    } else {
      stretches.emplace_back(b, e);
    }
  }
  std::string out;
  size_t at = 0;
  for (auto [b, e] : stretches) {
    out += text.substr(at, b - at) + "[redacted]";
    at = e;
  }
  return out + text.substr(at);
}

TEST_CASE("random texts are scrubbed as the definition says (whole and streamed)") {
  const std::vector<std::string> keys = {kKey, kOther, "aaaaaaaaaaaab"};
  const KeyScrubber s(keys);
  std::mt19937_64 rng(12);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const std::string alphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789- {}\":,";
  const std::vector<std::string> escapes = {"\\n", "\\\\", "\\\"", "\\u12",  "\\u00e9",
                                            "\\",  "\\/",  "\\q",  "\\u002d"};
  for (int iteration = 0; iteration < 3000; ++iteration) {
    std::string text;
    for (size_t part = pick(12) + 1; part > 0; --part) {
      const std::string& k = keys[pick(keys.size())];
      const size_t from = pick(k.size());
      const std::string piece = k.substr(from, 1 + pick(k.size() - from));
      switch (pick(6)) {
        case 0:
        case 1:
          text += piece;  // a key run, often of 8 or more
          break;
        case 2:
          text += pick(2) ? EscapeAll(piece)
                          : piece.substr(0, 4) +
                                EscapeAll(piece.substr(std::min<size_t>(4, piece.size())));
          break;
        case 3:
          text += escapes[pick(escapes.size())];
          break;
        default:
          for (size_t n = pick(80); n > 0; --n) text += alphabet[pick(alphabet.size())];
      }
    }
    INFO(text);
    const std::string expected = NaiveScrub(keys, text);
    REQUIRE(Scrubbed(s, text) == expected);
    std::vector<std::string_view> pieces;
    for (size_t at = 0; at < text.size();) {
      const size_t n = 1 + pick(40);
      pieces.push_back(std::string_view(text).substr(at, n));
      at += n;
    }
    REQUIRE(StreamScrub(s, pieces) == expected);
  }
}

}  // namespace
}  // namespace pai::gateway
