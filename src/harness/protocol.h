// The runtime ⇄ harness protocol (docs/sessions.md, "Harness protocol").
//
// Output (EventSink): one JSON object per line on the events fd (3), each line written whole and
// at once under a mutex: events without id/sequence/created_at, and control lines
// ({"control":"processed","event_id":...}, {"control":"register_file",...}).
//
// Input (Inbox): JSON lines on stdin, read by a thread of the Inbox's own:
//   {"id":"sevt_...","type":"user.message","content":[{"type":"text","text":...}]}
//   {"id":"sevt_...","type":"user.interrupt"}
//   {"id":"sevt_...","type":"user.custom_tool_result","custom_tool_use_id":...,
//    "content":[...],"is_error":false}
//   {"control":"register_file_result","request_id":"...","version":N} | ...,"error":"..."}
// user.message events queue in order; an interrupt is acknowledged ("processed") at once and
// cancels the turn in progress and every message still queued (each such message still starts
// a turn that is reported interrupted); custom tool results and register_file replies are
// matched to their waiters by id. EOF ends the queue; waiters then fail.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "harness/cancel.h"

namespace pai::harness {

// EventSink writes JSON lines to a file descriptor. Thread-safe. Write errors are logged once
// and then ignored (the runtime is gone; the harness keeps going until stdin ends).
class EventSink {
 public:
  explicit EventSink(int fd) : fd_(fd) {}
  void Emit(const boost::json::object& line);

 private:
  std::mutex mu_;
  int fd_;
  bool failed_ = false;
};

// Event() starts an event object {"type": type}.
boost::json::object Event(std::string_view type);
// TextParts() builds [{"type":"text","text":text}].
boost::json::array TextParts(std::string_view text);

struct UserMessage {
  std::string event_id;
  std::string text;
  std::shared_ptr<CancelToken> cancel;  // the turn's token; already cancelled when interrupted
};

struct CustomToolResult {
  std::string text;
  bool is_error = false;
};

// ControlChannel is what tools use to ask the runtime for something (register_file).
class ControlChannel {
 public:
  virtual ~ControlChannel() = default;
  // RegisterFile() asks the runtime to publish `path` as a new version of PaiFile `file`;
  // returns the version. Errors: the runtime's error (FailedPrecondition), DeadlineExceeded
  // after `timeout`, Cancelled on interrupt, Unavailable when stdin ended.
  virtual absl::StatusOr<int64_t> RegisterFile(const std::string& file, const std::string& path,
                                               std::chrono::milliseconds timeout,
                                               CancelToken& cancel) = 0;
};

// Inbox reads stdin on its own thread and hands events to the loop. Thread-safe.
class Inbox : public ControlChannel {
 public:
  Inbox(int fd, EventSink& sink);
  ~Inbox() override;  // stops and joins the reader
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  void Start();

  // StartTurn() makes a turn the current one (for a task, with no user event): interrupts now
  // cancel the returned token.
  std::shared_ptr<CancelToken> StartTurn();
  // NextMessage() blocks for the next user.message, emits its "processed" line and makes its
  // turn current; nullopt after EOF once the queue is empty.
  std::optional<UserMessage> NextMessage();
  // EndTurn() marks that no turn is in progress.
  void EndTurn();
  bool eof() const;

  // ExpectCustomToolResult() registers a call id before its agent.custom_tool_use is emitted.
  void ExpectCustomToolResult(const std::string& tool_use_id);
  // WaitCustomToolResult() blocks until the user.custom_tool_result for `tool_use_id` (emitting
  // its "processed" line), or Cancelled on interrupt, Unavailable on EOF.
  absl::StatusOr<CustomToolResult> WaitCustomToolResult(const std::string& tool_use_id,
                                                        CancelToken& cancel);

  absl::StatusOr<int64_t> RegisterFile(const std::string& file, const std::string& path,
                                       std::chrono::milliseconds timeout,
                                       CancelToken& cancel) override;

 private:
  struct Queued {
    std::string event_id;
    std::string text;
    bool interrupted = false;
  };
  void ReadLoop();
  void HandleLine(std::string_view line);
  void Processed(const std::string& event_id);

  int fd_;
  EventSink& sink_;
  int stop_pipe_[2] = {-1, -1};
  std::thread reader_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Queued> queue_;
  std::shared_ptr<CancelToken> turn_;  // null while idle
  bool eof_ = false;
  std::set<std::string> expected_custom_;
  std::map<std::string, boost::json::object> custom_results_;   // by custom_tool_use_id
  std::map<std::string, boost::json::object> control_results_;  // by request_id
  uint64_t next_request_ = 1;
};

}  // namespace pai::harness
