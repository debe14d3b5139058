// RunProcess(): runs a command in its own process group with a deadline, a cancel token and a
// bounded capture of its combined stdout+stderr.
//
// The child gets stdin from /dev/null, stdout and stderr on one pipe, SIGPIPE and the signal
// mask reset to defaults, and the harness's environment. On timeout or cancel the whole group
// gets SIGKILL. When the command itself exits, output still flowing from processes it left in
// the background is read for a short grace period only, and those processes are left alone.
//
// Thread safety: reentrant; the token may be cancelled from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/cancel.h"

namespace pai::harness {

// CappedOutput keeps the first and the last `cap / 2` bytes of a stream and counts the rest.
class CappedOutput {
 public:
  explicit CappedOutput(size_t cap) : head_cap_(cap / 2), tail_cap_(cap - cap / 2) {}
  void Append(std::string_view bytes);
  size_t total() const { return total_; }
  size_t cut() const { return total_ - head_.size() - TailSize(); }
  // Render() is head + "\n[... N bytes cut ...]\n" + tail (no marker when nothing was cut).
  std::string Render() const;

 private:
  size_t TailSize() const { return tail_.size() - tail_start_; }
  size_t head_cap_;
  size_t tail_cap_;
  std::string head_;
  std::string tail_;  // the live tail is tail_.substr(tail_start_)
  size_t tail_start_ = 0;
  size_t total_ = 0;
};

struct ProcessOptions {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::string cwd;
  std::chrono::milliseconds timeout{120000};
  size_t output_cap = 32768;
};

struct ProcessResult {
  int exit_code = -1;   // -1 when killed by a signal
  int term_signal = 0;  // the signal that ended it, 0 when it exited
  bool timed_out = false;
  bool cancelled = false;
  std::string output;       // CappedOutput::Render()
  size_t output_bytes = 0;  // the full output's size
  size_t cut_bytes = 0;
};

// Errors: Internal when the pipe or fork fails. A command that cannot be executed exits 127.
absl::StatusOr<ProcessResult> RunProcess(const ProcessOptions& options, CancelToken& cancel);

}  // namespace pai::harness
