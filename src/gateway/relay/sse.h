// Incremental Server-Sent Events parser (WHATWG HTML Living Standard, "Server-sent events",
// §9.2.6 "Interpreting an event stream"): lines end in CRLF, LF or CR; a blank line ends an
// event; "data:" lines are joined with '\n'; one space after the colon is dropped; lines
// starting with ':' are comments.
//
// The gateway relays events byte for byte, so each event also exposes its raw bytes, blank
// line included.
//
// Bounds: an event (its raw bytes) may not exceed `max_event_bytes`; past it the parser is
// "overflowed": it frees what it holds and ignores all further input, and the caller ends the
// stream (docs/configuration.md, "Streams"). Line ends are searched once per byte however the
// reads split a line, so the work is linear in the bytes fed.
//
// Thread safety: none; one parser per stream.
#pragma once

#include <cstddef>
#include <cstdint>
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
  // Large enough for any event a provider sends (Gemini's inline images included).
  static constexpr size_t kDefaultMaxEventBytes = 4u << 20;

  explicit SseParser(size_t max_event_bytes = kDefaultMaxEventBytes)
      : max_event_bytes_(max_event_bytes) {}

  // Feed() consumes `bytes` and calls `on_event(const SseEvent&)` for every event completed.
  // Once overflowed() it does nothing.
  template <typename F>
  void Feed(std::string_view bytes, F&& on_event) {
    if (overflowed_) return;
    buf_.append(bytes);
    SseEvent ev;
    while (NextEvent(&ev)) on_event(ev);
    if (!overflowed_ && Pending() > max_event_bytes_) Overflow();
    Compact();
  }

  // overflowed(): an event exceeded max_event_bytes; the stream cannot be relayed further.
  bool overflowed() const { return overflowed_; }

  // HeldBytes() is the memory the parser holds for input (buffer and assembled fields).
  size_t HeldBytes() const { return buf_.capacity() + data_.capacity() + event_.capacity(); }

  // bytes_examined() counts the bytes searched for line ends (linear-scan check in tests).
  uint64_t bytes_examined() const { return bytes_examined_; }

  // Pending() is the number of bytes held for an incomplete event.
  size_t Pending() const { return buf_.size() - event_start_; }

  // TakePending() returns (and forgets) the bytes of an incomplete final event, for a stream
  // that ended without a blank line.
  std::string TakePending();

 private:
  bool NextEvent(SseEvent* ev);
  void Compact();
  void Overflow();

  size_t max_event_bytes_;
  bool overflowed_ = false;
  uint64_t bytes_examined_ = 0;
  std::string buf_;
  size_t line_start_ = 0;   // first byte of the line being read
  size_t scan_ = 0;         // next byte to examine (line_start_ <= scan_: the rest has no EOL)
  size_t event_start_ = 0;  // first byte of the event being assembled
  std::string data_;
  std::string event_;
  bool has_data_ = false;
  bool pending_reset_ = false;  // clear data_/event_ before the next line
};

}  // namespace pai::gateway
