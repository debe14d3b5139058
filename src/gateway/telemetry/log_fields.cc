#include "gateway/telemetry/log_fields.h"

#include "gateway/pipeline/pipeline.h"

namespace pai::gateway {

std::string LogSafe(std::string_view text, size_t max_bytes) {
  const bool cut = text.size() > max_bytes;
  if (cut) text = text.substr(0, max_bytes);
  std::string out(text);
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';  // char may be signed: bytes >= 0x80 are negative
  }
  if (cut) out += "...";
  return out;
}

std::string LogPath(std::string_view target) { return LogSafe(target.substr(0, target.find('?'))); }

std::string_view RequestedModel(const RequestContext& ctx) {
  if (ctx.chat) return ctx.chat->model;
  if (ctx.embeddings) return ctx.embeddings->model;
  if (ctx.native) return ctx.native->model;
  return {};
}

}  // namespace pai::gateway
