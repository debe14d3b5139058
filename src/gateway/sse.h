// Incremental Server-Sent Events parser (WHATWG HTML Living Standard, "Server-sent events",
// §9.2.6 "Interpreting an event stream"): lines end in CRLF, LF or CR; a blank line ends an
// event; "data:" lines are joined with '\n'; one space after the colon is dropped; lines
// starting with ':' are comments.
//
// The gateway relays events byte for byte, so each event also exposes its raw bytes, blank
// line included.
//
// Thread safety: none; one parser per stream.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pai::gateway {

// SseEvent: one complete event. Views are valid only during the callback.
struct SseEvent {
  std::string_view raw;    // the event's bytes as received, terminating blank line included
  std::string_view data;   // data lines joined with '\n'
  std::string_view event;  // "event:" field, empty when absent
};

class SseParser {
 public:
  // Feed() consumes `bytes` and calls `on_event(const SseEvent&)` for every event completed.
  template <typename F>
  void Feed(std::string_view bytes, F&& on_event) {
    buf_.append(bytes);
    SseEvent ev;
    while (NextEvent(&ev)) on_event(ev);
    Compact();
  }

  // Pending() is the number of bytes held for an incomplete event.
  size_t Pending() const { return buf_.size() - event_start_; }

  // TakePending() returns (and forgets) the bytes of an incomplete final event, for a stream
  // that ended without a blank line.
  std::string TakePending();

 private:
  bool NextEvent(SseEvent* ev);
  void Compact();

  std::string buf_;
  size_t scan_ = 0;         // next byte to examine
  size_t event_start_ = 0;  // first byte of the event being assembled
  std::string data_;
  std::string event_;
  bool has_data_ = false;
  bool pending_reset_ = false;  // clear data_/event_ before the next line
};

}  // namespace pai::gateway
