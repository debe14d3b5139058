#include "gateway/stream_relay.h"

namespace pai::gateway {

void ChatStreamRelay::Process(std::string_view in, std::string& out) {
  parser_.Feed(in, [&](const SseEvent& ev) {
    bool forward = true;
    if (!ev.data.empty()) {
      ++events_;
      // Only chunks that mention usage need parsing: most chunks are relayed untouched.
      if (ev.data == "[DONE]") {
        saw_done_ = true;
      } else if (ev.data.find("\"usage\"") != std::string_view::npos) {
        const ChunkInfo info = InspectChunk(ev.data);
        if (info.usage.present) {
          usage_ = info.usage;
          if (info.choices_empty && !client_wants_usage_) forward = false;
        }
      }
    }
    if (forward) out.append(ev.raw);
  });
}

void ChatStreamRelay::Finish(std::string& out) { out += parser_.TakePending(); }

}  // namespace pai::gateway
