// LoadYamlDocuments(): YAML::LoadAll()'s documents without its unbounded loop.
#include "common/yaml_documents.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>

namespace pai {
namespace {

std::vector<std::string> Dumped(const std::vector<YAML::Node>& docs) {
  std::vector<std::string> out;
  for (const auto& d : docs) out.push_back(YAML::Dump(d));
  return out;
}

TEST_CASE("well-formed streams load as YAML::LoadAll loads them") {
  for (const char* text : {
           "",
           "# only a comment\n",
           "a: 1\n",
           "a: 1\n---\nb: 2\n",
           "---\na: 1\n---\nb: 2\n",
           "# head\n---\na: 1\n",
           "%YAML 1.2\n---\na: 1\n",
           "a: 1\n---\n---\nb: 2\n",
           "a: 1\n---\n",
           "--- {a: 1}\n--- [1, 2]\n",
           "a: |\n  text\n  ---not a marker\nb: 2\n",
           "a: 1\n...\n---\nb: 2\n",
           "apiVersion: v1\nkind: Secret\nmetadata: {name: k}\n---\napiVersion: pai.io/v1\n"
           "kind: Agent\nmetadata: {name: a}\nspec: {models: [up/gpt-4o-mini]}\n",
       }) {
    INFO(text);
    CHECK(Dumped(LoadYamlDocuments(text)) == Dumped(YAML::LoadAll(std::string(text))));
  }
}

TEST_CASE("an error's line is the stream's, not the document's") {
  const std::string text = "a: 1\n---\nb: 2\nc: [1, 2\n";
  try {
    LoadYamlDocuments(text);
    FAIL("no error");
  } catch (const YAML::Exception& e) {
    int expected = -1;
    try {
      YAML::LoadAll(text);
    } catch (const YAML::Exception& all) {
      expected = all.mark.line;
    }
    CHECK(e.mark.line == expected);
    CHECK(e.mark.line >= 3);
  }
}

TEST_CASE("the malformed manifest that makes YAML::LoadAll loop ends at once") {
  // tests/fuzz/corpus/manifest/oom-yaml-cpp-loadall-flow-map: LoadAll() allocated without bound.
  std::ifstream in(
      std::string(PAI_SOURCE_DIR) + "/tests/fuzz/corpus/manifest/oom-yaml-cpp-loadall-flow-map",
      std::ios::binary);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    (void)LoadYamlDocuments(ss.str());
  } catch (const YAML::Exception&) {
  }
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
}

}  // namespace
}  // namespace pai
