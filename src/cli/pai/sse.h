// SseParser: an incremental parser of a Server-Sent Events stream (the WHATWG "event stream"
// format, as pai-server's `.../events/stream` sends it, docs/api.md). Bytes arrive in arbitrary
// chunks (libcurl's write callback); complete events come out.
//
// Lines end in LF, CRLF or CR (a CR at the end of one chunk and an LF at the start of the next
// are one line end). A line starting with ':' is a comment (the server's `: ping`). `data:`
// lines of one block are joined with "\n". One space after the colon is dropped. A block
// without `data` produces no event (as in browsers); `id:` is remembered even then.
//
// Thread safety: a plain value; not synchronised.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pai::cli {

struct SseEvent {
  std::string id;     // the block's `id:` (or the last one seen before it)
  std::string event;  // `event:`; "message" when absent
  std::string data;   // the `data:` lines joined with "\n"
};

class SseParser {
 public:
  // Feed() consumes `chunk` and returns the events it completed, in order.
  std::vector<SseEvent> Feed(std::string_view chunk);
  // last_id() is the last `id:` seen (the value to send as Last-Event-ID).
  const std::string& last_id() const { return last_id_; }

 private:
  void Line(std::string_view line, std::vector<SseEvent>& out);

  std::string partial_;     // an unfinished line
  bool skip_lf_ = false;    // the previous chunk ended in CR
  bool have_data_ = false;  // the block has a data field
  std::string data_;
  std::string event_;
  std::string last_id_;
};

}  // namespace pai::cli
