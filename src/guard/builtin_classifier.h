// BuiltinClassifier: the offline prompt-injection classifier (GuardBinding
// `spec.classifier.type: builtin`). No network, no model: a fixed rule set compiled once into a
// Vectorscan (Hyperscan) multi-pattern database and scanned in one pass, plus a decoder that
// rescans base64 and hex payloads. Deterministic: the same text always gets the same score.
//
// Families (docs/guard.md lists every rule): instruction override, persona/jailbreak,
// system-prompt exfiltration, fake system/delimiter injection, encoded payloads; English plus
// Spanish, French, German, Portuguese, Italian, Russian, Chinese and Japanese phrasings.
// Near misses are damped, not ignored: an attack phrase inside quotes or a code span, in a text
// that also reads as a discussion of attacks ("prompt injection", "for example", "detect"),
// scores lower than the same phrase given as an instruction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace pai::guard {

// Evidence: one rule that contributed to a score. `offset`/`end` are byte offsets of the match
// end in the classified text (`end` of the match; the start is not tracked); for matches inside
// a decoded payload, the offset of the payload in the text.
struct Evidence {
  std::string_view rule;    // stable rule id, e.g. "override.ignore_previous"
  std::string_view family;  // override | persona | exfiltration | delimiter | encoded
  size_t end = 0;
  double weight = 0;     // the rule's weight after damping, in [0, 1]
  bool quoted = false;   // the match ends inside quotes or a code span
  bool decoded = false;  // found in a base64/hex payload
};

// Verdict: the score in [0, 1] (probability-like: 1 - Π(1 - family weight), then damped for
// discussion context) and the evidence, strongest first (at most kMaxEvidence entries).
struct Verdict {
  double score = 0;
  bool discussion = false;  // the text reads as a discussion of attacks (damping applied)
  std::vector<Evidence> evidence;
};

class BuiltinClassifier {
 public:
  static constexpr size_t kMaxEvidence = 8;

  // Create() loads the rule set: the database compiled at build time (a few ms), or, when that
  // does not match these rules or this CPU, a compilation (~1.5 s). Errors: Internal when
  // Vectorscan rejects the rules or the CPU lacks SSSE3 (never expected on x86-64).
  static absl::StatusOr<std::unique_ptr<BuiltinClassifier>> Create();

  // CompileSerialized() compiles the rules and returns Vectorscan's serialized database (the
  // build embeds it: src/guard/rules_db_gen.cc).
  static absl::StatusOr<std::string> CompileSerialized();
  // RulesFingerprint() hashes the rules and the Vectorscan version; an embedded database is
  // used only when its fingerprint matches.
  static uint64_t RulesFingerprint();

  // Shared() is the process-wide instance, loaded on first use. Aborts the process if the rules
  // cannot be loaded (a build defect, caught by the tests).
  static const BuiltinClassifier& Shared();

  ~BuiltinClassifier();
  BuiltinClassifier(const BuiltinClassifier&) = delete;
  BuiltinClassifier& operator=(const BuiltinClassifier&) = delete;

  // Classify() scores `text` (UTF-8; invalid sequences are tolerated). Thread-safe: each thread
  // uses its own scratch space. Time is linear in the text (about 1 µs per KiB; bench/). Verdicts
  // of texts up to 1 KiB are remembered per thread (entries holding at most ~1 MiB), so a text
  // classified again costs a hash lookup. ClassifyUncached() scores without that cache.
  Verdict Classify(std::string_view text) const;
  Verdict ClassifyUncached(std::string_view text) const;

  // RuleCount() is the number of compiled rules (docs and tests).
  size_t RuleCount() const;

 private:
  struct Impl;
  explicit BuiltinClassifier(std::unique_ptr<Impl> impl);
  Verdict ClassifyDepth(std::string_view text, int depth) const;
  std::unique_ptr<Impl> impl_;
};

// EmbeddedRules: the serialized database linked into the binary (empty when none).
struct EmbeddedRules {
  const unsigned char* data = nullptr;
  size_t size = 0;
  uint64_t fingerprint = 0;
};
// EmbeddedRulesDatabase() is defined by the generated rules_db.cc (or rules_db_none.cc in the
// generator itself).
EmbeddedRules EmbeddedRulesDatabase();

// NormalizeForScan() removes invisible characters that split keywords (zero-width characters,
// U+2060–U+2064, soft hyphen, variation selectors, U+034F, U+180E, U+FEFF) and maps look-alike
// and hidden forms to ASCII: fullwidth forms, the ideographic space, mathematical alphanumeric
// letters and digits, and Unicode tag characters (U+E0020–U+E007E, "ASCII smuggling").
// Returns false (and leaves `out` untouched) when `text` has none.
bool NormalizeForScan(std::string_view text, std::string* out);

}  // namespace pai::guard
