#include "gateway/relay/stream_relay.h"

#include <algorithm>

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
        held_done_.append(ev.raw);
        forward = false;
      } else if (MayCarryUsage(ev.data)) {
        const ChunkInfo info = InspectChunk(ev.data);
        if (info.usage.present) {
          usage_ = info.usage;
          if (info.choices_empty && !client_wants_usage_) forward = false;
        }
      }
    }
    if (!ev.data.empty() && ev.data.find("\"tool_calls\"") != std::string_view::npos) {
      for (ToolCall& d : ExtractToolCallDeltas(ev.data)) {
        auto it = std::find_if(tool_calls_.begin(), tool_calls_.end(), [&](const ToolCall& t) {
          return t.choice == d.choice && t.index == d.index;
        });
        if (it == tool_calls_.end()) {
          tool_calls_.push_back(std::move(d));
        } else {
          if (it->id.empty()) it->id = std::move(d.id);
          if (it->name.empty()) it->name = std::move(d.name);
        }
      }
    }
    if (collect_content_ && !ev.data.empty() && ev.data != "[DONE]") content_.Add(ev.data);
    if (forward) out.append(ev.raw);
  });
}

void ChatStreamRelay::Finish(std::string& out) {
  out += held_done_;
  held_done_.clear();
  out += parser_.TakePending();
}

}  // namespace pai::gateway
