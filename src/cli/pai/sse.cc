#include "cli/pai/sse.h"

namespace pai::cli {

std::vector<SseEvent> SseParser::Feed(std::string_view chunk) {
  std::vector<SseEvent> out;
  size_t i = 0;
  if (skip_lf_ && !chunk.empty()) {
    if (chunk[0] == '\n') i = 1;
    skip_lf_ = false;
  }
  while (i < chunk.size()) {
    const size_t end = chunk.find_first_of("\r\n", i);
    if (end == std::string_view::npos) {
      partial_.append(chunk.substr(i));
      break;
    }
    partial_.append(chunk.substr(i, end - i));
    Line(partial_, out);
    partial_.clear();
    i = end + 1;
    if (chunk[end] == '\r') {
      if (i < chunk.size()) {
        if (chunk[i] == '\n') ++i;
      } else {
        skip_lf_ = true;
      }
    }
  }
  return out;
}

void SseParser::Line(std::string_view line, std::vector<SseEvent>& out) {
  if (line.empty()) {  // the end of a block
    if (have_data_) out.push_back(SseEvent{last_id_, event_.empty() ? "message" : event_, data_});
    have_data_ = false;
    data_.clear();
    event_.clear();
    return;
  }
  if (line[0] == ':') return;  // a comment
  std::string_view field = line;
  std::string_view value;
  if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (have_data_) data_ += '\n';
    data_.append(value);
    have_data_ = true;
  } else if (field == "event") {
    event_ = std::string(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_id_ = std::string(value);
  }
  // "retry" and unknown fields are ignored.
}

}  // namespace pai::cli
