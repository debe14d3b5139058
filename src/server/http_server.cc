#include "server/http_server.h"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/strings.h"
#include "runtime/frames.h"

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

  ~Server() override {
    try {
      Stop();
    } catch (const std::exception& e) {  // std::call_once / join: std::system_error
      log::Error("api listener did not stop cleanly", {{"error", e.what()}});
    }
  }

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
        return absl::InvalidArgumentError(pai::StrCat("TLS certificate or key: ", ec.message()));
      }
      tls_ = true;
    }
    beast::error_code ec;
    acceptor_.open(ep->protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(*ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          pai::StrCat("cannot listen on ", options_.listen, ": ", ec.message()));
    }
    const tcp::endpoint bound = acceptor_.local_endpoint();
    address_ = bound.address().is_v6()
                   ? pai::StrCat("[", bound.address().to_string(), "]:", bound.port())
                   : pai::StrCat(bound.address().to_string(), ":", bound.port());
    net::co_spawn(accept_strand_, Accept(), net::detached);
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
      // On the accept loop's strand: closing the acceptor while another thread starts the
      // next accept on it is a data race in Asio's reactor (UBSan caught one at stop).
      net::post(accept_strand_, [this] {
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
        net::co_spawn(net::make_strand(ioc_), ServeTls(std::move(socket)), net::detached);
      } else {
        net::co_spawn(net::make_strand(ioc_), Serve(beast::tcp_stream(std::move(socket))),
                      net::detached);
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
      {
        beast::error_code rec;
        auto peer = beast::get_lowest_layer(stream).socket().remote_endpoint(rec);
        if (!rec) {
          areq.remote_address =
              peer.address().is_v4() || !peer.address().to_v6().is_v4_mapped()
                  ? peer.address().to_string()
                  : net::ip::make_address_v4(net::ip::v4_mapped, peer.address().to_v6())
                        .to_string();
        }
      }
      areq.last_event_id = std::string(req["Last-Event-ID"]);
      areq.linear_signature = std::string(req["Linear-Signature"]);
      ApiResponse ares;
      try {
        ares = api_.Handle(areq);
      } catch (const std::exception& e) {
        // A bug, not an answer: say so in the API's shape and keep serving.
        log::Error("api handler threw",
                   {{"path", areq.target.substr(0, areq.target.find('?'))}, {"error", e.what()}});
        ares = {500, ErrorJson("internal", "internal error")};
      }
      if (ares.stream) {
        // A streaming route: it owns the connection until it ends.
        beast::get_lowest_layer(stream).expires_never();
        if (!options_.store || !options_.hub || !options_.runtime) {
          ares = {503, ErrorJson("unavailable", "this server runs no workloads")};
        } else if (ares.stream->type == "events") {
          co_await StreamEvents(stream, req.version(), *ares.stream);
          break;
        } else if (ares.stream->type == "logs") {
          co_await StreamLogs(stream, req.version(), *ares.stream);
          break;
        } else if (ares.stream->type == "exec") {
          co_await Exec(stream, req, *ares.stream);
          break;
        }
      }
      if (ares.status >= 400 || areq.method != "GET") {
        std::string logged = areq.target.substr(0, areq.target.find('?'));
        if (logged.rfind("/hooks/", 0) == 0) logged = "/hooks/…";  // the token is the credential
        log::Info("api", {{"method", areq.method}, {"path", logged}, {"status", ares.status}});
      }
      http::response<http::string_body> res{static_cast<http::status>(ares.status), req.version()};
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

  // ---- streaming routes ----

  template <typename Stream>
  static net::awaitable<bool> WriteChunk(Stream& stream, const std::string& data) {
    if (data.empty()) co_return true;
    auto [ec, n] = co_await net::async_write(stream, http::make_chunk(net::buffer(data)), kTuple);
    co_return !ec;
  }

  template <typename Stream>
  static net::awaitable<bool> StartChunked(Stream& stream, unsigned version,
                                           const char* content_type) {
    http::response<http::empty_body> res{http::status::ok, version};
    res.set(http::field::server, "pai-server");
    res.set(http::field::content_type, content_type);
    res.set(http::field::cache_control, "no-store");
    res.set("X-Accel-Buffering", "no");
    res.chunked(true);
    res.keep_alive(false);
    http::response_serializer<http::empty_body> sr{res};
    auto [ec, n] = co_await http::async_write_header(stream, sr, kTuple);
    co_return !ec;
  }

  // Wakeup: a timer that an EventHub callback (any thread) cancels on this connection's strand.
  struct Wakeup {
    explicit Wakeup(const net::any_io_executor& ex) : timer(ex) {}
    net::steady_timer timer;
    bool pending = false;
  };

  // StreamEvents(): Server-Sent Events of one Session from sequence `after` + 1 (docs/api.md).
  template <typename Stream>
  net::awaitable<void> StreamEvents(Stream& stream, unsigned version, const StreamSpec& sp) {
    // (Never `if (co_await ...)`: g++ 12 miscompiles it; see docs/architecture.md.)
    const bool started = co_await StartChunked(stream, version, "text/event-stream");
    if (!started) co_return;
    auto ex = co_await net::this_coro::executor;
    auto wake = std::make_shared<Wakeup>(ex);
    const std::string key = pai::StrCat(sp.ns, "/", sp.name);
    const uint64_t handle = options_.hub->Subscribe(key, [wake, ex] {
      net::post(ex, [wake] {
        wake->pending = true;
        wake->timer.cancel();
      });
    });
    // Unsubscribed however the coroutine ends (also when the io_context destroys its frame).
    struct Unsubscribe {
      EventHub* hub;
      uint64_t handle;
      ~Unsubscribe() { hub->Unsubscribe(handle); }
    } unsubscribe{options_.hub, handle};
    int64_t after = sp.after;
    bool done = false;
    bool ok = co_await WriteChunk(stream, ": pai-server session events\n\n");
    while (ok && !done) {
      wake->pending = false;
      auto evs = options_.store->ListEvents(sp.ns, sp.name, after, {}, 500);
      if (!evs.ok()) break;
      std::string out;
      for (const boost::json::object& e : *evs) {
        const boost::json::value* seq = e.if_contains("sequence");
        const boost::json::value* type = e.if_contains("type");
        if (!seq || !seq->is_int64() || !type || !type->is_string()) continue;
        after = seq->as_int64();
        pai::StrAppend(&out, "id: ", after, "\nevent: ", type->as_string(),
                       "\ndata: ", boost::json::serialize(e), "\n\n");
        if (type->as_string() == "session.status_terminated") done = true;
      }
      ok = co_await WriteChunk(stream, out);
      if (!ok || done || evs->size() == 500) continue;
      if (!wake->pending) {
        wake->timer.expires_after(options_.sse_ping);
        auto [tec] = co_await wake->timer.async_wait(kTuple);
        if (!tec && !wake->pending) {
          ok = co_await WriteChunk(stream, ": ping\n\n");
          // A Session deleted while watched ends the stream.
          if (!options_.store->Get("Session", sp.ns, sp.name).ok()) break;
        }
      }
    }
    if (ok) co_await net::async_write(stream, http::make_chunk_last(), kTuple);
  }

  // StreamLogs(): the last `tail_lines` lines of the workload's log, then (follow) what is
  // appended until the workload ends.
  template <typename Stream>
  net::awaitable<void> StreamLogs(Stream& stream, unsigned version, const StreamSpec& sp) {
    const std::string key = pai::StrCat(sp.ns, "/", sp.name);
    auto path = options_.runtime->LogPath(sp.kind, key, sp.uid);
    if (!path.ok()) co_return;
    const bool started = co_await StartChunked(stream, version, "text/plain; charset=utf-8");
    if (!started) co_return;
    std::ifstream in(*path, std::ios::binary);
    // The tail: scan back from the end for `tail_lines` newlines (bounded to 8 MiB).
    in.seekg(0, std::ios::end);
    const std::streamoff end = std::max<std::streamoff>(0, in.tellg());  // -1: purged meanwhile
    std::streamoff start = std::max<std::streamoff>(0, end - (8 << 20));
    in.seekg(start);
    std::string text(static_cast<size_t>(end - start), '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    size_t cut = text.size();
    int64_t lines = 0;
    if (!text.empty() && text.back() == '\n') --cut;
    while (lines < sp.tail_lines && cut > 0) {
      const size_t nl = text.rfind('\n', cut - 1);
      ++lines;
      if (nl == std::string::npos) {
        cut = 0;
        break;
      }
      cut = nl;
      if (lines == sp.tail_lines) ++cut;
    }
    if (sp.tail_lines == 0) cut = text.size();
    bool ok = co_await WriteChunk(stream, text.substr(std::min(cut, text.size())));
    std::streamoff offset = end;
    net::steady_timer timer(co_await net::this_coro::executor);
    while (ok && sp.follow) {
      const WorkloadStatus ws = options_.runtime->Status(sp.kind, key);
      const bool running =
          ws.known && ws.phase != "Complete" && ws.phase != "Error" && ws.phase != "Failed";
      std::ifstream f(*path, std::ios::binary);
      f.seekg(0, std::ios::end);
      const std::streamoff size = std::max<std::streamoff>(0, f.tellg());
      if (size > offset) {
        std::string more(static_cast<size_t>(std::min<std::streamoff>(size - offset, 1 << 20)),
                         '\0');
        f.seekg(offset);
        f.read(more.data(), static_cast<std::streamsize>(more.size()));
        offset += static_cast<std::streamoff>(more.size());
        ok = co_await WriteChunk(stream, more);
        continue;
      }
      if (!running) break;
      timer.expires_after(std::chrono::milliseconds(200));
      co_await timer.async_wait(kTuple);
    }
    if (ok) co_await net::async_write(stream, http::make_chunk_last(), kTuple);
  }

  // Exec(): a WebSocket (subprotocol v4.channel.k8s.io) bridged to the sandbox's control
  // socket (docs/sessions.md, "Control socket protocol").
  template <typename Stream>
  net::awaitable<void> Exec(Stream& stream, http::request<http::string_body>& req,
                            const StreamSpec& sp) {
    namespace websocket = beast::websocket;
    using runtime::Channel;
    if (!websocket::is_upgrade(req)) {
      http::response<http::string_body> res{http::status::bad_request, req.version()};
      res.set(http::field::content_type, "application/json");
      res.body() = ErrorJson("bad_request",
                             "exec needs a WebSocket upgrade (subprotocol v4.channel.k8s.io)");
      res.keep_alive(false);
      res.prepare_payload();
      co_await http::async_write(stream, res, kTuple);
      co_return;
    }
    auto fd = options_.runtime->OpenControl(sp.kind, pai::StrCat(sp.ns, "/", sp.name));
    auto ex = co_await net::this_coro::executor;
    websocket::stream<Stream&> ws(stream);
    ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(http::field::server, "pai-server");
      res.set(http::field::sec_websocket_protocol, "v4.channel.k8s.io");
    }));
    ws.binary(true);
    auto [aec] = co_await ws.async_accept(req, kTuple);
    if (aec) {
      if (fd.ok()) ::close(*fd);
      co_return;
    }
    auto send = [&ws](Channel ch, std::string_view payload) -> net::awaitable<bool> {
      std::string msg(1, static_cast<char>(ch));
      msg.append(payload);
      auto [ec, n] = co_await ws.async_write(net::buffer(msg), kTuple);
      co_return !ec;
    };
    if (!fd.ok()) {
      // (Built outside the co_await: g++ 12 cannot keep braced literals in a coroutine frame.)
      const std::string failure = FailureStatus(std::string(fd.status().message()));
      co_await send(Channel::kStatus, failure);
      co_await ws.async_close(websocket::close_code::normal, kTuple);
      co_return;
    }
    net::local::stream_protocol::socket ctl(ex);
    beast::error_code cec;
    ctl.assign(net::local::stream_protocol(), *fd, cec);
    if (cec) {
      ::close(*fd);
      co_return;
    }
    std::vector<std::string> argv = sp.command;
    if (argv.empty()) argv = {"/bin/sh", "-c", "exec bash 2>/dev/null || exec sh"};
    boost::json::array jargv;
    for (const auto& a : argv) jargv.push_back(boost::json::string(a));
    const std::string request = boost::json::serialize(boost::json::object{
        {"op", "exec"}, {"argv", std::move(jargv)}, {"tty", sp.tty}, {"cols", 80}, {"rows", 24}});
    std::string first = runtime::EncodeFrame(Channel::kRequest, request);
    if (!sp.stdin) first += runtime::EncodeFrame(Channel::kStdin, "");
    auto [wec, wn] = co_await net::async_write(ctl, net::buffer(first), kTuple);
    if (wec) co_return;
    using namespace net::experimental::awaitable_operators;
    co_await (ExecToClient(ws, ctl, send) && ClientToExec(ws, ctl));
  }

  template <typename Ws, typename Send>
  static net::awaitable<void> ExecToClient(Ws& ws, net::local::stream_protocol::socket& ctl,
                                           Send& send) {
    using runtime::Channel;
    runtime::FrameDecoder dec;
    std::vector<char> buf(16384);  // not a C array: g++ 12 cannot copy one into a coroutine frame
    bool status_sent = false;
    for (bool open = true; open;) {
      auto [ec, n] = co_await ctl.async_read_some(net::buffer(buf), kTuple);
      if (ec) break;
      dec.Feed(std::string_view(buf.data(), n));
      for (;;) {
        auto f = dec.Next();
        if (!f.ok() || !f->has_value()) {
          open = f.ok();
          break;
        }
        runtime::Frame& fr = **f;
        if (fr.channel == Channel::kStatus) {
          const std::string status = KubernetesStatus(fr.payload);
          co_await send(Channel::kStatus, status);
          status_sent = true;
          open = false;
          break;
        }
        if (fr.channel == Channel::kStdout || fr.channel == Channel::kStderr) {
          const bool sent = co_await send(fr.channel, fr.payload);
          if (!sent) {
            open = false;
            break;
          }
        }
      }
    }
    if (!status_sent) {
      const std::string failure = FailureStatus("the sandbox closed the exec stream");
      co_await send(Channel::kStatus, failure);
    }
    beast::error_code ignored;
    ctl.shutdown(net::socket_base::shutdown_both, ignored);
    co_await ws.async_close(beast::websocket::close_code::normal, kTuple);
  }

  template <typename Ws>
  static net::awaitable<void> ClientToExec(Ws& ws, net::local::stream_protocol::socket& ctl) {
    using runtime::Channel;
    beast::flat_buffer b;
    for (;;) {
      auto [ec, n] = co_await ws.async_read(b, kTuple);
      if (ec) break;
      std::string msg = beast::buffers_to_string(b.data());
      b.consume(b.size());
      if (msg.empty()) continue;
      const auto ch = static_cast<Channel>(static_cast<uint8_t>(msg[0]));
      if (ch != Channel::kStdin && ch != Channel::kResize) continue;
      const std::string frame = runtime::EncodeFrame(ch, std::string_view(msg).substr(1));
      auto [wec, wn] = co_await net::async_write(ctl, net::buffer(frame), kTuple);
      if (wec) break;
    }
    // The client left: the init ends the command when its control connection closes.
    beast::error_code ignored;
    ctl.shutdown(net::socket_base::shutdown_both, ignored);
  }

  static std::string FailureStatus(const std::string& message) {
    return boost::json::serialize(boost::json::object{
        {"metadata", boost::json::object()}, {"status", "Failure"}, {"message", message}});
  }

  // KubernetesStatus(): the init's status frame as Kubernetes' metav1.Status (exec channel 3).
  static std::string KubernetesStatus(const std::string& init_status) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(init_status, ec);
    const boost::json::object* o = !ec && v.is_object() ? &v.as_object() : nullptr;
    const boost::json::value* code = o ? o->if_contains("exitCode") : nullptr;
    const int64_t exit_code = code && code->is_int64() ? code->as_int64() : 1;
    const boost::json::value* st = o ? o->if_contains("status") : nullptr;
    if (st && st->is_string() && st->as_string() == "Success" && exit_code == 0) {
      return R"({"metadata":{},"status":"Success"})";
    }
    const boost::json::value* m = o ? o->if_contains("message") : nullptr;
    std::string message = m && m->is_string() ? std::string(m->as_string()) : "";
    if (message.empty()) {
      message = pai::StrCat("command terminated with non-zero exit code: ", exit_code);
    }
    return boost::json::serialize(boost::json::object{
        {"metadata", boost::json::object()},
        {"status", "Failure"},
        {"message", message},
        {"reason", "NonZeroExitCode"},
        {"details",
         {{"causes", boost::json::array{boost::json::object{
                         {"reason", "ExitCode"}, {"message", std::to_string(exit_code)}}}}}}});
  }

  Api& api_;
  HttpServerOptions options_;
  net::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  // The accept loop and the acceptor's close run here, never at once.
  net::strand<net::io_context::executor_type> accept_strand_ = net::make_strand(ioc_);
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

void HttpGatewayAdmin::SetToken(std::string token) {
  std::lock_guard<std::mutex> lock(mu_);
  token_ = std::move(token);
}

absl::StatusOr<std::string> HttpGatewayAdmin::Get(const std::string& target) {
  std::string host_port;
  std::string token;
  {
    std::lock_guard<std::mutex> lock(mu_);
    host_port = host_port_;
    token = token_;
  }
  if (host_port.empty()) return absl::UnavailableError("the gateway has not started yet");
  // A short-lived io_context per call: the API's threads block here anyway.
  net::io_context ioc;
  auto ep = ParseHostPort(host_port);
  if (!ep.ok()) {
    // A host name (a Kubernetes Service: --gateway-admin pai-gateway:4001): resolved per call.
    const size_t colon = host_port.rfind(':');
    tcp::resolver resolver(ioc);
    beast::error_code rec;
    auto found = colon == std::string::npos ? tcp::resolver::results_type()
                                            : resolver.resolve(host_port.substr(0, colon),
                                                               host_port.substr(colon + 1), rec);
    if (rec || found.empty()) {
      return absl::UnavailableError(pai::StrCat("cannot resolve the gateway admin address ",
                                                host_port, rec ? ": " + rec.message() : ""));
    }
    ep = found.begin()->endpoint();
  }
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
    if (!token.empty()) req->set(http::field::authorization, pai::StrCat("Bearer ", token));
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
    return absl::UnavailableError(
        pai::StrCat("cannot reach the gateway at ", host_port, ": ", failure.message()));
  }
  if (res.result() != http::status::ok) {
    return absl::UnavailableError(pai::StrCat("the gateway answered HTTP ", res.result_int(),
                                              " for ", target.substr(0, target.find('?'))));
  }
  return std::move(res.body());
}

}  // namespace pai::server
