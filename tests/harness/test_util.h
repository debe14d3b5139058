// Test helpers for the harness: a temporary directory, a tiny scripted HTTP server (one thread,
// one connection at a time; answers whole bodies or SSE chunks) and a pai-harness child process
// with stdin and fd 3 on pipes.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace pai::harness::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

void WriteFile(const std::filesystem::path& p, std::string_view content);
std::string ReadFile(const std::filesystem::path& p);

struct HttpRequest {
  std::string method;
  std::string target;
  std::string headers;  // raw header block, lower-cased names not guaranteed
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;                 // sent whole (Content-Length) unless chunks is non-empty
  std::vector<std::string> chunks;  // written one by one, then the connection closes
  // hold_open: after the chunks, keep the connection until the client closes it (≤ 10 s);
  // `client_closed` (if set) is then called.
  bool hold_open = false;
  std::function<void()> client_closed;
};

// HttpServer listens on 127.0.0.1:<ephemeral> and answers each request with handler(request).
// Thread-safe: requests() may be read while it runs.
class HttpServer {
 public:
  explicit HttpServer(std::function<HttpResponse(const HttpRequest&)> handler);
  ~HttpServer();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<HttpRequest> requests() const;

 private:
  void Serve();
  void Handle(int fd);
  std::function<HttpResponse(const HttpRequest&)> handler_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<HttpRequest> requests_;
};

// OpenAI chat.completion.chunk builders (each returns one SSE event: "data: ...\n\n").
std::string SseContent(std::string_view text);
std::string SseToolCallStart(int index, std::string_view id, std::string_view name,
                             std::string_view args_fragment);
std::string SseToolCallArgs(int index, std::string_view args_fragment);
std::string SseFinish(std::string_view reason);
std::string SseUsage(int prompt, int completion);
std::string SseDone();
// SseResponse() wraps chunks as a 200 text/event-stream answer.
HttpResponse SseResponse(std::vector<std::string> chunks);

// HarnessProcess runs PAI_HARNESS_BIN with --config; stdin and fd 3 are pipes; stderr is
// inherited.
class HarnessProcess {
 public:
  HarnessProcess(const std::filesystem::path& config, const std::string& base_url);
  ~HarnessProcess();
  void Send(const boost::json::object& line);
  void CloseStdin();
  // Next() returns the next line of fd 3 (events and control lines) or nullopt on EOF/timeout.
  std::optional<boost::json::object> Next(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // NextEvent() skips control lines.
  std::optional<boost::json::object> NextEvent(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // WaitExit() drains fd 3 until EOF and reaps the process; its exit code (-signal if killed).
  int WaitExit(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Drained() lines read by WaitExit().
  const std::vector<boost::json::object>& drained() const { return drained_; }

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int events_fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
  std::vector<boost::json::object> drained_;
};

std::string Str(const boost::json::value& v);  // a JSON string's text, "" otherwise
std::string TypeOf(const boost::json::object& o);

}  // namespace pai::harness::testing
