#include "tokenizer/tokenizer.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "tokenizer/internal/bpe.h"

namespace pai::tokenizer {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const boost::json::object& Vectors() {
  static const boost::json::value v =
      boost::json::parse(ReadFile(PAI_SOURCE_DIR "/tests/tokenizer/vectors.json"));
  return v.as_object();
}

void CheckEncoding(EncodingId id) {
  const Encoding& enc = Encoding::Get(id);
  const auto& e = Vectors().at("encodings").at(EncodingName(id)).as_object();
  size_t n = 0;
  for (const auto& c : e.at("strings").as_array()) {
    const std::string text(c.at("text").as_string());
    std::vector<uint32_t> expected;
    for (const auto& id_value : c.at("ids").as_array()) {
      expected.push_back(static_cast<uint32_t>(id_value.as_int64()));
    }
    INFO("text: " << text);
    CHECK(enc.Encode(text) == expected);
    CHECK(enc.Count(text) == static_cast<int64_t>(expected.size()));
    ++n;
  }
  CHECK(n > 300);
  size_t files = 0;
  for (const auto& [path, count] : e.at("files").as_object()) {
    INFO("file: " << std::string(path));
    CHECK(enc.Count(ReadFile(PAI_SOURCE_DIR "/" + std::string(path))) == count.as_int64());
    ++files;
  }
  CHECK(files == 2);
}

TEST_CASE("o200k_base encodes as tiktoken does") { CheckEncoding(EncodingId::kO200kBase); }

TEST_CASE("cl100k_base encodes as tiktoken does") { CheckEncoding(EncodingId::kCl100kBase); }

// Count() remembers short texts per thread and encoding: counted again, in either encoding and
// in any order, each text gives what counting it afresh gives — also after the cache has been
// filled past its byte bound and cleared (3 MiB of distinct texts through a 1 MiB bound).
TEST_CASE("counts of short texts are remembered per encoding and stay exact") {
  const Encoding& o200k = Encoding::Get(EncodingId::kO200kBase);
  const Encoding& cl100k = Encoding::Get(EncodingId::kCl100kBase);
  std::vector<std::string> texts;
  for (const auto& c : Vectors().at("encodings").at("o200k_base").at("strings").as_array()) {
    const std::string text(c.at("text").as_string());
    if (text.size() <= 1024) texts.push_back(text);
  }
  texts.emplace_back("ab\xff\xfe cd");  // invalid UTF-8: one per byte, cached as such
  REQUIRE(texts.size() > 300);
  size_t differ = 0;
  for (int round = 0; round < 3; ++round) {
    for (const std::string& t : texts) {
      INFO("text: " << t);
      CHECK(o200k.Count(t) == o200k.CountUncached(t));
      CHECK(cl100k.Count(t) == cl100k.CountUncached(t));
      differ += o200k.Count(t) != cl100k.Count(t) ? 1 : 0;
    }
  }
  CHECK(differ > 0);  // the encodings' caches are apart: some texts count differently
  std::string filler(1000, 'x');
  for (int i = 0; i < 3 * 1024; ++i) {
    filler.replace(0, 8, std::to_string(10000000 + i));
    REQUIRE(o200k.Count(filler) == o200k.CountUncached(filler));
  }
  for (const std::string& t : texts) CHECK(o200k.Count(t) == o200k.CountUncached(t));
}

TEST_CASE("special tokens are counted as ordinary text") {
  const Encoding& enc = Encoding::Get(EncodingId::kO200kBase);
  const std::vector<uint32_t> ids = enc.Encode("<|endoftext|>");
  CHECK(ids.size() > 1);
  for (uint32_t id : ids) CHECK(id < 199998);
}

TEST_CASE("invalid UTF-8 counts one token per byte") {
  const Encoding& enc = Encoding::Get(EncodingId::kCl100kBase);
  CHECK(enc.Count(std::string("ab\xff\xfe cd")) == 7);
  CHECK(enc.Encode(std::string("ab\xff")).empty());
}

TEST_CASE("long pieces are merged in n log n, and giant ones bounded by their bytes") {
  // Pieces of 100 bytes and more take the heap merge (vectors.json checks its ids against
  // tiktoken: runs of '=', ' ', '-_', 'ab'); here only its bounds and its speed.
  const Encoding& enc = Encoding::Get(EncodingId::kO200kBase);
  const int64_t run = enc.Count(std::string(60000, '!'));
  CHECK(run > 0);
  CHECK(run < 60000);
  CHECK(enc.Count(std::string(2'000'000, '#')) == 2'000'000);  // over 64 KiB: one per byte
}

TEST_CASE("models map to their encodings as in tiktoken") {
  CHECK(EncodingForModel("gpt-4o") == EncodingId::kO200kBase);
  CHECK(EncodingForModel("gpt-4o-mini-2024-07-18") == EncodingId::kO200kBase);
  CHECK(EncodingForModel("gpt-4.1-nano") == EncodingId::kO200kBase);
  CHECK(EncodingForModel("gpt-5") == EncodingId::kO200kBase);
  CHECK(EncodingForModel("gpt-5.1-codex") == EncodingId::kO200kBase);
  CHECK(EncodingForModel("o1") == EncodingId::kO200kBase);
  CHECK(EncodingForModel("o3-mini") == EncodingId::kO200kBase);
  CHECK(EncodingForModel("o4-mini-2025-04-16") == EncodingId::kO200kBase);
  CHECK(EncodingForModel("ft:gpt-4o-mini:acme::abc") == EncodingId::kO200kBase);
  CHECK(EncodingForModel("gpt-4") == EncodingId::kCl100kBase);
  CHECK(EncodingForModel("gpt-4-turbo") == EncodingId::kCl100kBase);
  CHECK(EncodingForModel("gpt-3.5-turbo-0125") == EncodingId::kCl100kBase);
  CHECK(EncodingForModel("text-embedding-3-small") == EncodingId::kCl100kBase);
  CHECK(EncodingForModel("o1x") == std::nullopt);
  CHECK(EncodingForModel("llama-3.1-70b") == std::nullopt);
  CHECK(EncodingForModel("claude-sonnet-4-5") == std::nullopt);
}

}  // namespace
}  // namespace pai::tokenizer
