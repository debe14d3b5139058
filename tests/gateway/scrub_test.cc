#include "gateway/scrub.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

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
  CHECK(Scrubbed(s, "a\\/b " + EscapeAll(kKey.substr(4, 9)) + kKey.substr(13)) == "a\\/b [redacted]");
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
  std::string body = "{\"error\":{\"message\":\"Incorrect key " + EscapeAll(kKey) +
                     " (ending " + kKey.substr(12) + ")\",\"code\":\"invalid_api_key\"}}";
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

}  // namespace
}  // namespace pai::gateway
