#include "test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace pai::harness::testing {

namespace json = boost::json;
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "pai-harness-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void WriteFile(const fs::path& p, std::string_view content) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t w = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    data.remove_prefix(static_cast<size_t>(w));
  }
}

std::string_view Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace

HttpServer::HttpServer(std::function<HttpResponse(const HttpRequest&)> handler)
    : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    throw std::runtime_error("bind/listen failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  thread_ = std::thread([this] { Serve(); });
}

HttpServer::~HttpServer() {
  const char c = 'x';
  [[maybe_unused]] ssize_t w = ::write(stop_pipe_[1], &c, 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

std::vector<HttpRequest> HttpServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

void HttpServer::Serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Handle(fd);
    ::close(fd);
  }
}

void HttpServer::Handle(int fd) {
  std::string data;
  char buf[65536];
  size_t header_end = std::string::npos;
  size_t content_length = 0;
  for (;;) {
    if (header_end != std::string::npos && data.size() >= header_end + 4 + content_length) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return;
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) return;
    data.append(buf, static_cast<size_t>(r));
    if (header_end == std::string::npos) {
      header_end = data.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        std::string lower = data.substr(0, header_end);
        for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        const size_t cl = lower.find("content-length:");
        if (cl != std::string::npos)
          content_length = std::strtoul(lower.c_str() + cl + 15, nullptr, 10);
      }
    }
  }
  HttpRequest req;
  const size_t line_end = data.find("\r\n");
  std::istringstream first(data.substr(0, line_end));
  first >> req.method >> req.target;
  req.headers = data.substr(line_end + 2, header_end - line_end - 2);
  req.body = data.substr(header_end + 4, content_length);
  {
    std::lock_guard lock(mu_);
    requests_.push_back(req);
  }
  HttpResponse resp = handler_(req);
  std::string head = "HTTP/1.1 " + std::to_string(resp.status) + " " +
                     std::string(Reason(resp.status)) + "\r\nContent-Type: " + resp.content_type +
                     "\r\nConnection: close\r\n";
  for (const auto& [k, v] : resp.headers) head += k + ": " + v + "\r\n";
  if (resp.chunks.empty()) head += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n";
  head += "\r\n";
  WriteAll(fd, head);
  if (resp.chunks.empty()) {
    WriteAll(fd, resp.body);
  } else {
    for (const std::string& c : resp.chunks) WriteAll(fd, c);
  }
  if (resp.hold_open) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) == 1 && ::recv(fd, buf, sizeof buf, 0) <= 0 && resp.client_closed) {
      resp.client_closed();
    }
  }
  ::shutdown(fd, SHUT_WR);
}

namespace {

std::string Chunk(json::object delta, json::value finish = nullptr) {
  json::object choice{{"index", 0}, {"delta", std::move(delta)}};
  choice["finish_reason"] = std::move(finish);
  json::array choices;
  choices.push_back(std::move(choice));
  json::object c{{"id", "chatcmpl-test"},
                 {"object", "chat.completion.chunk"},
                 {"created", 1},
                 {"model", "test-model-served"}};
  c["choices"] = std::move(choices);
  return "data: " + json::serialize(c) + "\n\n";
}

}  // namespace

std::string SseContent(std::string_view text) {
  return Chunk(json::object{{"role", "assistant"}, {"content", json::string(text)}});
}

std::string SseToolCallStart(int index, std::string_view id, std::string_view name,
                             std::string_view args_fragment) {
  json::array calls;
  calls.push_back(json::object{
      {"index", index},
      {"id", json::string(id)},
      {"type", "function"},
      {"function",
       json::object{{"name", json::string(name)}, {"arguments", json::string(args_fragment)}}}});
  json::object delta;
  delta["tool_calls"] = std::move(calls);
  return Chunk(std::move(delta));
}

std::string SseToolCallArgs(int index, std::string_view args_fragment) {
  json::array calls;
  calls.push_back(json::object{
      {"index", index}, {"function", json::object{{"arguments", json::string(args_fragment)}}}});
  json::object delta;
  delta["tool_calls"] = std::move(calls);
  return Chunk(std::move(delta));
}

std::string SseFinish(std::string_view reason) {
  return Chunk(json::object(), json::string(reason));
}

std::string SseUsage(int prompt, int completion) {
  json::object c{{"id", "chatcmpl-test"},
                 {"object", "chat.completion.chunk"},
                 {"model", "test-model-served"},
                 {"choices", json::array()}};
  c["usage"] = json::object{{"prompt_tokens", prompt},
                            {"completion_tokens", completion},
                            {"total_tokens", prompt + completion}};
  return "data: " + json::serialize(c) + "\n\n";
}

std::string SseDone() { return "data: [DONE]\n\n"; }

HttpResponse SseResponse(std::vector<std::string> chunks) {
  HttpResponse r;
  r.content_type = "text/event-stream";
  r.chunks = std::move(chunks);
  return r;
}

HarnessProcess::HarnessProcess(const fs::path& config, const std::string& base_url) {
  int in_pipe[2];
  int ev_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(ev_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, ev_pipe[1], 3);
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view kv(*e);
    if (kv.rfind("OPENAI_", 0) == 0) continue;
    env_store.emplace_back(kv);
  }
  env_store.push_back("OPENAI_BASE_URL=" + base_url + "/v1");
  env_store.push_back("PAI_AUTH_GRACE_MS=300");
  env_store.push_back("OPENAI_API_KEY=test-token");
  env_store.push_back("no_proxy=127.0.0.1,localhost");
  env_store.push_back("NO_PROXY=127.0.0.1,localhost");
  std::vector<char*> envp;
  for (std::string& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string bin = PAI_HARNESS_BIN;
  std::string flag = "--config";
  std::string cfg = config.string();
  char* argv[] = {bin.data(), flag.data(), cfg.data(), nullptr};
  const int rc = posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(ev_pipe[1]);
  if (rc != 0) throw std::runtime_error("posix_spawn failed");
  stdin_fd_ = in_pipe[1];
  events_fd_ = ev_pipe[0];
}

HarnessProcess::~HarnessProcess() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (events_fd_ >= 0) ::close(events_fd_);
}

void HarnessProcess::Send(const json::object& line) {
  std::string text = json::serialize(line) + "\n";
  std::string_view rest = text;
  while (!rest.empty()) {
    const ssize_t w = ::write(stdin_fd_, rest.data(), rest.size());
    if (w <= 0) throw std::runtime_error("write to the harness's stdin failed");
    rest.remove_prefix(static_cast<size_t>(w));
  }
}

void HarnessProcess::CloseStdin() {
  ::close(stdin_fd_);
  stdin_fd_ = -1;
}

std::optional<json::object> HarnessProcess::Next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      json::value v = json::parse(line);
      return v.as_object();
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{events_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
    char buf[65536];
    const ssize_t r = ::read(events_fd_, buf, sizeof buf);
    if (r <= 0) {
      eof_ = true;
      return std::nullopt;
    }
    buffer_.append(buf, static_cast<size_t>(r));
  }
}

std::optional<json::object> HarnessProcess::NextEvent(std::chrono::milliseconds timeout) {
  for (;;) {
    auto line = Next(timeout);
    if (!line || !line->contains("control")) return line;
  }
}

int HarnessProcess::WaitExit(std::chrono::milliseconds timeout) {
  while (auto line = Next(timeout)) drained_.push_back(std::move(*line));
  if (!eof_) ::kill(pid_, SIGKILL);  // it did not finish in time: the test fails on the code
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return -WTERMSIG(status);
}

std::string Str(const json::value& v) {
  return v.is_string() ? std::string(v.get_string()) : std::string();
}

std::string TypeOf(const json::object& o) {
  const json::value* t = o.if_contains("type");
  return t != nullptr ? Str(*t) : std::string();
}

}  // namespace pai::harness::testing
