// The egress edge (src/runtime/egress.h) over real sockets: clients on the unix sockets, test
// origins on 127.0.0.1:0; plus the policy's unit tests (egress_policy.h). Clients use plain
// blocking POSIX sockets with receive timeouts, so a bug shows up as a failed check rather than a
// hung test. Records are awaited with a condition variable, never with sleeps.
#include "runtime/egress.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/egress_policy.h"

namespace pai::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// Socket helpers

void SetTimeouts(int fd) {
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int ConnectUnix(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  SetTimeouts(fd);
  return fd;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// ReadAll(): until EOF (or an error / the 5 s receive timeout).
std::string ReadAll(int fd) {
  std::string out;
  char buf[8192];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

std::string ReadExactly(int fd, size_t size) {
  std::string out;
  char buf[8192];
  while (out.size() < size) {
    const ssize_t n = recv(fd, buf, std::min(sizeof(buf), size - out.size()), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// ReadHead(): byte by byte up to the blank line, so nothing after it is consumed.
std::string ReadHead(int fd) {
  std::string out;
  char c;
  while (out.find("\r\n\r\n") == std::string::npos && recv(fd, &c, 1, 0) == 1) out.push_back(c);
  return out;
}

// IsEof(): the next read reports end of stream (not a timeout).
bool IsEof(int fd) {
  char c;
  return recv(fd, &c, 1, 0) == 0;
}

// Exchange(): one proxy request on a fresh connection; the whole answer.
std::string Exchange(const std::string& socket_path, const std::string& request) {
  const int fd = ConnectUnix(socket_path);
  if (fd < 0) return "connect failed";
  WriteAll(fd, request);
  std::string response = ReadAll(fd);
  close(fd);
  return response;
}

// TcpListener: a listening socket nobody accepts on: any connection made to it stays pending,
// which HasPending() sees without racing an accept thread.
class TcpListener {
 public:
  explicit TcpListener(const char* ip = "127.0.0.1") {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    inet_pton(AF_INET, ip, &addr.sin_addr);
    ok_ = bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && listen(fd_, 64) == 0;
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~TcpListener() { Close(); }
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  bool ok() const { return ok_; }
  int port() const { return port_; }
  int fd() const { return fd_; }
  bool HasPending() const {
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
  }
  void Close() {
    if (fd_ >= 0) {
      shutdown(fd_, SHUT_RDWR);  // wakes a blocked accept()
      close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  bool ok_ = false;
};

// TcpServer: accepts on 127.0.0.1:0 and serves each connection on its own thread.
class TcpServer {
 public:
  virtual ~TcpServer() { Stop(); }

  int port() const { return listener_.port(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port()); }
  int accepted() const { return accepted_.load(); }

 protected:
  void Start() {
    acceptor_ = std::thread([this] {
      for (;;) {
        const int fd = accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        ++accepted_;
        SetTimeouts(fd);
        std::lock_guard<std::mutex> lock(mu_);
        workers_.emplace_back([this, fd] {
          Serve(fd);
          close(fd);
        });
      }
    });
  }
  // Stop(): every subclass calls it in its destructor, before its members go.
  void Stop() {
    if (!acceptor_.joinable()) return;
    listener_.Close();
    acceptor_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : workers_) t.join();
    workers_.clear();
  }
  virtual void Serve(int fd) = 0;

  std::mutex mu_;

 private:
  TcpListener listener_;
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

// EchoServer: echoes every chunk back with `tag` in front; closes after the client's EOF.
class EchoServer : public TcpServer {
 public:
  explicit EchoServer(std::string tag) : tag_(std::move(tag)) { Start(); }
  ~EchoServer() override { Stop(); }

 private:
  void Serve(int fd) override {
    char buf[4096];
    for (;;) {
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return;
      if (!WriteAll(fd, tag_ + std::string(buf, static_cast<size_t>(n)))) return;
    }
  }
  std::string tag_;
};

// HttpOrigin: answers one request per connection: "/chunked" with a chunked body, a request
// with a Content-Length body with "got N bytes: <body>", anything else with a fixed body.
// Remembers the last request head it received.
class HttpOrigin : public TcpServer {
 public:
  HttpOrigin() { Start(); }
  ~HttpOrigin() override { Stop(); }

  std::string last_head() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_head_;
  }

 private:
  void Serve(int fd) override {
    const std::string head = ReadHead(fd);
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_head_ = head;
    }
    if (head.find(" /chunked ") != std::string::npos) {
      WriteAll(fd,
               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=5\r\n\r\n"
               "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
      return;
    }
    std::string body = "hello from origin";
    const size_t cl = head.find("Content-Length: ");
    if (head.find("Transfer-Encoding: chunked\r\n") != std::string::npos) {
      std::string raw;
      char c;
      while (raw.find("0\r\n\r\n") == std::string::npos && recv(fd, &c, 1, 0) == 1) {
        raw.push_back(c);
      }
      body = "chunked: " + raw;
    } else if (cl != std::string::npos) {
      const size_t n = std::stoul(head.substr(cl + 16));
      const std::string got = ReadExactly(fd, n);
      body = "got " + std::to_string(got.size()) + " bytes: " + got;
    }
    WriteAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body);
  }

  std::string last_head_;  // guarded by mu_
};

// ---------------------------------------------------------------------------------------------
// The service under test

class Records {
 public:
  void Add(const EgressRecord& r) {
    std::lock_guard<std::mutex> lock(mu_);
    list_.push_back(r);
    cv_.notify_all();
  }
  // Wait(): the `n`-th record (1-based), waiting up to 5 s for it.
  std::optional<EgressRecord> Wait(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, 5s, [&] { return list_.size() >= n; })) return std::nullopt;
    return list_[n - 1];
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return list_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<EgressRecord> list_;
};

struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "egress_test.XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string path;
};

// Harness: a started service with one sandbox "ns/box" in a temp dir. Members are destroyed
// in reverse: the service stops before the records it reports into.
struct Harness {
  explicit Harness(EgressPolicy policy, EgressOptions options = {}) {
    options.on_record = [this](const EgressRecord& r) { records.Add(r); };
    options.threads = 2;  // connections on different threads: exercises the strands
    auto started = EgressService::Start(std::move(options));
    REQUIRE(started.ok());
    service = *std::move(started);
    REQUIRE(service->AddSandbox("ns/box", dir.path, std::move(policy)).ok());
  }
  std::string egress() const { return dir.path + "/egress.sock"; }
  std::string gateway() const { return dir.path + "/gateway.sock"; }

  Records records;
  TempDir dir;
  std::unique_ptr<EgressService> service;
};

EgressPolicy Allow(std::vector<std::string> allow) {
  EgressPolicy p;
  p.allow = std::move(allow);
  return p;
}

std::string Get(const std::string& url) {
  return "GET " + url + " HTTP/1.1\r\nHost: ignored\r\nUser-Agent: t\r\n\r\n";
}
std::string Connect(const std::string& authority) {
  return "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n";
}
std::string Loopback(int port) { return "127.0.0.1:" + std::to_string(port); }

// ---------------------------------------------------------------------------------------------
// Plain HTTP

TEST_CASE("egress proxy forwards an allow-listed absolute-form GET and records it") {
  HttpOrigin origin;
  Harness h(Allow({"127.0.0.1/32"}));
  const std::string response = Exchange(
      h.egress(), "GET http://127.0.0.1:" + std::to_string(origin.port()) +
                      "/hello?x=1 HTTP/1.1\r\nHost: elsewhere\r\nProxy-Connection: keep-alive\r\n"
                      "Proxy-Authorization: Basic eDp5\r\nConnection: X-Secret\r\n"
                      "X-Secret: 1\r\nAccept: */*\r\n\r\n");
  CHECK(response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(response.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(response.find("\r\n\r\nhello from origin") != std::string::npos);

  const std::string head = origin.last_head();
  CHECK(head.rfind("GET /hello?x=1 HTTP/1.1\r\n", 0) == 0);
  CHECK(head.find("Host: 127.0.0.1:" + std::to_string(origin.port()) + "\r\n") !=
        std::string::npos);
  CHECK(head.find("Proxy-") == std::string::npos);
  CHECK(head.find("X-Secret") == std::string::npos);
  CHECK(head.find("Accept: */*\r\n") != std::string::npos);
  CHECK(head.find("Via: 1.1 pai-egress\r\n") != std::string::npos);

  auto rec = h.records.Wait(1);
  REQUIRE(rec);
  CHECK(rec->sandbox == "ns/box");
  CHECK(rec->method == "GET");
  CHECK(rec->host == "127.0.0.1");
  CHECK(rec->port == origin.port());
  CHECK(rec->path == "/hello?x=1");
  CHECK(rec->address == "127.0.0.1");
  CHECK(rec->allowed);
  CHECK(rec->status == 200);
  CHECK(rec->reason.empty());
  CHECK(rec->bytes_up == head.size());
  CHECK(rec->bytes_down == response.size());
  CHECK(rec->time.size() == 24);  // 2026-01-02T03:04:05.678Z
}

TEST_CASE("egress proxy relays a request body and a chunked response") {
  HttpOrigin origin;
  Harness h(Allow({"127.0.0.1"}));
  const std::string base = "http://127.0.0.1:" + std::to_string(origin.port());
  const std::string posted = Exchange(h.egress(), "POST " + base +
                                                      "/upload HTTP/1.1\r\nContent-Length: 11\r\n"
                                                      "Expect: 100-continue\r\n\r\nhello world");
  CHECK(posted.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(posted.find("got 11 bytes: hello world") != std::string::npos);
  CHECK(origin.last_head().find("Expect") == std::string::npos);

  const std::string chunked_up =
      Exchange(h.egress(), "PUT " + base +
                               "/put HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n");
  CHECK(chunked_up.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(chunked_up.find("hello ") != std::string::npos);
  CHECK(chunked_up.find("world") != std::string::npos);

  const std::string chunked = Exchange(h.egress(), Get(base + "/chunked"));
  INFO(chunked);
  CHECK(chunked.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(chunked.find("Keep-Alive") == std::string::npos);
  // Re-chunked as the bytes arrived (here: both chunks in one read).
  CHECK(chunked.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  CHECK(chunked.find("\r\nhello world\r\n") != std::string::npos);
  CHECK(chunked.size() >= 5);
  CHECK(chunked.substr(chunked.size() - 5) == "0\r\n\r\n");
  REQUIRE(h.records.Wait(3));
}

TEST_CASE("egress proxy refuses a loopback origin that is not allow-listed") {
  HttpOrigin origin;
  Harness h(Allow({"127.0.0.1/32"}));
  // A second sandbox on the same service, without the allow-list entry.
  TempDir closed_dir;
  REQUIRE(h.service->AddSandbox("ns/closed", closed_dir.path, EgressPolicy{}).ok());
  const std::string url = "http://127.0.0.1:" + std::to_string(origin.port()) + "/";

  const std::string refused = Exchange(closed_dir.path + "/egress.sock", Get(url));
  CHECK(refused.rfind("HTTP/1.1 403 Forbidden\r\n", 0) == 0);
  CHECK(refused.find("pai egress: 127.0.0.1 is a loopback address (not in the allow-list)") !=
        std::string::npos);
  auto rec = h.records.Wait(1);
  REQUIRE(rec);
  CHECK(rec->sandbox == "ns/closed");
  CHECK_FALSE(rec->allowed);
  CHECK(rec->status == 403);
  CHECK(rec->address.empty());
  CHECK(rec->reason == "127.0.0.1 is a loopback address (not in the allow-list)");
  CHECK(origin.accepted() == 0);

  // Connections are accepted in order: had the refused request reached the origin, this one
  // would be its second.
  CHECK(Exchange(h.egress(), Get(url)).rfind("HTTP/1.1 200", 0) == 0);
  CHECK(origin.accepted() == 1);
}

TEST_CASE("egress proxy answers 400 to origin-form, https and malformed requests") {
  Harness h(EgressPolicy{});
  const std::string origin_form =
      Exchange(h.egress(), "GET /path HTTP/1.1\r\nHost: example.com\r\n\r\n");
  CHECK(origin_form.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(origin_form.find("absolute URL") != std::string::npos);
  CHECK(Exchange(h.egress(), Get("https://example.com/")).rfind("HTTP/1.1 400", 0) == 0);
  CHECK(Exchange(h.egress(), Get("http://user:pw@example.com/")).rfind("HTTP/1.1 400", 0) == 0);
  CHECK(Exchange(h.egress(), "NOT A REQUEST\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
  auto rec = h.records.Wait(4);
  REQUIRE(rec);
  CHECK(rec->status == 400);
}

TEST_CASE("egress proxy answers 431 to an oversized request head") {
  EgressOptions options;
  options.max_header_bytes = 4096;
  Harness h(EgressPolicy{}, options);
  const std::string big =
      "GET http://example.com/ HTTP/1.1\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n";
  const std::string response = Exchange(h.egress(), big);
  CHECK(response.rfind("HTTP/1.1 431", 0) == 0);
  auto rec = h.records.Wait(1);
  REQUIRE(rec);
  CHECK(rec->status == 431);
  CHECK_FALSE(rec->allowed);
}

TEST_CASE("egress proxy answers 502 for unresolvable hosts and refused connections") {
  int closed_port = 0;
  {
    TcpListener gone;
    closed_port = gone.port();
  }
  Harness h(Allow({"127.0.0.1/32"}));
  const std::string refused = Exchange(h.egress(), Connect(Loopback(closed_port)));
  CHECK(refused.rfind("HTTP/1.1 502", 0) == 0);
  CHECK(refused.find("cannot connect to 127.0.0.1:") != std::string::npos);
  const std::string unknown = Exchange(h.egress(), Get("http://does-not-exist.invalid/"));
  CHECK(unknown.rfind("HTTP/1.1 502", 0) == 0);
  CHECK(unknown.find("cannot resolve does-not-exist.invalid") != std::string::npos);
  // An origin that does not speak HTTP (it echoes the request back).
  EchoServer not_http("");
  const std::string bad = Exchange(h.egress(), Get("http://" + not_http.address() + "/"));
  CHECK(bad.rfind("HTTP/1.1 502", 0) == 0);
  CHECK(bad.find("bad response from the origin") != std::string::npos);
  auto first = h.records.Wait(1);
  REQUIRE(first);
  CHECK(first->allowed);  // the policy passed; the connect failed
  CHECK(first->status == 502);
  auto second = h.records.Wait(2);
  REQUIRE(second);
  CHECK_FALSE(second->allowed);
  auto third = h.records.Wait(3);
  REQUIRE(third);
  CHECK(third->status == 502);
  CHECK(third->bytes_up > 0);
}

// ---------------------------------------------------------------------------------------------
// CONNECT

TEST_CASE("egress proxy tunnels CONNECT to an allow-listed echo server both ways") {
  EchoServer echo("echo:");
  Harness h(Allow({"127.0.0.1/32"}));
  const int fd = ConnectUnix(h.egress());
  REQUIRE(fd >= 0);
  // Bytes right behind the head (as a TLS ClientHello would be) travel too.
  REQUIRE(WriteAll(fd, Connect(Loopback(echo.port())) + "early"));
  CHECK(ReadHead(fd) == "HTTP/1.1 200 Connection Established\r\n\r\n");
  CHECK(ReadExactly(fd, 10) == "echo:early");
  REQUIRE(WriteAll(fd, "ping"));
  CHECK(ReadExactly(fd, 9) == "echo:ping");
  // Half-close: our EOF reaches the echo server, which closes; its EOF reaches us.
  shutdown(fd, SHUT_WR);
  CHECK(IsEof(fd));
  close(fd);
  auto rec = h.records.Wait(1);
  REQUIRE(rec);
  CHECK(rec->method == "CONNECT");
  CHECK(rec->host == "127.0.0.1");
  CHECK(rec->port == echo.port());
  CHECK(rec->path.empty());
  CHECK(rec->allowed);
  CHECK(rec->status == 200);
  CHECK(rec->address == "127.0.0.1");
  CHECK(rec->bytes_up == 9);
  CHECK(rec->bytes_down == 19);
}

TEST_CASE("egress proxy refuses CONNECT to a loopback port that is not allowed") {
  TcpListener target;
  REQUIRE(target.ok());
  Harness h(Allow({"10.0.0.0/8", "example.com"}));
  const std::string response = Exchange(h.egress(), Connect(Loopback(target.port())));
  CHECK(response.rfind("HTTP/1.1 403 Forbidden\r\n", 0) == 0);
  CHECK(response.find("loopback") != std::string::npos);
  CHECK_FALSE(target.HasPending());
  auto rec = h.records.Wait(1);
  REQUIRE(rec);
  CHECK(rec->method == "CONNECT");
  CHECK_FALSE(rec->allowed);
  CHECK(rec->status == 403);
}

TEST_CASE("egress proxy refuses loopback in every spelling the resolver accepts") {
  TcpListener target;
  REQUIRE(target.ok());
  Harness h(Allow({"*.example.com"}));
  const std::string port = std::to_string(target.port());
  const std::vector<std::string> hosts = {"localhost",    "LocalHost", "0x7f000001",
                                          "2130706433",   "0x7f.1",    "127.1",
                                          "017700000001", "[::1]",     "[::ffff:127.0.0.1]"};
  size_t n = 0;
  for (const std::string& host : hosts) {
    INFO(host);
    const std::string via_get = Exchange(h.egress(), Get("http://" + host + ":" + port + "/x"));
    CHECK(via_get.rfind("HTTP/1.1 403", 0) == 0);
    CHECK(via_get.find("loopback address") != std::string::npos);
    const std::string via_connect = Exchange(h.egress(), Connect(host + ":" + port));
    CHECK(via_connect.rfind("HTTP/1.1 403", 0) == 0);
    n += 2;
  }
  CHECK_FALSE(target.HasPending());
  auto last = h.records.Wait(n);
  REQUIRE(last);
  CHECK_FALSE(last->allowed);
}

TEST_CASE("egress proxy refuses private, link-local, multicast and unspecified addresses") {
  Harness h(EgressPolicy{});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"10.0.0.1", "private"},    {"172.16.5.4", "private"},        {"192.168.1.1", "private"},
      {"100.64.0.1", "private"},  {"[fd00::1]", "private"},         {"[fe80::1]", "link-local"},
      {"0.0.0.0", "unspecified"}, {"[::]", "unspecified"},          {"224.0.0.1", "multicast"},
      {"[ff02::1]", "multicast"}, {"255.255.255.255", "broadcast"}, {"0xa000001", "private"}};
  for (const auto& [host, what] : cases) {
    INFO(host);
    const std::string response = Exchange(h.egress(), Get("http://" + host + "/"));
    CHECK(response.rfind("HTTP/1.1 403", 0) == 0);
    CHECK(response.find(what + " address") != std::string::npos);
  }
  REQUIRE(h.records.Wait(cases.size()));
}

// LoAddress: adds an address to `lo` for the test's duration (root only).
class LoAddress {
 public:
  explicit LoAddress(std::string cidr) : cidr_(std::move(cidr)) {
    added_ = std::system(("ip addr add " + cidr_ + " dev lo 2>/dev/null").c_str()) == 0;
  }
  ~LoAddress() {
    if (added_) std::system(("ip addr del " + cidr_ + " dev lo 2>/dev/null").c_str());
  }
  bool added() const { return added_; }

 private:
  std::string cidr_;
  bool added_ = false;
};

TEST_CASE("egress proxy refuses the cloud metadata address 169.254.169.254") {
  Harness h(Allow({"127.0.0.0/8"}));
  LoAddress metadata("169.254.169.254/32");
  std::optional<TcpListener> target;
  if (metadata.added()) {
    target.emplace("169.254.169.254");
    REQUIRE(target->ok());
  } else {
    WARN("cannot add 169.254.169.254 to lo (not root?): checking the answer only");
  }
  const std::string port = target ? std::to_string(target->port()) : "80";
  const std::string response =
      Exchange(h.egress(), Get("http://169.254.169.254:" + port + "/latest/meta-data/"));
  CHECK(response.rfind("HTTP/1.1 403", 0) == 0);
  CHECK(response.find("pai egress: 169.254.169.254 is a link-local address") != std::string::npos);
  CHECK(Exchange(h.egress(), Connect("169.254.169.254:" + port)).rfind("HTTP/1.1 403", 0) == 0);
  if (target) CHECK_FALSE(target->HasPending());
  REQUIRE(h.records.Wait(2));
}

TEST_CASE("egress proxy with deny_public allows only allow-listed names") {
  HttpOrigin origin;
  EgressPolicy policy = Allow({"localhost"});
  policy.deny_public = true;
  Harness h(policy);
  const std::string port = std::to_string(origin.port());
  // A host-name entry allows whatever the name resolves to (here: loopback).
  CHECK(Exchange(h.egress(), Get("http://localhost:" + port + "/")).rfind("HTTP/1.1 200", 0) == 0);
  CHECK(origin.last_head().find("Host: localhost:" + port + "\r\n") != std::string::npos);
  // The name does not stand for its addresses.
  CHECK(Exchange(h.egress(), Get("http://127.0.0.1:" + port + "/")).rfind("HTTP/1.1 403", 0) == 0);
  REQUIRE(h.records.Wait(2));
}

// ---------------------------------------------------------------------------------------------
// Timeouts

TEST_CASE("egress proxy closes a connection that sends no request head in time") {
  EgressOptions options;
  options.header_timeout_ms = 200;
  Harness h(EgressPolicy{}, options);
  const int fd = ConnectUnix(h.egress());
  REQUIRE(fd >= 0);
  CHECK(IsEof(fd));
  close(fd);
  CHECK(h.records.size() == 0);
}

TEST_CASE("egress proxy closes an idle tunnel") {
  EchoServer echo("");
  EgressOptions options;
  options.idle_timeout_ms = 300;
  Harness h(Allow({"127.0.0.1/32"}), options);
  const int fd = ConnectUnix(h.egress());
  REQUIRE(fd >= 0);
  REQUIRE(WriteAll(fd, Connect(Loopback(echo.port()))));
  CHECK(ReadHead(fd).rfind("HTTP/1.1 200", 0) == 0);
  CHECK(IsEof(fd));
  close(fd);
  auto rec = h.records.Wait(1);
  REQUIRE(rec);
  CHECK(rec->status == 200);
}

// ---------------------------------------------------------------------------------------------
// gateway.sock, sockets, removal

TEST_CASE("gateway.sock forwards bytes to the gateway and follows SetGatewayAddress") {
  EchoServer first("A:"), second("B:");
  EgressOptions options;
  options.gateway_address = first.address();
  Harness h(EgressPolicy{}, options);

  const int old_conn = ConnectUnix(h.gateway());
  REQUIRE(old_conn >= 0);
  REQUIRE(WriteAll(old_conn, "hi"));
  CHECK(ReadExactly(old_conn, 4) == "A:hi");

  h.service->SetGatewayAddress(second.address());
  const int new_conn = ConnectUnix(h.gateway());
  REQUIRE(new_conn >= 0);
  REQUIRE(WriteAll(new_conn, "hi"));
  CHECK(ReadExactly(new_conn, 4) == "B:hi");
  // The open connection keeps its gateway.
  REQUIRE(WriteAll(old_conn, "again"));
  CHECK(ReadExactly(old_conn, 7) == "A:again");

  shutdown(new_conn, SHUT_WR);
  CHECK(IsEof(new_conn));
  close(new_conn);
  close(old_conn);
  CHECK(first.accepted() == 1);
  CHECK(second.accepted() == 1);
  CHECK(h.records.size() == 0);  // gateway traffic is not egress
}

TEST_CASE("egress sockets are world-connectable and keys are unique") {
  Harness h(EgressPolicy{});
  for (const std::string& path : {h.egress(), h.gateway()}) {
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0666);
  }
  TempDir other;
  CHECK(h.service->AddSandbox("ns/box", other.path, EgressPolicy{}).code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(h.service->AddSandbox("ns/bad", other.path, Allow({"not a host"})).code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(h.service->AddSandbox("ns/long", other.path + "/" + std::string(120, 'x'), {}).code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("RemoveSandbox closes open tunnels and removes the sockets") {
  EchoServer echo("");
  EgressOptions options;
  options.gateway_address = echo.address();
  Harness h(Allow({"127.0.0.1/32"}), options);

  const int tunnel = ConnectUnix(h.egress());
  REQUIRE(tunnel >= 0);
  REQUIRE(WriteAll(tunnel, Connect(Loopback(echo.port()))));
  CHECK(ReadHead(tunnel).rfind("HTTP/1.1 200", 0) == 0);
  REQUIRE(WriteAll(tunnel, "x"));
  CHECK(ReadExactly(tunnel, 1) == "x");
  const int gateway = ConnectUnix(h.gateway());
  REQUIRE(gateway >= 0);
  REQUIRE(WriteAll(gateway, "y"));
  CHECK(ReadExactly(gateway, 1) == "y");

  h.service->RemoveSandbox("ns/box");
  CHECK(IsEof(tunnel));
  CHECK(IsEof(gateway));
  close(tunnel);
  close(gateway);
  CHECK_FALSE(fs::exists(h.egress()));
  CHECK_FALSE(fs::exists(h.gateway()));
  CHECK(ConnectUnix(h.egress()) == -1);
  auto rec = h.records.Wait(1);  // the cut-short tunnel is still recorded
  REQUIRE(rec);
  CHECK(rec->bytes_up == 1);
  // The key is free again.
  CHECK(h.service->AddSandbox("ns/box", h.dir.path, EgressPolicy{}).ok());
  h.service->Stop();
  h.service->Stop();
}

// ---------------------------------------------------------------------------------------------
// egress_policy: pure decisions

IpAddress Ip(const char* text) {
  auto ip = IpAddress::Parse(text);
  REQUIRE(ip);
  return *ip;
}

TEST_CASE("policy classifies IPv4 addresses") {
  CHECK(Classify(Ip("127.0.0.1")) == AddressClass::kLoopback);
  CHECK(Classify(Ip("127.255.1.2")) == AddressClass::kLoopback);
  CHECK(Classify(Ip("10.1.2.3")) == AddressClass::kPrivate);
  CHECK(Classify(Ip("172.16.0.1")) == AddressClass::kPrivate);
  CHECK(Classify(Ip("172.31.255.255")) == AddressClass::kPrivate);
  CHECK(Classify(Ip("172.32.0.1")) == AddressClass::kPublic);
  CHECK(Classify(Ip("192.168.0.1")) == AddressClass::kPrivate);
  CHECK(Classify(Ip("100.64.0.1")) == AddressClass::kPrivate);
  CHECK(Classify(Ip("100.127.255.255")) == AddressClass::kPrivate);
  CHECK(Classify(Ip("100.128.0.1")) == AddressClass::kPublic);
  CHECK(Classify(Ip("169.254.169.254")) == AddressClass::kLinkLocal);
  CHECK(Classify(Ip("0.0.0.0")) == AddressClass::kUnspecified);
  CHECK(Classify(Ip("0.1.2.3")) == AddressClass::kUnspecified);
  CHECK(Classify(Ip("224.0.0.1")) == AddressClass::kMulticast);
  CHECK(Classify(Ip("239.255.255.250")) == AddressClass::kMulticast);
  CHECK(Classify(Ip("255.255.255.255")) == AddressClass::kBroadcast);
  CHECK(Classify(Ip("240.0.0.1")) == AddressClass::kReserved);
  CHECK(Classify(Ip("198.18.0.1")) == AddressClass::kReserved);
  CHECK(Classify(Ip("8.8.8.8")) == AddressClass::kPublic);
  CHECK(Classify(Ip("93.184.216.34")) == AddressClass::kPublic);
}

TEST_CASE("policy classifies IPv6 and IPv4-embedding addresses") {
  CHECK(Classify(Ip("::1")) == AddressClass::kLoopback);
  CHECK(Classify(Ip("::")) == AddressClass::kUnspecified);
  CHECK(Classify(Ip("fe80::1")) == AddressClass::kLinkLocal);
  CHECK(Classify(Ip("febf::1")) == AddressClass::kLinkLocal);
  CHECK(Classify(Ip("fc00::1")) == AddressClass::kPrivate);
  CHECK(Classify(Ip("fd12:3456::1")) == AddressClass::kPrivate);
  CHECK(Classify(Ip("fec0::1")) == AddressClass::kPrivate);
  CHECK(Classify(Ip("ff02::1")) == AddressClass::kMulticast);
  CHECK(Classify(Ip("::ffff:127.0.0.1")) == AddressClass::kLoopback);
  CHECK(Classify(Ip("::ffff:169.254.169.254")) == AddressClass::kLinkLocal);
  CHECK(Classify(Ip("::ffff:10.0.0.1")) == AddressClass::kPrivate);
  CHECK(Classify(Ip("::ffff:0.0.0.0")) == AddressClass::kUnspecified);
  CHECK(Classify(Ip("::ffff:8.8.8.8")) == AddressClass::kPublic);
  CHECK(Classify(Ip("::127.0.0.1")) == AddressClass::kLoopback);     // IPv4-compatible
  CHECK(Classify(Ip("64:ff9b::a00:1")) == AddressClass::kPrivate);   // NAT64 of 10.0.0.1
  CHECK(Classify(Ip("2002:7f00:1::1")) == AddressClass::kLoopback);  // 6to4 of 127.0.0.1
  CHECK(Classify(Ip("2001:db8::1")) == AddressClass::kReserved);
  CHECK(Classify(Ip("2606:4700:4700::1111")) == AddressClass::kPublic);
  CHECK(Ip("::ffff:127.0.0.1").ToString() == "::ffff:127.0.0.1");
  CHECK(Ip("::ffff:127.0.0.1").EmbeddedV4() == IpAddress::V4(127, 0, 0, 1));
  CHECK_FALSE(Ip("2606:4700::1").EmbeddedV4());
}

TEST_CASE("policy parses only strict IP text") {
  for (const char* loose : {"0x7f.1", "127.1", "2130706433", "017700000001", "0x7f000001",
                            "127.0.0.01", "fe80::1%lo", "[::1]", "", "1.2.3.4.5"}) {
    INFO(loose);
    CHECK_FALSE(IpAddress::Parse(loose));
  }
  CHECK(IpAddress::Parse("1.2.3.4")->is_v4());
  CHECK_FALSE(IpAddress::Parse("::1")->is_v4());
}

TEST_CASE("policy CIDRs contain their addresses") {
  auto net10 = Cidr::Parse("10.0.0.0/8");
  REQUIRE(net10.ok());
  CHECK(net10->Contains(Ip("10.255.1.1")));
  CHECK_FALSE(net10->Contains(Ip("11.0.0.1")));
  CHECK(net10->Contains(Ip("::ffff:10.1.1.1")));
  CHECK_FALSE(net10->Contains(Ip("::10.1.1.1")));

  auto host = Cidr::Parse("127.0.0.1");
  REQUIRE(host.ok());
  CHECK(host->prefix == 32);
  CHECK(host->Contains(Ip("127.0.0.1")));
  CHECK_FALSE(host->Contains(Ip("127.0.0.2")));

  auto odd = Cidr::Parse("172.20.9.9/12");
  REQUIRE(odd.ok());
  CHECK(odd->base == Ip("172.16.0.0"));
  CHECK(odd->Contains(Ip("172.31.0.1")));
  CHECK_FALSE(odd->Contains(Ip("172.32.0.1")));

  auto ula = Cidr::Parse("fd00::/8");
  REQUIRE(ula.ok());
  CHECK(ula->Contains(Ip("fd12::1")));
  CHECK_FALSE(ula->Contains(Ip("fe80::1")));
  CHECK_FALSE(ula->Contains(Ip("10.0.0.1")));
  CHECK(Cidr::Parse("[::1]/128").ok());
  CHECK(Cidr::Parse("0.0.0.0/0")->Contains(Ip("8.8.8.8")));

  for (const char* bad : {"10.0.0.0/33", "::/129", "x/8", "10.0.0.0/", "10.0.0.0/-1", "10/8"}) {
    INFO(bad);
    CHECK(Cidr::Parse(bad).status().code() == absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("policy allow-list matches host names, wildcards and CIDRs") {
  auto list = AllowList::Parse(
      {"api.example.com", "*.internal.test", "10.1.0.0/16", "::1", "2130706433", "LocalHost."});
  REQUIRE(list.ok());
  CHECK(list->AllowsHost("api.example.com"));
  CHECK(list->AllowsHost("API.Example.COM."));
  CHECK_FALSE(list->AllowsHost("example.com"));
  CHECK_FALSE(list->AllowsHost("xapi.example.com"));
  CHECK(list->AllowsHost("db.internal.test"));
  CHECK(list->AllowsHost("a.b.internal.test"));
  CHECK_FALSE(list->AllowsHost("internal.test"));
  CHECK_FALSE(list->AllowsHost("badinternal.test"));
  CHECK(list->AllowsHost("localhost"));
  // Numeric spellings never match a name entry.
  CHECK_FALSE(list->AllowsHost("2130706433"));
  CHECK_FALSE(list->AllowsHost("::1"));
  CHECK(list->AllowsAddress(Ip("10.1.200.3")));
  CHECK_FALSE(list->AllowsAddress(Ip("10.2.0.1")));
  CHECK(list->AllowsAddress(Ip("::1")));
  CHECK_FALSE(list->AllowsAddress(Ip("127.0.0.1")));

  for (const char* bad : {"", "not a host", "*.", "exa..mple.com", "10.0.0.0/40", "a@b"}) {
    INFO(bad);
    CHECK(AllowList::Parse({bad}).status().code() == absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("policy decides on every resolved address") {
  auto list = AllowList::Parse({"10.0.0.0/8", "intranet.example"});
  REQUIRE(list.ok());
  const std::vector<IpAddress> loopback = {Ip("127.0.0.1")};
  EgressDecision d = Decide(*list, PublicAccess::kAllow, "evil.example", loopback);
  CHECK_FALSE(d.allowed);
  CHECK(d.reason == "127.0.0.1 is a loopback address (not in the allow-list)");

  // One bad address among good ones refuses the request.
  const std::vector<IpAddress> mixed = {Ip("8.8.8.8"), Ip("10.0.0.5"), Ip("169.254.169.254")};
  d = Decide(*list, PublicAccess::kAllow, "rebind.example", mixed);
  CHECK_FALSE(d.allowed);
  CHECK(d.reason == "169.254.169.254 is a link-local address (not in the allow-list)");
  // A name entry allows whatever the name resolves to.
  CHECK(Decide(*list, PublicAccess::kAllow, "intranet.example", mixed).allowed);

  const std::vector<IpAddress> public_and_cidr = {Ip("8.8.8.8"), Ip("10.9.9.9")};
  CHECK(Decide(*list, PublicAccess::kAllow, "x.example", public_and_cidr).allowed);
  d = Decide(*list, PublicAccess::kDeny, "x.example", public_and_cidr);
  CHECK_FALSE(d.allowed);
  CHECK(d.reason == "8.8.8.8 is not in the allow-list (public destinations are denied)");
  const std::vector<IpAddress> only_cidr = {Ip("10.9.9.9")};
  CHECK(Decide(*list, PublicAccess::kDeny, "x.example", only_cidr).allowed);

  const std::vector<IpAddress> unspecified = {Ip("::")};
  CHECK(Decide(AllowList(), PublicAccess::kAllow, "h", unspecified).reason ==
        ":: is an unspecified address (not in the allow-list)");
  CHECK_FALSE(Decide(*list, PublicAccess::kAllow, "h", {}).allowed);
}

TEST_CASE("policy parses absolute-form and authority-form targets") {
  auto t = ParseAbsoluteTarget("http://Example.COM:8080/a/b?c=d");
  REQUIRE(t.ok());
  CHECK(t->host == "example.com");
  CHECK(t->port == 8080);
  CHECK(t->path == "/a/b?c=d");
  t = ParseAbsoluteTarget("HTTP://h");
  REQUIRE(t.ok());
  CHECK(t->port == 80);
  CHECK(t->path == "/");
  t = ParseAbsoluteTarget("http://h?x=1");
  REQUIRE(t.ok());
  CHECK(t->path == "/?x=1");
  t = ParseAbsoluteTarget("http://[::1]:81/");
  REQUIRE(t.ok());
  CHECK(t->host == "::1");
  CHECK(t->port == 81);
  t = ParseAbsoluteTarget("http://0x7f.1/");
  REQUIRE(t.ok());
  CHECK(t->host == "0x7f.1");  // normalized later, by the resolver
  for (const char* bad : {"/path", "*", "https://h/", "ftp://h/", "http://u:p@h/", "http://h:0/",
                          "http://h:99999/", "http://h:8x/", "http:///x", "http://h%2f/",
                          "http://[::1/", "http://[127.0.0.1]/", "h/x"}) {
    INFO(bad);
    CHECK(ParseAbsoluteTarget(bad).status().code() == absl::StatusCode::kInvalidArgument);
  }

  auto a = ParseAuthorityTarget("api.example.com:443");
  REQUIRE(a.ok());
  CHECK(a->host == "api.example.com");
  CHECK(a->port == 443);
  CHECK(a->path.empty());
  a = ParseAuthorityTarget("[2001:db8::1]:8443");
  REQUIRE(a.ok());
  CHECK(a->host == "2001:db8::1");
  for (const char* bad : {"h", "h:", "[::1]", ":443", "h:443/x"}) {
    INFO(bad);
    CHECK(ParseAuthorityTarget(bad).status().code() == absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace pai::runtime
