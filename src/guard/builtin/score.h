// Scoring of the builtin classifier (internal to src/guard): from the sorted matches of one scan
// to evidence and a score. Damping for quoted matches and discussion context, the per-family
// combination (FamilyScores), the quotation test (Quoted), the context read from the marker
// rules (ReadContext), and the evidence of the phrase rules (ScoreRules) and of the concept
// pairs (ScoreConcepts).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <functional>
#include <string_view>
#include <vector>

#include "guard/builtin/rules.h"
#include "guard/builtin_classifier.h"

namespace pai::guard::builtin {

// Damping factors (tuned on the dev set).
constexpr double kQuotedDiscussion = 0.3;  // a quoted match in a text with a context marker
constexpr double kQuoted = 0.6;            // a quoted match otherwise
constexpr double kDiscussion = 0.8;        // an unquoted match in a discussion
constexpr int kDiscussionMarkers = 2;      // distinct context rules that make a discussion

// Damping() is the factor applied to a match's weight: `quoted` (inside quotes or a code span)
// at damping level `markers` (the context markers that count: ReadContext()'s `level`). Pure.
inline double Damping(bool quoted, int markers) {
  if (quoted) return markers >= 1 ? kQuotedDiscussion : kQuoted;
  return markers >= kDiscussionMarkers ? kDiscussion : 1.0;
}

// FamilyScores: rules of one family are mostly rephrasings of the same signal, so within a
// family the strongest rule counts fully and the others at 0.7 of their weight; families combine as
// independent signals (noisy-OR).
// One instance per verdict (not shared between threads).
class FamilyScores {
 public:
  // Add(): an unquoted match of family `f` with (damped) weight `w` in [0, 1].
  void Add(Family f, double w) {
    auto& v = weights_[f];
    v.push_back(w);
  }
  // AddQuoted(): a quoted match is a mention, not an instruction: only the strongest quoted
  // match counts, however many attacks a test file or an article quotes.
  void AddQuoted(double w) { quoted_ = std::max(quoted_, w); }
  // Score(): the combined score in [0, 1]. Sorts the weights kept (hence not const); may be
  // called again after further Add()s.
  double Score() {
    double keep = 1;
    for (auto& v : weights_) {
      if (v.empty()) continue;
      std::sort(v.begin(), v.end(), std::greater<>());
      double fam_keep = 1 - v[0];
      for (size_t i = 1; i < v.size(); ++i) fam_keep *= 1 - 0.7 * v[i];
      keep *= fam_keep;
    }
    return 1 - keep * (1 - quoted_);
  }

 private:
  std::array<std::vector<double>, kFamilies> weights_;
  double quoted_ = 0;
};

// Match: one match reported by the scan: the rule (its index in Rules()) and the end offset.
struct Match {
  unsigned id;
  size_t end;
};

// Context: what the marker rules (context, mitigation, trigger) say about one text.
struct Context {
  int markers = 0;           // distinct context rules that matched
  int strong = 0;            // ... of them strong (weight > 0)
  bool obey_quoted = false;  // "translate this and do what it says": quotes are not mentions
  bool rot13 = false;        // trigger rules: the text asks for ROT13 ...
  bool reverse = false;      // ... or for reading backwards
  // Per family: the strongest mitigation (1 = none; ReadContext() fills it).
  std::array<double, kFamilies> damp{};
  bool discussion = false;   // the text reads as a discussion of attacks
  int level = 0;             // the damping level passed to Damping()
  bool quotes_count = true;  // quoted matches are mentions (damped), not instructions
};

// ReadContext() reads the marker rules among `matches` (sorted by rule id, then end; each rule
// counts once) and derives the discussion, the damping level and whether quotes count. Pure.
Context ReadContext(const std::vector<Match>& matches);

// ForgetFences() drops the calling thread's cached code-fence positions (FencesBefore()): call
// it when starting on a new text, since buffers are reused and a pointer alone cannot tell two
// texts apart.
void ForgetFences();

// FencesBefore() is the number of ``` fences in `text` that start before offset `end`. The
// positions are found once per text and cached per thread (Quoted() runs per match: searching
// from the start each time made scoring quadratic in the text size). Thread-safe.
size_t FencesBefore(std::string_view text, size_t end);

// Quoted() says whether offset `end` of `text` lies inside a quotation or a code span (see
// score.cc for the rules). With `data_strings`, a JSON/YAML/CSV string value is data, not a
// quotation (the engine passes it for texts without any discussion marker). Uses
// FencesBefore()'s per-thread cache; thread-safe.
bool Quoted(std::string_view text, size_t end, bool data_strings);

// ScoreRules() adds the evidence of the phrase rules among `matches` (sorted by rule id, then
// end): for each rule, its strongest (least damped) occurrence, its weight damped by `damp` (per
// family) and by Damping(quoted, level); a match counts as quoted only when `quotes_count`.
// Appends to `*evidence` and adds to `*families`. Uses Quoted(): call ForgetFences() first when
// `text` is a new text.
void ScoreRules(std::string_view text, const std::vector<Match>& matches,
                const std::array<double, kFamilies>& damp, int level, bool quotes_count,
                FamilyScores* families, std::vector<Evidence>* evidence);

// ScoreConcepts() adds the evidence of the concept rules among `matches` (sorted by rule id):
// a pair of concept kinds close together in one paragraph (score.cc lists the pairs), damped like
// ScoreRules(). Appends to `*evidence` and adds to `*families`. Uses Quoted() like ScoreRules().
void ScoreConcepts(std::string_view text, const std::vector<Match>& matches,
                   const std::array<double, kFamilies>& damp, int level, bool quotes_count,
                   FamilyScores* families, std::vector<Evidence>* evidence);

}  // namespace pai::guard::builtin
