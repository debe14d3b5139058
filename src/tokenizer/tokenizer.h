// OpenAI's tiktoken byte-pair encodings, for counting the input tokens of a request before it
// is sent (docs/budgets.md, "Input upper bound").
//
// Algorithm: tiktoken's `encode_ordinary` (github.com/openai/tiktoken, src/lib.rs): the text is
// split by the encoding's pre-tokenisation regex (`pat_str` in tiktoken_ext/openai_public.py,
// matched with PCRE2, UTF + UCP + JIT); each piece that is a token is one token, any other
// piece is merged byte pair by byte pair, lowest rank first (`_byte_pair_merge`). Special
// tokens (`<|endoftext|>`, ...) are never produced: such text is counted as ordinary text, as
// the providers do with user text.
//
// Data: the official rank files cl100k_base.tiktoken and o200k_base.tiktoken
// (third_party/tiktoken, SHA-256 checked at configure time), compiled into the library and
// parsed once, on first use or by Warm().
//
// Thread safety: an Encoding is immutable after construction; Count() and Encode() are safe
// from any number of threads (each thread keeps its own PCRE2 match data).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace pai::tokenizer {

enum class EncodingId { kO200kBase, kCl100kBase };

// EncodingName() is tiktoken's name: "o200k_base", "cl100k_base".
std::string_view EncodingName(EncodingId id);

// EncodingForModel() maps an OpenAI model id (bare, dated or fine-tuned: "gpt-4o-mini",
// "gpt-4o-2024-08-06", "ft:gpt-4o-mini:acme::x") to its encoding, following tiktoken's
// tiktoken/model.py; nullopt for models it does not know.
std::optional<EncodingId> EncodingForModel(std::string_view model_id);

class Encoding {
 public:
  // Get() returns the encoding, parsing its ranks on first use (about 50 ms for o200k_base).
  static const Encoding& Get(EncodingId id);

  // Count() is the number of tokens tiktoken's encode_ordinary() produces for `utf8`. Text that
  // is not valid UTF-8, and a single pre-split piece over 64 KiB (megabytes of punctuation
  // without a space), count one token per byte (an upper bound: a token is at least a byte).
  // Texts up to 1 KiB are remembered per thread (entries holding at most ~1 MiB per encoding),
  // so a text counted again costs a hash lookup. CountUncached() counts without that cache.
  int64_t Count(std::string_view utf8) const;
  int64_t CountUncached(std::string_view utf8) const;

  // Encode() is encode_ordinary(): the token ranks. Empty for invalid UTF-8. For tests.
  std::vector<uint32_t> Encode(std::string_view utf8) const;

  EncodingId id() const { return id_; }

  Encoding(const Encoding&) = delete;
  Encoding& operator=(const Encoding&) = delete;
  ~Encoding();

 private:
  struct Impl;
  explicit Encoding(EncodingId id);
  EncodingId id_;
  Impl* impl_;
};

// Warm() parses both encodings now (call at start-up so that no request pays for it).
void Warm();

}  // namespace pai::tokenizer
