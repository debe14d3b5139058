// Fuzz target: the incremental SSE parser (src/gateway/relay/sse.h), fed in two pieces; every
// event's views must lie inside what was fed, and a byte stream split anywhere yields the same
// events.
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz.h"
#include "gateway/relay/sse.h"

namespace {

std::vector<std::string> Events(std::string_view in, size_t cut) {
  pai::gateway::SseParser parser;
  std::vector<std::string> out;
  auto on_event = [&](const pai::gateway::SseEvent& ev) {
    out.push_back(std::string(ev.event) + '\0' + std::string(ev.data));
  };
  parser.Feed(in.substr(0, cut), on_event);
  parser.Feed(in.substr(cut), on_event);
  out.push_back(parser.TakePending());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = pai::fuzz::Input(data, size);
  // A CR at the cut may pair with a LF after it: the parser must treat "\r" + "\n" across feeds
  // as one line end, so splitting never changes the events.
  if (Events(in, pai::fuzz::SplitPoint(in)) != Events(in, in.size())) std::abort();
  return 0;
}
