// Fuzz target: the readers of provider answers and stream chunks (src/gateway/providers/usage.h):
// a whole answer read and checked in one pass, usage, tool-call deltas, chunk inspection.
#include "fuzz.h"
#include "gateway/providers/usage.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = pai::fuzz::Input(data, size);
  std::string body(in);
  (void)pai::gateway::ExtractUsage(body);
  std::string body2(in);
  if (auto read = pai::gateway::ReadChatAnswer(body2, /*want_contents=*/true)) {
    // What one pass reads, the other readers of the same body agree with.
    std::string body3(in);
    const pai::gateway::Usage u = pai::gateway::ExtractUsage(body3);
    if (u.present != read->usage.present || u.prompt_tokens != read->usage.prompt_tokens) {
      __builtin_trap();
    }
  }
  (void)pai::gateway::ExtractToolCallDeltas(in);
  (void)pai::gateway::InspectChunk(in);
  return 0;
}
