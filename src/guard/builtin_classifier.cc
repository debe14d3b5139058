// BuiltinClassifier's engine: loading the rules into Vectorscan (an embedded database or a
// compilation), the scan, and ClassifyDepth(), which puts the topics of src/guard/builtin/
// together: scoring (score.h) of the scanned text, then of its decoded payloads and its
// deobfuscated variants (deobfuscate.h), each classified one level deeper. The rule table is
// builtin/rules.cc; NormalizeForScan() is builtin/normalize.cc.
#include "guard/builtin_classifier.h"

#include <hs/hs.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/strings.h"
#include "common/text_cache.h"
#include "guard/builtin/deobfuscate.h"
#include "guard/builtin/rules.h"
#include "guard/builtin/score.h"

namespace pai::guard {

using builtin::Context;
using builtin::Deobfuscator;
using builtin::FamilyScores;
using builtin::Features;
using builtin::kEncoded;
using builtin::kFamilyNames;
using builtin::Match;
using builtin::Rule;
using builtin::Rules;

namespace {

// Matches kept per rule: scoring uses each rule's best occurrence, so a cap per rule bounds the
// work without letting filler ("DAN DAN DAN ...") crowd out the matches of other rules.
constexpr uint16_t kMaxMatchesPerRule = 32;

struct MatchSink {
  std::vector<Match>* matches;
  // > the rule count (checked at compile time in rules.cc)
  std::array<uint16_t, builtin::kMaxRules> per_rule{};
};

// OnMatch() is Vectorscan's match callback: records match `id` ending at `to` in the MatchSink
// `ctx`, up to kMaxMatchesPerRule per rule. Always continues the scan (returns 0).
int OnMatch(unsigned int id, unsigned long long /*from*/, unsigned long long to,
            unsigned int /*flags*/, void* ctx) {
  auto* sink = static_cast<MatchSink*>(ctx);
  if (sink->per_rule[id] < kMaxMatchesPerRule) {
    ++sink->per_rule[id];
    sink->matches->push_back({id, static_cast<size_t>(to)});
  }
  return 0;
}

struct ScratchDeleter {
  void operator()(hs_scratch_t* s) const { hs_free_scratch(s); }
};

// CompileRules() compiles the rule table into a block-mode database (*db, owned by the caller).
// Errors: Internal, naming the rule Vectorscan rejected.
absl::Status CompileRules(hs_database_t** db) {
  const std::span<const Rule> rules = Rules();
  std::vector<const char*> patterns;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < rules.size(); ++i) {
    patterns.push_back(rules[i].pattern);
    unsigned f = builtin::kDefaultFlags | (rules[i].flags & ~builtin::kCaseSensitive);
    if (rules[i].flags & builtin::kCaseSensitive) f &= ~static_cast<unsigned>(HS_FLAG_CASELESS);
    // Markers only need to be seen once.
    const builtin::Family fam = rules[i].family;
    if (fam == builtin::kContext || fam == builtin::kMitigate || fam == builtin::kTrigger) {
      f |= HS_FLAG_SINGLEMATCH;
    }
    flags.push_back(f);
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(patterns.data(), flags.data(), ids.data(),
                       static_cast<unsigned>(patterns.size()), HS_MODE_BLOCK, nullptr, db,
                       &err) != HS_SUCCESS) {
    std::string msg = pai::StrCat(
        "guard rule ", err->expression >= 0 ? rules[err->expression].id : "?", ": ", err->message);
    hs_free_compile_error(err);
    return absl::InternalError(msg);
  }
  return absl::OkStatus();
}

}  // namespace

struct BuiltinClassifier::Impl {
  hs_database_t* db = nullptr;
  hs_scratch_t* prototype = nullptr;
  ~Impl() {
    if (prototype) hs_free_scratch(prototype);
    if (db) hs_free_database(db);
  }

  // Scratch() is the calling thread's scratch space for this database, cloned from the
  // prototype on first use; null when the clone fails. Thread-safe (one per thread).
  hs_scratch_t* Scratch() const;
  // Scan() runs the database over `text` with `scratch` (the calling thread's) and fills
  // `*matches` (empty on entry) with the matches, sorted by rule id, then end.
  void Scan(std::string_view text, hs_scratch_t* scratch, std::vector<Match>* matches) const;
};

hs_scratch_t* BuiltinClassifier::Impl::Scratch() const {
  // Scratch space: one per thread, cloned from the prototype on first use. (One classifier
  // database per process: Shared(); a second instance gets its own clone.)
  thread_local std::vector<std::pair<const Impl*, std::unique_ptr<hs_scratch_t, ScratchDeleter>>>
      scratches;
  hs_scratch_t* scratch = nullptr;
  for (auto& [owner, s] : scratches) {
    if (owner == this) scratch = s.get();
  }
  if (!scratch) {
    hs_scratch_t* s = nullptr;
    if (hs_clone_scratch(prototype, &s) != HS_SUCCESS) return nullptr;
    scratches.emplace_back(this, std::unique_ptr<hs_scratch_t, ScratchDeleter>(s));
    scratch = s;
  }
  return scratch;
}

void BuiltinClassifier::Impl::Scan(std::string_view text, hs_scratch_t* scratch,
                                   std::vector<Match>* matches) const {
  // Vectorscan takes an unsigned int length; texts beyond 4 GiB do not reach here (body limit).
  MatchSink sink{matches, {}};
  hs_scan(db, text.data(), static_cast<unsigned>(text.size()), 0, scratch, OnMatch, &sink);
  // Matches are few (a handful per text): small sorted lists, not per-rule arrays (zeroing
  // those cost more than the rest of the scoring).
  std::sort(matches->begin(), matches->end(), [](const Match& a, const Match& b) {
    return a.id != b.id ? a.id < b.id : a.end < b.end;
  });
}

uint64_t BuiltinClassifier::RulesFingerprint() {
  // FNV-1a over every rule's id, pattern, flags and the Vectorscan version.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](std::string_view bytes) {
    for (unsigned char c : bytes) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  mix(hs_version());
  for (const Rule& r : Rules()) {
    mix(r.id);
    mix(r.pattern);
    mix(std::to_string(r.flags));
  }
  return h;
}

absl::StatusOr<std::string> BuiltinClassifier::CompileSerialized() {
  hs_database_t* db = nullptr;
  if (absl::Status s = CompileRules(&db); !s.ok()) return s;
  char* bytes = nullptr;
  size_t size = 0;
  const hs_error_t rc = hs_serialize_database(db, &bytes, &size);
  hs_free_database(db);
  if (rc != HS_SUCCESS) return absl::InternalError("hs_serialize_database failed");
  std::string out(bytes, size);
  std::free(bytes);
  return out;
}

absl::StatusOr<std::unique_ptr<BuiltinClassifier>> BuiltinClassifier::Create() {
  if (hs_valid_platform() != HS_SUCCESS) {
    return absl::InternalError("Vectorscan needs a CPU with SSSE3");
  }
  auto impl = std::make_unique<Impl>();
  // The build embeds the compiled rules (rules_db_gen); compiling them here takes ~1.5 s. The
  // embedded copy is used when it was built from these very rules and this CPU can run it.
  const EmbeddedRules embedded = EmbeddedRulesDatabase();
  bool loaded = false;
  if (embedded.size > 0 && embedded.fingerprint == RulesFingerprint()) {
    loaded = hs_deserialize_database(reinterpret_cast<const char*>(embedded.data), embedded.size,
                                     &impl->db) == HS_SUCCESS;
  }
  if (!loaded) {
    if (absl::Status s = CompileRules(&impl->db); !s.ok()) return s;
  }
  if (hs_alloc_scratch(impl->db, &impl->prototype) != HS_SUCCESS) {
    return absl::InternalError("hs_alloc_scratch failed");
  }
  return std::unique_ptr<BuiltinClassifier>(new BuiltinClassifier(std::move(impl)));
}

const BuiltinClassifier& BuiltinClassifier::Shared() {
  static const BuiltinClassifier* shared = [] {
    auto c = Create();
    if (!c.ok()) {
      std::fprintf(stderr, "pai-gateway: builtin guard rules failed to compile: %s\n",
                   std::string(c.status().message()).c_str());
      std::abort();
    }
    return c->release();
  }();
  return *shared;
}

BuiltinClassifier::BuiltinClassifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BuiltinClassifier::~BuiltinClassifier() = default;

size_t BuiltinClassifier::RuleCount() const { return Rules().size(); }

Verdict BuiltinClassifier::Classify(std::string_view text) const {
  // Short texts recur — a system prompt, the turns of an agent's history, resent with each of
  // its requests — and a scan costs Vectorscan's start-up and the scoring passes whatever the
  // length (~8k instructions for a sentence): a per-thread cache of their verdicts, keyed by the
  // text itself (exact). Every instance compiles the same rules (RulesFingerprint()), so a
  // verdict is a function of the text alone (common/text_cache.h).
  constexpr size_t kMaxCachedText = 1024;
  if (text.size() > kMaxCachedText) return ClassifyUncached(text);
  thread_local TextCache<Verdict> cache(size_t{1} << 20);
  if (const Verdict* known = cache.Find(text)) return *known;
  Verdict v = ClassifyUncached(text);
  cache.Put(text, v, v.evidence.size() * sizeof(Evidence));
  return v;
}

Verdict BuiltinClassifier::ClassifyUncached(std::string_view text) const {
  std::string normalized;
  if (NormalizeForScan(text, &normalized)) return ClassifyDepth(normalized, 0);
  return ClassifyDepth(text, 0);
}

Verdict BuiltinClassifier::ClassifyDepth(std::string_view text, int depth) const {
  hs_scratch_t* scratch = impl_->Scratch();
  if (!scratch) return {};

  thread_local std::vector<Match> matches_tl;
  std::vector<Match> matches;
  matches.swap(matches_tl);
  matches.clear();
  impl_->Scan(text, scratch, &matches);
  builtin::ForgetFences();  // a new text (buffers are reused: never trust a pointer alone)

  Verdict v;
  const Context context = builtin::ReadContext(matches);
  v.discussion = context.discussion;
  const int level = context.level;
  FamilyScores families;
  builtin::ScoreRules(text, matches, context.damp, level, context.quotes_count, &families,
                      &v.evidence);
  builtin::ScoreConcepts(text, matches, context.damp, level, context.quotes_count, &families,
                         &v.evidence);
  matches.clear();
  matches.swap(matches_tl);

  // Payloads: decode base64 and hex runs and classify what they hide. At depth 0 the same pass
  // gathers the features that decide which deobfuscators run (one pass over the bytes).
  Features features;
  if (depth < 2) {  // depth 2: a payload encoded twice
    builtin::ScanPayloads(text, depth == 0, &features, [&](std::string_view decoded, size_t stop) {
      std::string normalized;
      const Verdict inner = ClassifyDepth(
          NormalizeForScan(decoded, &normalized) ? std::string_view(normalized) : decoded,
          depth + 1);
      if (inner.score > 0) {
        // Hiding an instruction in an encoding is itself a signal: a decoded attack scores at
        // least as high as the plain one (unless the payload is quoted in a discussion).
        const bool quoted = builtin::Quoted(text, stop, level == 0);  // damped only in a discussion
        const double w =
            std::min(1.0, inner.score * 1.05) * (v.discussion ? builtin::kQuotedDiscussion : 1);
        families.Add(kEncoded, w);
        Evidence e{"encoded.payload", kFamilyNames[kEncoded], stop, w, quoted, true};
        v.evidence.push_back(e);
        for (Evidence inner_ev : inner.evidence) {
          inner_ev.end = stop;
          inner_ev.decoded = true;
          v.evidence.push_back(inner_ev);
        }
      }
    });
  }

  // Obfuscated variants of the whole text (depth 0 only): a variant counts when it reveals
  // more than the text as written.
  if (depth == 0) {
    features.rot13 = context.rot13;
    features.reverse = context.reverse;
    const double plain = families.Score();
    std::string variant;
    for (const Deobfuscator& d : builtin::Deobfuscators()) {
      if (!d.fn(text, features, &variant)) continue;
      const Verdict inner = ClassifyDepth(variant, depth + 1);
      if (inner.score <= plain) continue;
      families.Add(kEncoded, inner.score);
      v.evidence.push_back(
          Evidence{d.rule, kFamilyNames[kEncoded], text.size(), inner.score, false, true});
      for (Evidence e : inner.evidence) {
        e.decoded = true;
        v.evidence.push_back(e);
      }
    }
  }
  v.score = families.Score();
  std::sort(v.evidence.begin(), v.evidence.end(),
            [](const Evidence& a, const Evidence& b) { return a.weight > b.weight; });
  if (v.evidence.size() > kMaxEvidence) v.evidence.resize(kMaxEvidence);
  return v;
}

}  // namespace pai::guard
