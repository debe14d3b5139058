// The product documents' examples (shared/seeds/examples) must validate as written, and every
// embedded schema must load.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "resource/resource.h"
#include "test_util.h"

namespace pai::resource {
namespace {

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("every embedded schema loads") {
  for (const KindInfo& k : Kinds()) {
    INFO(k.kind);
    CHECK(SchemaLoadError(k.kind).empty());
    auto text = SchemaYaml(k.kind);
    REQUIRE(text);
    // The embedded text is the file in schemas/.
    std::string lower(k.kind);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CHECK(*text == ReadFile(std::filesystem::path(PAI_SOURCE_DIR) / "schemas" / (lower + ".yaml")));
  }
  CHECK(SchemaYaml("AgentWorkload") == SchemaYaml("Agent"));
  CHECK_FALSE(SchemaYaml("Nope"));
}

TEST_CASE("every example of the product documents validates with zero errors") {
  const std::filesystem::path dir = std::filesystem::path(PAI_SEEDS_DIR) / "examples";
  if (!std::filesystem::is_directory(dir)) {
    WARN("no seeds at " << dir.string() << ": skipped");
    return;
  }
  int documents = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    auto docs = YamlToJson(ReadFile(entry.path()));
    INFO(entry.path().filename().string());
    REQUIRE(docs.ok());
    for (const auto& doc : *docs) {
      auto errors = Validate(doc, {});
      INFO(testing::Describe(errors));
      CHECK(errors.empty());
      ++documents;
    }
  }
  CHECK(documents >= 4);
}

TEST_CASE("the legacy seeds map to current Agents that validate") {
  const std::filesystem::path dir = std::filesystem::path(PAI_SEEDS_DIR) / "examples";
  if (!std::filesystem::is_directory(dir)) {
    WARN("no seeds at " << dir.string() << ": skipped");
    return;
  }
  for (const char* name : {"agentworkload-minimal.yaml", "agentworkload-full.yaml"}) {
    INFO(name);
    auto docs = YamlToJson(ReadFile(dir / name));
    REQUIRE(docs.ok());
    REQUIRE(docs->size() == 1);
    auto m = MapLegacy((*docs)[0], [](std::string_view n) -> std::optional<std::string> {
      auto a = DefaultModelAlias(n);
      if (!a) return std::nullopt;
      return std::string(a->provider_kind) + "/" + std::string(a->model_id);
    });
    CHECK(m.changed);
    CHECK(m.unresolved.empty());
    CHECK(m.spec.at("harness") == "custom");
    CHECK(m.spec.at("longRunning") == true);
    boost::json::object agent{{"apiVersion", "pai.io/v1"},
                              {"kind", "Agent"},
                              {"metadata", (*docs)[0].at("metadata")},
                              {"spec", m.spec}};
    CHECK_FALSE(IsLegacy(agent));
    auto errors = Validate(agent, {});
    INFO(testing::Describe(errors));
    CHECK(errors.empty());
  }
}

}  // namespace
}  // namespace pai::resource
