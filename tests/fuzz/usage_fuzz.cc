// Fuzz target: the usage and tool-call readers of provider answers and stream chunks
// (src/gateway/providers/usage.h).
#include "fuzz.h"
#include "gateway/providers/usage.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = pai::fuzz::Input(data, size);
  std::string body(in);
  (void)pai::gateway::ExtractUsage(body);
  std::string body2(in);
  (void)pai::gateway::ExtractToolCalls(body2);
  (void)pai::gateway::ExtractToolCallDeltas(in);
  (void)pai::gateway::InspectChunk(in);
  return 0;
}
