// Obfuscation variants and encoded payloads of the builtin classifier (internal to src/guard):
// the deobfuscators that turn an obfuscated text back into plain text for a rescan, and the
// pass that finds base64/hex payloads and decodes them. The engine (builtin_classifier.cc)
// classifies what these produce like any text, one level deeper.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"

namespace pai::guard::builtin {

// Features: one pass over the text deciding which deobfuscators are worth running.
// ScanPayloads() fills the first four; the engine sets the triggers from the scan.
struct Features {
  int leet_words = 0;   // short words mixing letters and digits
  bool spaced = false;  // four single letters separated by single spaces
  bool cyrillic = false;
  int escapes = 0;  // %XX and \u00XX
  // Set by the scan when a trigger rule matched ("rot13", "backwards"): Rot13() and Reverse()
  // are only worth a rescan when the text asks for them.
  bool rot13 = false;
  bool reverse = false;
};

// --- obfuscation variants -------------------------------------------------------------------
// Each returns true and fills `out` when `text` shows that obfuscation (as told by `features`,
// gathered from the same text); the variant is then classified like a decoded payload. When
// one returns false, `out` may have been overwritten. Pure functions of their inputs.

// Unleet(): leetspeak inside words that mix letters and digits: "1gn0r3 4ll" -> "ignore all".
// Runs when features.leet_words >= 2.
bool Unleet(std::string_view text, const Features& features, std::string* out);
// Unspace(): letters spaced out: "I g n o r e   a l l" -> "Ignore all" (runs of >= 4 single
// letters). Runs when features.spaced.
bool Unspace(std::string_view text, const Features& features, std::string* out);
// Unhomoglyph(): Cyrillic letters that look Latin, inside Latin words: "ignоre" (о = U+043E) ->
// "ignore". Runs when features.cyrillic.
bool Unhomoglyph(std::string_view text, const Features& features, std::string* out);
// Unescape(): percent-encoding (%49%67...) and JSON/JS \u00XX escapes of ASCII, decoded when at
// least 4 appear (features.escapes counts them).
bool Unescape(std::string_view text, const Features& features, std::string* out);
// Rot13(): the text through ROT13, when features.rot13.
bool Rot13(std::string_view text, const Features& features, std::string* out);
// Reverse(): the text reversed byte by byte, when features.reverse.
bool Reverse(std::string_view text, const Features& features, std::string* out);

// HexValue() is the value of hex digit `c` (either case), or -1 when `c` is not one.
int HexValue(char c);

// Deobfuscator: a variant and the evidence rule id reported when it reveals an attack.
struct Deobfuscator {
  std::string_view rule;
  bool (*fn)(std::string_view text, const Features& features, std::string* out);
};
// Deobfuscators() lists the variants in the order the engine tries them. Constant data.
std::span<const Deobfuscator> Deobfuscators();

// MostlyText() says whether decoded bytes `s` are worth rescanning: at least 12 bytes, at least
// 85 % of them printable ASCII, tab, CR, LF or bytes >= 0x80 (UTF-8). Pure.
bool MostlyText(std::string_view s);

// ScanPayloads() walks `text` once and finds the runs of base64 (standard or web-safe, with up
// to two '=') and hex long enough to hide an instruction; it decodes them and calls
// `on_payload(decoded, end)` for each that is MostlyText(), `end` being the offset just past the
// run in `text`. At most 64 payloads and 256 KiB of decoded bytes per call (runs are read up to
// 16 KiB). With `top` (the text as classified, not a payload), the same pass adds to `*features`
// the counts that decide which deobfuscators run (without `top`, `*features` is scratch: partly
// updated, and the engine discards it). `decoded` is valid only during the call; `on_payload`
// may call ScanPayloads() again (it classifies the payload, which may hold another one).
void ScanPayloads(std::string_view text, bool top, Features* features,
                  absl::FunctionRef<void(std::string_view decoded, size_t end)> on_payload);

}  // namespace pai::guard::builtin
