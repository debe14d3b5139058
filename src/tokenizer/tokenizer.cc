#include "tokenizer/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "common/text_cache.h"
#include "tokenizer/internal/bpe.h"
#include "tokenizer/internal/rank_data.h"

namespace pai::tokenizer {
namespace {

using internal::Rank;
using internal::RankMap;

// The pre-tokenisation regexes, verbatim from tiktoken_ext/openai_public.py (tiktoken 0.12,
// commit 4e71bbe). tiktoken matches them with fancy_regex, where `$` is the end of the text:
// PCRE2_DOLLAR_ENDONLY gives PCRE2 the same meaning.
constexpr std::string_view kCl100kPattern =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s)";
constexpr std::string_view kO200kPattern =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|\p{N}{1,3})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n/]*)"
    R"(|\s*[\r\n]+)"
    R"(|\s+(?!\S))"
    R"(|\s+)";

constexpr size_t kPieceCacheBytes = 4 << 20;  // per thread and encoding: what entries hold
constexpr size_t kMaxCachedPiece = 64;
constexpr size_t kMaxMergedPiece = 1 << 16;
constexpr size_t kMaxCachedText = 1024;          // whole texts up to this size are cached
constexpr size_t kMaxCachedTextBytes = 1 << 20;  // per thread and encoding: what entries hold

[[noreturn]] void Fatal(const char* what) {
  std::fprintf(stderr, "pai_tokenizer: %s\n", what);
  std::abort();
}

int Base64Value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// AppendBase64() decodes standard base64 (with '=' padding) onto `out`.
bool AppendBase64(std::string_view in, std::string& out) {
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    if (c == '=') break;
    const int v = Base64Value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

struct PcreDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
  void operator()(pcre2_match_context* m) const { pcre2_match_context_free(m); }
  void operator()(pcre2_jit_stack* s) const { pcre2_jit_stack_free(s); }
};

}  // namespace

struct Encoding::Impl {
  std::string bytes;  // every token's bytes, back to back; `ranks` keys view into it
  RankMap ranks;
  std::unique_ptr<pcre2_code, PcreDeleter> regex;

  // Per-thread matching state (PCRE2 match data and a JIT stack large enough for long pieces).
  struct Matcher {
    std::unique_ptr<pcre2_match_data, PcreDeleter> data;
    std::unique_ptr<pcre2_match_context, PcreDeleter> context;
    std::unique_ptr<pcre2_jit_stack, PcreDeleter> stack;
  };
  Matcher& ThreadMatcher(EncodingId id) const;

  // ForEachPiece() calls fn(piece) for each regex match of `text`; false when `text` is not
  // valid UTF-8 or the matcher failed.
  template <typename Fn>
  bool ForEachPiece(EncodingId id, std::string_view text, Fn&& fn) const;
};

Encoding::Impl::Matcher& Encoding::Impl::ThreadMatcher(EncodingId id) const {
  thread_local std::array<Matcher, 2> matchers;
  Matcher& m = matchers[static_cast<size_t>(id)];
  if (!m.data) {
    m.data.reset(pcre2_match_data_create_from_pattern(regex.get(), nullptr));
    m.context.reset(pcre2_match_context_create(nullptr));
    m.stack.reset(pcre2_jit_stack_create(size_t{32} * 1024, size_t{1024} * 1024, nullptr));
    if (!m.data || !m.context || !m.stack) Fatal("out of memory");
    pcre2_jit_stack_assign(m.context.get(), nullptr, m.stack.get());
  }
  return m;
}

template <typename Fn>
bool Encoding::Impl::ForEachPiece(EncodingId id, std::string_view text, Fn&& fn) const {
  Matcher& m = ThreadMatcher(id);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const size_t n = text.size();
  size_t offset = 0;
  bool checked = false;
  while (offset < n) {
    // The first match validates the whole subject as UTF-8 (pcre2_match); the rest skip the
    // check, which would otherwise rescan the text at every piece.
    const int rc =
        checked ? pcre2_jit_match(regex.get(), subject, n, offset, PCRE2_NO_UTF_CHECK, m.data.get(),
                                  m.context.get())
                : pcre2_match(regex.get(), subject, n, offset, 0, m.data.get(), m.context.get());
    checked = true;
    if (rc == PCRE2_ERROR_NOMATCH) return true;
    if (rc < 0) return false;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(m.data.get());
    if (ov[1] <= ov[0]) return false;  // every alternative consumes at least one character
    fn(text.substr(ov[0], ov[1] - ov[0]));
    offset = ov[1];
  }
  return true;
}

Encoding::Encoding(EncodingId id) : id_(id), impl_(new Impl) {
  const std::string_view data =
      id == EncodingId::kO200kBase ? internal::O200kBaseData() : internal::Cl100kBaseData();
  impl_->bytes.reserve(data.size());
  impl_->ranks.reserve(id == EncodingId::kO200kBase ? 200000 : 100300);
  // Each line: "<base64 token bytes> <rank>\n" (tiktoken/load.py, load_tiktoken_bpe).
  std::vector<std::pair<size_t, size_t>> spans;  // into impl_->bytes, by line
  std::vector<Rank> line_ranks;
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t eol = data.find('\n', pos);
    const std::string_view line = data.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    pos = eol == std::string_view::npos ? data.size() : eol + 1;
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    if (space == std::string_view::npos) Fatal("malformed rank file");
    const size_t start = impl_->bytes.size();
    if (!AppendBase64(line.substr(0, space), impl_->bytes)) Fatal("malformed rank file");
    spans.emplace_back(start, impl_->bytes.size() - start);
    line_ranks.push_back(
        static_cast<Rank>(std::strtoul(std::string(line.substr(space + 1)).c_str(), nullptr, 10)));
  }
  for (size_t i = 0; i < spans.size(); ++i) {
    impl_->ranks.emplace(std::string_view(impl_->bytes).substr(spans[i].first, spans[i].second),
                         line_ranks[i]);
  }
  const std::string_view pattern = id == EncodingId::kO200kBase ? kO200kPattern : kCl100kPattern;
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  impl_->regex.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &err_offset,
                                   nullptr));
  if (!impl_->regex) Fatal("cannot compile the pre-tokenisation regex");
  // Without JIT (a platform PCRE2 lacks it) pcre2_jit_match would fail: require it.
  if (pcre2_jit_compile(impl_->regex.get(), PCRE2_JIT_COMPLETE) != 0)
    Fatal("PCRE2 JIT unavailable");
}

Encoding::~Encoding() { delete impl_; }

const Encoding& Encoding::Get(EncodingId id) {
  // Each parsed on first use of its own; never destroyed: requests may count tokens on shard
  // threads during process exit.
  if (id == EncodingId::kO200kBase) {
    static const Encoding* o200k = new Encoding(EncodingId::kO200kBase);
    return *o200k;
  }
  static const Encoding* cl100k = new Encoding(EncodingId::kCl100kBase);
  return *cl100k;
}

int64_t Encoding::Count(std::string_view utf8) const {
  // Whole short texts recur too — a system prompt, the turns of an agent's history, resent with
  // each of its requests — and splitting one costs a PCRE2 match per piece (~0.7k instructions
  // each, plus a UTF-8 check of the text): a per-thread cache of their counts, keyed by the
  // text itself (exact: no text can borrow another's count; common/text_cache.h). Longer texts are
  // cached by their callers under a digest (gateway/stages/ input_tokens.cc).
  if (utf8.size() > kMaxCachedText) return CountUncached(utf8);
  thread_local std::array<TextCache<int64_t, internal::BytesHash>, 2> texts{
      TextCache<int64_t, internal::BytesHash>(kMaxCachedTextBytes),
      TextCache<int64_t, internal::BytesHash>(kMaxCachedTextBytes)};
  auto& cache = texts[static_cast<size_t>(id_)];
  if (const int64_t* known = cache.Find(utf8)) return *known;
  const int64_t count = CountUncached(utf8);
  cache.Put(utf8, count);
  return count;
}

int64_t Encoding::CountUncached(std::string_view utf8) const {
  thread_local std::vector<size_t> starts;
  // Pieces that are not tokens recur (identifiers, words with their space, JSON punctuation
  // runs), within a request and across an agent's requests, which resend their history: a
  // per-thread cache of their counts saves most merges. Cleared when full.
  thread_local std::array<TextCache<uint32_t, internal::BytesHash>, 2> caches{
      TextCache<uint32_t, internal::BytesHash>(kPieceCacheBytes),
      TextCache<uint32_t, internal::BytesHash>(kPieceCacheBytes)};
  auto& cache = caches[static_cast<size_t>(id_)];
  int64_t count = 0;
  const bool ok = impl_->ForEachPiece(id_, utf8, [&](std::string_view piece) {
    if (piece.size() == 1 || impl_->ranks.contains(piece)) {
      ++count;  // every single byte is a token
      return;
    }
    if (piece.size() > kMaxMergedPiece) {
      // A pathological piece (megabytes of punctuation or spaces): the merge's memory grows with
      // it (~32 bytes a byte), so count a token per byte — an upper bound.
      count += static_cast<int64_t>(piece.size());
      return;
    }
    if (const uint32_t* known = cache.Find(piece)) {
      count += *known;
      return;
    }
    internal::MergeBoundaries(impl_->ranks, piece, starts);
    count += static_cast<int64_t>(starts.size());
    if (piece.size() <= kMaxCachedPiece) cache.Put(piece, static_cast<uint32_t>(starts.size()));
  });
  return ok ? count : static_cast<int64_t>(utf8.size());
}

std::vector<uint32_t> Encoding::Encode(std::string_view utf8) const {
  std::vector<uint32_t> out;
  std::vector<size_t> starts;
  const bool ok = impl_->ForEachPiece(id_, utf8, [&](std::string_view piece) {
    if (auto it = impl_->ranks.find(piece); it != impl_->ranks.end()) {
      out.push_back(it->second);
      return;
    }
    internal::MergeBoundaries(impl_->ranks, piece, starts);
    for (size_t i = 0; i < starts.size(); ++i) {
      const size_t end = i + 1 < starts.size() ? starts[i + 1] : piece.size();
      out.push_back(impl_->ranks.at(piece.substr(starts[i], end - starts[i])));
    }
  });
  if (!ok) out.clear();
  return out;
}

std::string_view EncodingName(EncodingId id) {
  return id == EncodingId::kO200kBase ? "o200k_base" : "cl100k_base";
}

std::optional<EncodingId> EncodingForModel(std::string_view model) {
  // tiktoken/model.py: MODEL_TO_ENCODING (exact ids) and MODEL_PREFIX_TO_ENCODING (dated and
  // fine-tuned ids), reduced to the two encodings of current models. Fine-tuned ids
  // ("ft:<base>:...") use their base model's encoding.
  if (model.substr(0, 3) == "ft:") model.remove_prefix(3);
  // kAnySuffix: the prefix alone decides ("gpt-5.1", "gpt-5-mini"); otherwise the id is the
  // prefix itself or continues with '-' ("o1", "o1-mini", "gpt-4-0613", not "o1x").
  enum Match { kAnySuffix, kExactOrDash };
  struct Entry {
    std::string_view prefix;
    Match match;
    EncodingId id;
  };
  constexpr EncodingId o200k = EncodingId::kO200kBase;
  constexpr EncodingId cl100k = EncodingId::kCl100kBase;
  static constexpr Entry kTable[] = {
      {"o1", kExactOrDash, o200k},
      {"o3", kExactOrDash, o200k},
      {"o4-mini", kExactOrDash, o200k},
      {"gpt-5", kAnySuffix, o200k},
      {"gpt-4.5", kExactOrDash, o200k},
      {"gpt-4.1", kExactOrDash, o200k},
      {"chatgpt-4o", kExactOrDash, o200k},
      {"gpt-4o", kExactOrDash, o200k},
      {"gpt-4", kExactOrDash, cl100k},
      {"gpt-3.5-turbo", kExactOrDash, cl100k},
      {"gpt-3.5", kExactOrDash, cl100k},
      {"gpt-35-turbo", kExactOrDash, cl100k},
      {"davinci-002", kExactOrDash, cl100k},
      {"babbage-002", kExactOrDash, cl100k},
      {"text-embedding-ada-002", kExactOrDash, cl100k},
      {"text-embedding-3-small", kExactOrDash, cl100k},
      {"text-embedding-3-large", kExactOrDash, cl100k},
  };
  for (const Entry& e : kTable) {
    if (model.substr(0, e.prefix.size()) != e.prefix) continue;
    const std::string_view rest = model.substr(e.prefix.size());
    if (e.match == kAnySuffix || rest.empty() || rest[0] == '-' || rest[0] == ':') return e.id;
  }
  return std::nullopt;
}

void Warm() {
  Encoding::Get(EncodingId::kO200kBase);
  Encoding::Get(EncodingId::kCl100kBase);
}

}  // namespace pai::tokenizer
