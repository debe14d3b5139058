#include "server/http_server.h"

#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/log.h"
#include "common/strings.h"

namespace pai::server {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);

absl::StatusOr<tcp::endpoint> ParseHostPort(const std::string& s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(pai::StrCat("\"", s, "\" is not HOST:PORT"));
  }
  std::string host = s.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  beast::error_code ec;
  auto addr = net::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  unsigned port = 0;
  try {
    port = static_cast<unsigned>(std::stoul(s.substr(colon + 1)));
  } catch (...) {
    ec = net::error::invalid_argument;
  }
  if (ec || port > 65535) {
    return absl::InvalidArgumentError(pai::StrCat("\"", s, "\" is not HOST:PORT (an IP address)"));
  }
  return tcp::endpoint(addr, static_cast<unsigned short>(port));
}

class Server final : public HttpServer {
 public:
  Server(Api& api, HttpServerOptions options)
      : api_(api), options_(std::move(options)), tls_ctx_(ssl::context::tls_server) {}

  ~Server() override { Stop(); }

  absl::Status Init() {
    auto ep = ParseHostPort(options_.listen);
    if (!ep.ok()) return ep.status();
    if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
      beast::error_code ec;
      tls_ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1);
      tls_ctx_.use_certificate_chain_file(options_.tls_cert_file, ec);
      if (!ec) tls_ctx_.use_private_key_file(options_.tls_key_file, ssl::context::pem, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            pai::StrCat("TLS certificate or key: ", ec.message()));
      }
      tls_ = true;
    }
    beast::error_code ec;
    acceptor_.open(ep->protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(*ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(pai::StrCat("cannot listen on ", options_.listen, ": ",
                                                ec.message()));
    }
    const tcp::endpoint bound = acceptor_.local_endpoint();
    address_ = bound.address().is_v6() ? pai::StrCat("[", bound.address().to_string(), "]:",
                                                    bound.port())
                                      : pai::StrCat(bound.address().to_string(), ":", bound.port());
    net::co_spawn(ioc_, Accept(), net::detached);
    for (int i = 0; i < std::max(1, options_.threads); ++i) {
      threads_.emplace_back([this] {
        for (;;) {
          try {
            ioc_.run();
            return;
          } catch (const std::exception& e) {
            log::Error("uncaught exception in the API server", {{"error", e.what()}});
          }
        }
      });
    }
    return absl::OkStatus();
  }

  std::string address() const override { return address_; }
  bool tls() const override { return tls_; }

  void Stop() override {
    std::call_once(stopped_, [this] {
      net::post(ioc_, [this] {
        beast::error_code ignored;
        acceptor_.close(ignored);
      });
      ioc_.stop();
      for (auto& t : threads_) {
        if (t.joinable()) t.join();
      }
    });
  }

 private:
  net::awaitable<void> Accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
      if (ec) {
        if (!acceptor_.is_open()) co_return;
        continue;
      }
      if (tls_) {
        net::co_spawn(ioc_, ServeTls(std::move(socket)), net::detached);
      } else {
        net::co_spawn(ioc_, Serve(beast::tcp_stream(std::move(socket))), net::detached);
      }
    }
  }

  net::awaitable<void> ServeTls(tcp::socket socket) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), tls_ctx_);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kTuple);
    if (ec) co_return;
    co_await Serve(std::move(stream));
  }

  template <typename Stream>
  net::awaitable<void> Serve(Stream stream) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options_.max_body_bytes);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(60));
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
      if (ec == http::error::body_limit) {
        http::response<http::string_body> res{http::status::payload_too_large, 11};
        res.set(http::field::content_type, "application/json");
        res.body() = ErrorJson("payload_too_large", "request body too large");
        res.keep_alive(false);
        res.prepare_payload();
        co_await http::async_write(stream, res, kTuple);
        break;
      }
      if (ec) break;
      auto& req = parser.get();
      ApiRequest areq{std::string(req.method_string()), std::string(req.target()),
                      std::string(req[http::field::authorization]),
                      std::string(req[http::field::content_type]), std::move(req.body())};
      ApiResponse ares;
      try {
        ares = api_.Handle(areq);
      } catch (const std::exception& e) {
        // A bug, not an answer: say so in the API's shape and keep serving.
        log::Error("api handler threw", {{"path", areq.target.substr(0, areq.target.find('?'))},
                                         {"error", e.what()}});
        ares = {500, ErrorJson("internal", "internal error")};
      }
      if (ares.status >= 400 || areq.method != "GET") {
        log::Info("api", {{"method", areq.method},
                          {"path", areq.target.substr(0, areq.target.find('?'))},
                          {"status", ares.status}});
      }
      http::response<http::string_body> res{static_cast<http::status>(ares.status),
                                            req.version()};
      res.set(http::field::server, "pai-server");
      res.set(http::field::content_type, ares.content_type);
      res.set(http::field::cache_control, "no-store");
      res.body() = std::move(ares.body);
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(60));
      auto [wec, wn] = co_await http::async_write(stream, res, kTuple);
      if (wec || !res.keep_alive()) break;
    }
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  Api& api_;
  HttpServerOptions options_;
  net::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  ssl::context tls_ctx_;
  bool tls_ = false;
  std::string address_;
  std::vector<std::thread> threads_;
  std::once_flag stopped_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(Api& api, HttpServerOptions options) {
  auto server = std::make_unique<Server>(api, std::move(options));
  if (absl::Status s = server->Init(); !s.ok()) return s;
  return std::unique_ptr<HttpServer>(std::move(server));
}

void HttpGatewayAdmin::SetAddress(std::string host_port) {
  std::lock_guard<std::mutex> lock(mu_);
  host_port_ = std::move(host_port);
}

absl::StatusOr<std::string> HttpGatewayAdmin::Get(const std::string& target) {
  std::string host_port;
  {
    std::lock_guard<std::mutex> lock(mu_);
    host_port = host_port_;
  }
  if (host_port.empty()) return absl::UnavailableError("the gateway has not started yet");
  auto ep = ParseHostPort(host_port);
  if (!ep.ok()) return absl::UnavailableError(ep.status().message());
  // A short-lived io_context per call: the API's threads block here anyway.
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(3));
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code failure;
  stream.async_connect(*ep, [&](beast::error_code ec) {
    if (ec) {
      failure = ec;
      return;
    }
    auto req = std::make_shared<http::request<http::empty_body>>(http::verb::get, target, 11);
    req->set(http::field::host, host_port);
    http::async_write(stream, *req, [&, req](beast::error_code wec, size_t) {
      if (wec) {
        failure = wec;
        return;
      }
      http::async_read(stream, buffer, res, [&](beast::error_code rec, size_t) {
        if (rec) failure = rec;
      });
    });
  });
  ioc.run();
  if (failure) {
    return absl::UnavailableError(pai::StrCat("cannot reach the gateway at ", host_port, ": ",
                                              failure.message()));
  }
  if (res.result() != http::status::ok) {
    return absl::UnavailableError(pai::StrCat("the gateway answered HTTP ", res.result_int(),
                                              " for ", target.substr(0, target.find('?'))));
  }
  return std::move(res.body());
}

}  // namespace pai::server
