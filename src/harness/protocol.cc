#include "harness/protocol.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstring>

#include "harness/util.h"

namespace pai::harness {

namespace json = boost::json;

void EventSink::Emit(const json::object& line) {
  std::string text = json::serialize(line);
  text.push_back('\n');
  std::lock_guard lock(mu_);
  if (failed_) return;
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t w = ::write(fd_, text.data() + off, text.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      failed_ = true;
      Log(std::string("cannot write events: ") + std::strerror(errno));
      return;
    }
    off += static_cast<size_t>(w);
  }
}

json::object Event(std::string_view type) {
  json::object o;
  o["type"] = json::string(type);
  return o;
}

json::array TextParts(std::string_view text) {
  json::array parts;
  parts.push_back(json::object{{"type", "text"}, {"text", json::string(text)}});
  return parts;
}

Inbox::Inbox(int fd, EventSink& sink) : fd_(fd), sink_(sink) {
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) stop_pipe_[0] = stop_pipe_[1] = -1;
}

Inbox::~Inbox() {
  if (reader_.joinable()) {
    if (stop_pipe_[1] >= 0) {
      const char c = 'x';
      [[maybe_unused]] ssize_t w = ::write(stop_pipe_[1], &c, 1);
    }
    reader_.join();
  }
  for (int fd : stop_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

void Inbox::Start() {
  reader_ = std::thread([this] { ReadLoop(); });
}

void Inbox::ReadLoop() {
  std::string buffer;
  char chunk[65536];
  for (;;) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    const int n = ::poll(fds, stop_pipe_[0] >= 0 ? 2 : 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (fds[1].revents != 0 && stop_pipe_[0] >= 0) return;
    if (fds[0].revents == 0) continue;
    const ssize_t r = ::read(fd_, chunk, sizeof chunk);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r <= 0) break;
    buffer.append(chunk, static_cast<size_t>(r));
    size_t start = 0;
    for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
      HandleLine(std::string_view(buffer).substr(start, nl - start));
    }
    buffer.erase(0, start);
  }
  if (!buffer.empty()) HandleLine(buffer);
  std::lock_guard lock(mu_);
  eof_ = true;
  cv_.notify_all();
}

void Inbox::Processed(const std::string& event_id) {
  if (event_id.empty()) return;
  sink_.Emit(json::object{{"control", "processed"}, {"event_id", event_id}});
}

void Inbox::HandleLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (line.empty()) return;
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(line.data(), line.size()), ec);
  if (ec || !v.is_object()) {
    Log("ignoring a stdin line that is not a JSON object");
    return;
  }
  json::object& o = v.get_object();
  const std::string id = GetString(o, "id").value_or(std::nullopt).value_or("");
  if (auto control = GetString(o, "control"); control.ok() && control->has_value()) {
    const std::string request = GetString(o, "request_id").value_or(std::nullopt).value_or("");
    if (**control != "register_file_result" || request.empty()) {
      Log("ignoring control line '" + **control + "'");
      return;
    }
    std::lock_guard lock(mu_);
    control_results_[request] = std::move(o);
    cv_.notify_all();
    return;
  }
  const std::string type = GetString(o, "type").value_or(std::nullopt).value_or("");
  if (type == "user.message") {
    std::lock_guard lock(mu_);
    queue_.push_back(Queued{id, TextContent(o.if_contains("content")), false});
    cv_.notify_all();
  } else if (type == "user.interrupt") {
    Processed(id);
    std::shared_ptr<CancelToken> turn;
    {
      std::lock_guard lock(mu_);
      turn = turn_;
      for (Queued& q : queue_) q.interrupted = true;
    }
    // Outside mu_: the token's hook may take mu_ (a waiter for a custom tool result).
    if (turn) turn->Cancel();
  } else if (type == "user.custom_tool_result") {
    const std::string call = GetString(o, "custom_tool_use_id").value_or(std::nullopt).value_or("");
    std::lock_guard lock(mu_);
    if (!expected_custom_.count(call)) {
      Log("ignoring user.custom_tool_result for unknown call '" + call + "'");
      Processed(id);
      return;
    }
    custom_results_[call] = std::move(o);
    cv_.notify_all();
  } else {
    Log("ignoring stdin event of type '" + type + "'");
  }
}

std::shared_ptr<CancelToken> Inbox::StartTurn() {
  std::lock_guard lock(mu_);
  turn_ = std::make_shared<CancelToken>();
  return turn_;
}

std::optional<UserMessage> Inbox::NextMessage() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !queue_.empty() || eof_; });
  if (queue_.empty()) return std::nullopt;
  Queued q = std::move(queue_.front());
  queue_.pop_front();
  turn_ = std::make_shared<CancelToken>();
  if (q.interrupted) turn_->Cancel();
  // Emitted under the lock so that "processed" precedes anything this turn emits.
  Processed(q.event_id);
  return UserMessage{std::move(q.event_id), std::move(q.text), turn_};
}

void Inbox::EndTurn() {
  std::lock_guard lock(mu_);
  turn_.reset();
}

bool Inbox::eof() const {
  std::lock_guard lock(mu_);
  return eof_;
}

void Inbox::ExpectCustomToolResult(const std::string& tool_use_id) {
  std::lock_guard lock(mu_);
  expected_custom_.insert(tool_use_id);
}

absl::StatusOr<CustomToolResult> Inbox::WaitCustomToolResult(const std::string& tool_use_id,
                                                             CancelToken& cancel) {
  // The cancel token wakes this wait through its hook.
  ScopedCancelHook hook(cancel, [this] {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  });
  std::unique_lock lock(mu_);
  for (;;) {
    auto it = custom_results_.find(tool_use_id);
    if (it != custom_results_.end()) {
      json::object o = std::move(it->second);
      custom_results_.erase(it);
      expected_custom_.erase(tool_use_id);
      Processed(GetString(o, "id").value_or(std::nullopt).value_or(""));
      CustomToolResult r;
      r.text = TextContent(o.if_contains("content"));
      r.is_error = GetBool(o, "is_error").value_or(std::nullopt).value_or(false);
      return r;
    }
    if (cancel.cancelled()) {
      expected_custom_.erase(tool_use_id);
      return absl::CancelledError("interrupted");
    }
    if (eof_) {
      expected_custom_.erase(tool_use_id);
      return absl::UnavailableError("stdin closed before the custom tool result arrived");
    }
    cv_.wait(lock);
  }
}

absl::StatusOr<int64_t> Inbox::RegisterFile(const std::string& file, const std::string& path,
                                            std::chrono::milliseconds timeout,
                                            CancelToken& cancel) {
  std::string request;
  {
    std::lock_guard lock(mu_);
    request = "rf_" + std::to_string(next_request_++);
  }
  sink_.Emit(json::object{
      {"control", "register_file"}, {"request_id", request}, {"file", file}, {"path", path}});
  ScopedCancelHook hook(cancel, [this] {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  });
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  for (;;) {
    auto it = control_results_.find(request);
    if (it != control_results_.end()) {
      json::object o = std::move(it->second);
      control_results_.erase(it);
      if (auto err = GetString(o, "error"); err.ok() && err->has_value()) {
        return absl::FailedPreconditionError(**err);
      }
      auto version = GetInt(o, "version");
      if (!version.ok() || !version->has_value()) {
        return absl::InternalError("the runtime's register_file_result has no version");
      }
      return **version;
    }
    if (cancel.cancelled()) return absl::CancelledError("interrupted");
    if (eof_) return absl::UnavailableError("stdin closed before the runtime answered");
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
        control_results_.find(request) == control_results_.end()) {
      return absl::DeadlineExceededError("the runtime did not answer register_file in time");
    }
  }
}

}  // namespace pai::harness
