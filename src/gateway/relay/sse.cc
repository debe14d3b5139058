#include "gateway/relay/sse.h"

namespace pai::gateway {

bool SseParser::NextEvent(SseEvent* ev) {
  while (scan_ < buf_.size()) {
    // Only bytes not yet examined are searched: an unterminated line is not rescanned.
    const size_t eol = buf_.find_first_of("\r\n", scan_);
    if (eol == std::string::npos) {
      bytes_examined_ += buf_.size() - scan_;
      scan_ = buf_.size();
      return false;
    }
    bytes_examined_ += eol + 1 - scan_;
    size_t next = eol + 1;
    if (buf_[eol] == '\r') {
      if (next == buf_.size()) {  // CR may be the first half of CRLF: wait, look at it again
        scan_ = eol;
        return false;
      }
      if (buf_[next] == '\n') ++next;
    }
    const std::string_view line(buf_.data() + line_start_, eol - line_start_);
    scan_ = line_start_ = next;
    if (pending_reset_) {
      data_.clear();
      event_.clear();
      has_data_ = false;
      pending_reset_ = false;
    }
    if (line.empty()) {
      if (scan_ - event_start_ > max_event_bytes_) {
        Overflow();
        return false;
      }
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
  // Each byte of an incomplete event moves at most once: after a move the event starts the
  // buffer, and the next move needs 64 KiB of completed events before it.
  if (event_start_ > 0 && (event_start_ == buf_.size() || event_start_ > 64 * 1024)) {
    buf_.erase(0, event_start_);
    scan_ -= event_start_;
    line_start_ -= event_start_;
    event_start_ = 0;
  }
}

void SseParser::Overflow() {
  overflowed_ = true;
  std::string().swap(buf_);
  std::string().swap(data_);
  std::string().swap(event_);
  scan_ = line_start_ = event_start_ = 0;
  has_data_ = pending_reset_ = false;
}

std::string SseParser::TakePending() {
  std::string out = buf_.substr(event_start_);
  buf_.clear();
  scan_ = line_start_ = event_start_ = 0;
  data_.clear();
  event_.clear();
  has_data_ = false;
  return out;
}

}  // namespace pai::gateway
