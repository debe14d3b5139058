// The builtin classifier's rule table (internal to src/guard): the rule families, struct Rule,
// the flags a rule may carry, and Rules(), the table itself (rules.cc). The engine
// (builtin_classifier.cc) compiles the table into one Vectorscan database; a rule's index in the
// table is its Vectorscan id. docs/guard.md lists every rule.
#pragma once

#include <hs/hs.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace pai::guard::builtin {

// Families. kContext rules are not evidence of an attack: they mark a text that discusses
// attacks (security writing, documentation, tests), which damps quoted matches.
// kMitigate rules damp one family (`target`) by their weight: "the instructions I gave you",
// "the instructions in the README" (override), prompt-format documentation (delimiter).
enum Family : uint8_t {
  kOverride,
  kPersona,
  kExfiltration,
  kDelimiter,
  kEncoded,
  kContext,
  kMitigate,
  kTrigger,
  kConcept,
  kFamilies
};
constexpr std::array<std::string_view, kFamilies> kFamilyNames = {
    "override", "persona",  "exfiltration", "delimiter", "encoded",
    "context",  "mitigate", "trigger",      "concept"};

// Rule: one pattern of the table, with what a match of it means.
struct Rule {
  const char* id;
  Family family;
  double weight;
  const char* pattern;
  unsigned flags;            // added to kDefaultFlags; kCaseSensitive removes HS_FLAG_CASELESS
  Family target = kContext;  // kMitigate: the family damped (by `weight`)
};

constexpr unsigned kCaseSensitive = 1u << 31;

// Flags every rule is compiled with; a rule's own `flags` are added to these.
constexpr unsigned kDefaultFlags = HS_FLAG_CASELESS;

// The table holds fewer rules than this (checked at compile time in rules.cc): the scan's
// per-rule match counters are sized by it.
constexpr size_t kMaxRules = 512;

// Rules() is the rule table, in id order. Constant data, constant-initialised: safe to read
// from any thread at any time.
std::span<const Rule> Rules();

}  // namespace pai::guard::builtin
