// Unit tests of the rule table's invariants (src/guard/builtin/rules.cc): what the engine and
// the scoring assume about every rule.
#include "guard/builtin/rules.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <string_view>

#include "guard/builtin_classifier.h"

namespace pai::guard::builtin {
namespace {

TEST_CASE("builtin/rules: ids are unique and named after their family") {
  const std::span<const Rule> rules = Rules();
  REQUIRE(!rules.empty());
  CHECK(rules.size() < kMaxRules);
  CHECK(rules.size() == BuiltinClassifier::Shared().RuleCount());
  std::set<std::string_view> ids;
  for (const Rule& r : rules) {
    INFO(r.id);
    CHECK(ids.insert(r.id).second);
    REQUIRE(r.family < kFamilies);
    CHECK(std::string_view(r.id).starts_with(std::string(kFamilyNames[r.family]) + "."));
  }
}

TEST_CASE("builtin/rules: weights and targets have the meaning their family gives them") {
  for (const Rule& r : Rules()) {
    INFO(r.id);
    if (r.family == kTrigger) {
      // 1: ROT13, 2: reversed text, 3: "do what it says" (quotes are not mentions).
      CHECK((r.weight == 1 || r.weight == 2 || r.weight == 3));
    } else if (r.family == kConcept) {
      // The concept kind, 1 to 6 (ScoreConcepts() indexes by it).
      CHECK((r.weight >= 1 && r.weight <= 6 && r.weight == static_cast<int>(r.weight)));
    } else {
      CHECK((r.weight >= 0 && r.weight <= 1));
    }
    if (r.family == kMitigate) {
      CHECK(r.target < kContext);  // an attack family
    } else {
      CHECK(r.target == kContext);  // the default: no target
    }
  }
}

}  // namespace
}  // namespace pai::guard::builtin
