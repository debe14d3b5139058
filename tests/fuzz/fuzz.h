// Shared declarations of the fuzz targets (tests/fuzz/README.md).
//
// Every target defines LLVMFuzzerTestOneInput() (libFuzzer's entry point: one input, return 0).
// Built two ways:
//   - with clang and -DPAI_FUZZ=ON: linked with -fsanitize=fuzzer for long runs (scripts/fuzz.sh);
//   - always: linked with replay_main.cc, a driver that runs the target on every file of its
//     committed corpus (tests/fuzz/corpus/<target>/), as a CTest regression test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace pai::fuzz {

// Input(): the fuzzer's bytes as a string view.
inline std::string_view Input(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Split(): cuts an input at a position derived from its first byte, so that incremental parsers
// see the same bytes in two feeds (chunk boundaries are where streaming parsers break).
inline size_t SplitPoint(std::string_view in) {
  if (in.empty()) return 0;
  return static_cast<unsigned char>(in[0]) % (in.size() + 1);
}

}  // namespace pai::fuzz
