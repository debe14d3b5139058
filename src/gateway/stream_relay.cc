#include "gateway/stream_relay.h"

namespace pai::gateway {
namespace {

// MayCarryUsage() is a cheap pre-filter: only a chunk whose "usage" member is an object needs
// parsing. OpenAI sends `"usage":null` on every content chunk once usage is requested.
bool MayCarryUsage(std::string_view data) {
  size_t pos = 0;
  while ((pos = data.find("\"usage\"", pos)) != std::string_view::npos) {
    pos += 7;
    size_t i = pos;
    while (i < data.size() && (data[i] == ' ' || data[i] == ':' || data[i] == '\t' ||
                               data[i] == '\n' || data[i] == '\r')) {
      ++i;
    }
    if (i < data.size() && data[i] == '{') return true;
  }
  return false;
}

}  // namespace

void ChatStreamRelay::Process(std::string_view in, std::string& out) {
  parser_.Feed(in, [&](const SseEvent& ev) {
    bool forward = true;
    if (!ev.data.empty()) {
      ++events_;
      // Only chunks that mention usage need parsing: most chunks are relayed untouched.
      if (ev.data == "[DONE]") {
        saw_done_ = true;
      } else if (MayCarryUsage(ev.data)) {
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
