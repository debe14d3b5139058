// pai-server's HTTP(S) listener (Beast, coroutines) in front of Api::Handle(), and the HTTP
// client it reads the gateway's admin endpoints with. The only Beast translation unit of the
// server (http_server.cc).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "server/api.h"
#include "server/runtime.h"
#include "server/sessions.h"
#include "server/store.h"

namespace pai::server {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:7070";  // HOST:PORT; port 0 picks a free one
  std::string tls_cert_file;  // PEM; with tls_key_file the API is served over HTTPS only
  std::string tls_key_file;
  int threads = 4;  // Api::Handle() blocks on SQLite and gateway reads: a small pool
  size_t max_body_bytes = 16u << 20;
  // Behind the streaming routes (StreamSpec): events (SSE), logs, exec (WebSocket). When null,
  // those routes answer 503.
  Store* store = nullptr;
  EventHub* hub = nullptr;
  Runtime* runtime = nullptr;
  std::chrono::seconds sse_ping{15};
};

// HttpServer: serves until Stop() (or destruction).
// Thread safety: Stop() from any thread, once.
class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // address(): the bound "host:port".
  virtual std::string address() const = 0;
  virtual bool tls() const = 0;
  virtual void Stop() = 0;
};

// StartHttpServer(): binds and starts serving `api` on its own threads.
// Errors: InvalidArgument for a bad address or TLS files, Unavailable when binding fails.
absl::StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(Api& api, HttpServerOptions options);

// NewHttpGatewayAdmin(): a GatewayAdmin reading http://`host_port` with a 3 s timeout.
// `host_port` may be changed later (the gateway's ports are known once it listens).
class HttpGatewayAdmin final : public GatewayAdmin {
 public:
  void SetAddress(std::string host_port);
  // SetToken(): the admin listener's bearer token (empty: none is sent).
  void SetToken(std::string token);
  absl::StatusOr<std::string> Get(const std::string& target) override;

 private:
  std::mutex mu_;
  std::string host_port_;
  std::string token_;
};

}  // namespace pai::server
