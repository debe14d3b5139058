#include "gateway/sse.h"

namespace pai::gateway {

bool SseParser::NextEvent(SseEvent* ev) {
  while (scan_ < buf_.size()) {
    size_t eol = buf_.find_first_of("\r\n", scan_);
    if (eol == std::string::npos) return false;
    size_t next = eol + 1;
    if (buf_[eol] == '\r') {
      if (next == buf_.size()) return false;  // CR may be the first half of CRLF: wait
      if (buf_[next] == '\n') ++next;
    }
    const std::string_view line(buf_.data() + scan_, eol - scan_);
    scan_ = next;
    if (pending_reset_) {
      data_.clear();
      event_.clear();
      has_data_ = false;
      pending_reset_ = false;
    }
    if (line.empty()) {
      // A blank line after only comments still yields an event (with empty data) so that
      // relaying stays byte-exact; callers ignore events without data.
      ev->raw = std::string_view(buf_.data() + event_start_, scan_ - event_start_);
      ev->data = data_;
      ev->event = event_;
      event_start_ = scan_;
      // Reset for the next event after the callback has seen the views (Compact() runs after).
      pending_reset_ = true;
      return true;
    }
    if (line.front() == ':') continue;  // comment
    const size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon);
    std::string_view value;
    if (colon != std::string_view::npos) {
      value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
      if (has_data_) data_.push_back('\n');
      data_.append(value);
      has_data_ = true;
    } else if (field == "event") {
      event_.assign(value);
    }
  }
  return false;
}

void SseParser::Compact() {
  if (pending_reset_) {
    data_.clear();
    event_.clear();
    has_data_ = false;
    pending_reset_ = false;
  }
  if (event_start_ > 0 && (event_start_ == buf_.size() || event_start_ > 64 * 1024)) {
    buf_.erase(0, event_start_);
    scan_ -= event_start_;
    event_start_ = 0;
  }
}

std::string SseParser::TakePending() {
  std::string out = buf_.substr(event_start_);
  buf_.clear();
  scan_ = event_start_ = 0;
  data_.clear();
  event_.clear();
  has_data_ = false;
  return out;
}

}  // namespace pai::gateway
