// Scoring of the builtin classifier: the quotation test, the context read from the marker
// rules, and the evidence of the phrase rules and of the concept pairs (score.h).
#include "guard/builtin/score.h"

#include <utility>

#include "absl/strings/ascii.h"

namespace pai::guard::builtin {
namespace {

// Code-fence positions of the text being scored, found once per text (Quoted() runs per match:
// searching from the start each time made scoring quadratic in the text size).
struct FenceIndex {
  const char* data = nullptr;
  size_t size = 0;
  std::vector<size_t> fences;
};
thread_local FenceIndex g_fences;

}  // namespace

void ForgetFences() { g_fences.data = nullptr; }

size_t FencesBefore(std::string_view text, size_t end) {
  if (g_fences.data != text.data() || g_fences.size != text.size()) {
    g_fences.data = text.data();
    g_fences.size = text.size();
    g_fences.fences.clear();
    for (size_t pos = text.find("```"); pos != std::string_view::npos;
         pos = text.find("```", pos + 3)) {
      g_fences.fences.push_back(pos);
    }
  }
  return static_cast<size_t>(std::lower_bound(g_fences.fences.begin(), g_fences.fences.end(), end) -
                             g_fences.fences.begin());
}

// Quoted(): does position `end` of `text` lie inside a quotation or a code span? Looks back to
// the start of the line (or 400 bytes) for an odd number of quote marks, and counts ``` fences
// and inline backticks; a line starting with '>' (a Markdown quote) counts as quoted.
bool Quoted(std::string_view text, size_t end, bool data_strings) {
  end = std::min(end, text.size());
  if (FencesBefore(text, end) % 2 == 1) return true;
  // The quotation state is read back to the start of the line, at most 400 bytes.
  const size_t floor = end > 400 ? end - 400 : 0;
  size_t line = end;
  while (line > floor && text[line - 1] != '\n') --line;
  size_t begin = line;
  size_t i = begin;
  while (i < end && (text[i] == ' ' || text[i] == '\t')) ++i;
  if (i < end && text[i] == '>') return true;
  int dq = 0, sq = 0, bt = 0, curly = 0, guil = 0, cjk = 0;
  const std::string_view s = text.substr(begin, end - begin);
  auto letter = [&](size_t k) {
    return k < s.size() && (absl::ascii_isalnum(static_cast<unsigned char>(s[k])) ||
                            static_cast<unsigned char>(s[k]) >= 0x80);
  };
  for (size_t k = 0; k < s.size(); ++k) {
    const unsigned char c = s[k];
    if (c == '"') {
      // With `data_strings`, a string value in JSON, YAML or CSV ("key": "value", key: "value",
      // 5,"value") is data, not a quotation: an injection inside a tool result's JSON is not a
      // mention. The caller passes it only for texts without any discussion marker (test
      // fixtures and articles quote attacks in JSON too).
      if (data_strings && dq % 2 == 0) {
        size_t b = k;
        while (b > 0 && (s[b - 1] == ' ' || s[b - 1] == '\t')) --b;
        const char prev = b > 0 ? s[b - 1] : (begin > 0 ? text[begin - 1] : '\n');
        const char prev2 = b > 1 ? s[b - 2] : '\n';
        const bool json_key =
            prev == ':' && (prev2 == '"' || prev2 == '_' || absl::ascii_isalnum(prev2));
        const bool list_item = (prev == '[' || prev == ',' || prev == '{') &&
                               (prev2 == '"' || prev2 == '\n' || absl::ascii_isdigit(prev2) ||
                                prev2 == '[' || prev2 == '{' || prev2 == ' ');
        if (json_key || list_item || prev == '=') {
          // skip to the closing quote: the whole value is outside any quotation
          const size_t close = s.find('"', k + 1);
          if (close == std::string_view::npos) return false;  // `end` is inside a data string
          k = close;
          continue;
        }
      }
      ++dq;
    } else if (c == '`') {
      ++bt;
    } else if (c == '\'') {
      // A quote mark, not an apostrophe (don't, users'): not between two letters, and not a
      // plural possessive before a space.
      const bool possessive =
          k > 0 && (s[k - 1] == 's' || s[k - 1] == 'S') && (k + 1 >= s.size() || s[k + 1] == ' ');
      if (!(k > 0 && letter(k - 1) && letter(k + 1)) && !possessive) ++sq;
    } else if (c == 0xE2 && k + 2 < s.size() && static_cast<unsigned char>(s[k + 1]) == 0x80) {
      const unsigned char d = s[k + 2];
      if (d == 0x9C || d == 0x9D || d == 0x9E) ++curly;  // “ ” „ (English and German pairs)
      if ((d == 0x98 || d == 0x99) && !(k > 0 && letter(k - 1) && letter(k + 3))) ++sq;  // ‘ ’
    } else if (c == 0xC2 && k + 1 < s.size()) {
      const unsigned char d = s[k + 1];
      if (d == 0xAB) ++guil;  // «
      if (d == 0xBB) --guil;  // »
    } else if (c == 0xE3 && k + 2 < s.size() && static_cast<unsigned char>(s[k + 1]) == 0x80) {
      const unsigned char d = s[k + 2];
      if (d == 0x8C || d == 0x8E) ++cjk;  // 「 『
      if (d == 0x8D || d == 0x8F) --cjk;  // 」 』
    }
  }
  // A single quote (') is not counted: apostrophes are too common in English.
  return dq % 2 == 1 || sq % 2 == 1 || bt % 2 == 1 || curly % 2 == 1 || guil > 0 || cjk > 0;
}

Context ReadContext(const std::vector<Match>& matches) {
  const std::span<const Rule> rules = Rules();
  Context c;
  c.damp.fill(1.0);
  for (size_t k = 0; k < matches.size(); ++k) {
    const Match& m = matches[k];
    const Rule& r = rules[m.id];
    if (k > 0 && matches[k - 1].id == m.id) continue;
    if (r.family == kContext) {
      ++c.markers;
      if (r.weight > 0) ++c.strong;  // context rules with weight 1 are strong markers
    }
    if (r.family == kMitigate) c.damp[r.target] = std::min(c.damp[r.target], r.weight);
    if (r.family == kTrigger) {
      if (r.weight == 1) c.rot13 = true;
      if (r.weight == 2) c.reverse = true;
    }
    if (r.family == kTrigger && r.weight == 3) c.obey_quoted = true;
  }
  // A discussion: two markers, one of them strong (weak ones alone — "report", "logs" — are
  // common in the documents indirect injections hide in).
  c.discussion = c.markers >= kDiscussionMarkers && c.strong >= 1;
  c.level = c.discussion ? c.markers : std::min(c.markers, 1);
  c.quotes_count = !c.obey_quoted || c.discussion;
  return c;
}

void ScoreRules(std::string_view text, const std::vector<Match>& matches,
                const std::array<double, kFamilies>& damp, int level, bool quotes_count,
                FamilyScores* families, std::vector<Evidence>* evidence) {
  const std::span<const Rule> rules = Rules();
  // The strongest (least damped) match of each rule (matches are sorted by rule).
  for (size_t k = 0; k < matches.size();) {
    const unsigned id = matches[k].id;
    const Rule& r = rules[id];
    Evidence best;
    // A rule with gaps reports several ends for one occurrence ("ignore all previous
    // instructions' a prompt" also ends at "prompt"): the first end of a run of ends decides
    // whether the occurrence is quoted.
    size_t group_end = 0;
    bool group_quoted = false;
    for (; k < matches.size() && matches[k].id == id; ++k) {
      if (r.family == kContext || r.family == kMitigate || r.family == kTrigger ||
          r.family == kConcept) {
        continue;
      }
      if (group_end == 0 || matches[k].end > group_end + 64) {
        group_quoted = quotes_count && Quoted(text, matches[k].end, level == 0);
      }
      group_end = matches[k].end;
      const bool quoted = group_quoted;
      const double w = r.weight * damp[r.family] * Damping(quoted, level);
      if (w > best.weight)
        best = Evidence{r.id, kFamilyNames[r.family], matches[k].end, w, quoted, false};
    }
    if (best.weight <= 0) continue;
    if (best.quoted) {
      families->AddQuoted(best.weight);
    } else {
      families->Add(r.family, best.weight);
    }
    evidence->push_back(best);
  }
}

namespace {

// ScoreConcepts(): concept markers count when two of the right kinds occur close together (in
// the same paragraph, within kConceptSpan bytes): configuration + disregard (override),
// own configuration + disclosure (exfiltration), persona framing + absence of limits
// (persona). This generalises over wordings that the phrase rules do not list.
constexpr size_t kConceptSpan = 200;

struct ConceptPair {
  int a, b;  // kinds
  const char* rule;
  Family family;
  double weight;
};
constexpr ConceptPair kConceptPairs[] = {
    {1, 3, "concept.disregard_own_config", kOverride, 0.85},
    {2, 3, "concept.disregard_config", kOverride, 0.8},
    {1, 4, "concept.disclose_own_config", kExfiltration, 0.85},
    {5, 6, "concept.persona_without_limits", kPersona, 0.8},
};

bool SameParagraph(std::string_view text, size_t a, size_t b) {
  if (a > b) std::swap(a, b);
  return text.substr(a, b - a).find("\n\n") == std::string_view::npos;
}

}  // namespace

void ScoreConcepts(std::string_view text, const std::vector<Match>& matches,
                   const std::array<double, kFamilies>& damp, int level, bool quotes_count,
                   FamilyScores* families, std::vector<Evidence>* evidence) {
  const std::span<const Rule> rules = Rules();
  // Positions by kind (matches are sorted by rule id, each rule has one kind).
  std::array<std::vector<size_t>, 7> at;
  for (const Match& m : matches) {
    const Rule& r = rules[m.id];
    if (r.family == kConcept) at[static_cast<int>(r.weight)].push_back(m.end);
  }
  for (const ConceptPair& p : kConceptPairs) {
    Evidence best;
    for (size_t ea : at[p.a]) {
      for (size_t eb : at[p.b]) {
        const size_t d = ea > eb ? ea - eb : eb - ea;
        if (d > kConceptSpan || !SameParagraph(text, ea, eb)) continue;
        const size_t end = std::max(ea, eb);
        const bool quoted = quotes_count && Quoted(text, end, level == 0);
        const double w = p.weight * damp[p.family] * Damping(quoted, level);
        if (w > best.weight) best = Evidence{p.rule, kFamilyNames[p.family], end, w, quoted, false};
      }
    }
    if (best.weight <= 0) continue;
    if (best.quoted) {
      families->AddQuoted(best.weight);
    } else {
      families->Add(p.family, best.weight);
    }
    evidence->push_back(best);
  }
}

}  // namespace pai::guard::builtin
