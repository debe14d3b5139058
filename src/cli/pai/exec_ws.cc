#include "cli/pai/exec_ws.h"

#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <thread>

#include "boost/json/parse.hpp"
#include "cli/pai/views.h"

namespace pai::cli {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
constexpr char kSubprotocol[] = "v4.channel.k8s.io";

// --- the local terminal in raw mode ---

termios g_saved_termios{};
std::atomic<bool> g_terminal_raw{false};

void RestoreTerminal() {
  if (g_terminal_raw.exchange(false)) ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_termios);
}

// RawTerminal puts stdin's terminal in raw mode for its lifetime (Ctrl-C, Ctrl-D and Ctrl-Z are
// bytes for the remote pty then). Restored by the destructor, at exit(), and by the SIGTERM /
// SIGHUP handling of RunExec(); the terminal generates no SIGINT in raw mode.
class RawTerminal {
 public:
  RawTerminal() {
    if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &g_saved_termios) != 0) return;
    termios raw = g_saved_termios;
    ::cfmakeraw(&raw);
    static const bool registered = (std::atexit(&RestoreTerminal), true);
    (void)registered;
    if (::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) g_terminal_raw = true;
  }
  ~RawTerminal() { RestoreTerminal(); }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
};

bool TerminalSize(unsigned* width, unsigned* height) {
  winsize ws{};
  for (int fd : {STDOUT_FILENO, STDIN_FILENO, STDERR_FILENO}) {
    if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
      *width = ws.ws_col;
      *height = ws.ws_row;
      return true;
    }
  }
  return false;
}

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// --- the connection ---

// Shared: what the coroutines and the stdin thread share. Only the io_context's thread touches
// the members; the stdin thread only posts to `ioc`.
struct Shared {
  net::io_context ioc{1};
  std::deque<std::string> outbox;  // messages to send, in order
  std::optional<net::steady_timer> wake;
  std::optional<net::signal_set> signals;
  bool closing = false;
  bool terminated = false;  // SIGTERM / SIGHUP
  std::optional<ExecExit> exit;
  absl::Status failure;  // set when no exit status is coming

  void Send(std::string message) {
    if (closing) return;
    outbox.push_back(std::move(message));
    wake->cancel();
  }
};

absl::Status RefusedUpgrade(const websocket::response_type& res) {
  const unsigned status = res.result_int();
  std::string message;
  boost::system::error_code ec;
  const boost::json::value body = boost::json::parse(res.body(), ec);
  if (!ec) message = StrAt(body, {"error", "message"});
  if (message.empty()) message = "exec refused: HTTP " + std::to_string(status);
  switch (status) {
    case 401:
      return absl::UnauthenticatedError(message);
    case 403:
      return absl::PermissionDeniedError(message);
    case 404:
      return absl::NotFoundError(message);
    case 409:
      return absl::FailedPreconditionError(message);
    case 400:
    case 422:
      return absl::InvalidArgumentError(message);
    default:
      return absl::UnavailableError(message);
  }
}

template <class Ws>
net::awaitable<void> Writer(std::shared_ptr<Shared> sh, Ws& ws) {
  for (;;) {
    while (sh->outbox.empty() && !sh->closing) {
      sh->wake->expires_at(net::steady_timer::time_point::max());
      co_await sh->wake->async_wait(kTuple);
    }
    if (sh->closing) co_return;
    std::string message = std::move(sh->outbox.front());
    sh->outbox.pop_front();
    ws.binary(true);
    auto [ec, n] = co_await ws.async_write(net::buffer(message), kTuple);
    if (ec) co_return;
  }
}

template <class Ws>
net::awaitable<void> Signals(std::shared_ptr<Shared> sh, Ws& ws, Tty tty) {
  for (;;) {
    auto [ec, sig] = co_await sh->signals->async_wait(kTuple);
    if (ec || sh->closing) co_return;
    if (sig == SIGWINCH) {
      unsigned w = 0, h = 0;
      if (tty == Tty::kYes && TerminalSize(&w, &h)) sh->Send(ResizeFrame(w, h));
      continue;
    }
    sh->terminated = true;
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws).socket().close(ignored);
    co_return;
  }
}

void StartStdinThread(const std::shared_ptr<Shared>& sh) {
  std::thread([sh] {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // EOF: a zero-length stdin message (the remote command sees its stdin end).
        net::post(sh->ioc, [sh] { sh->Send(Frame(Channel::kStdin, "")); });
        return;
      }
      net::post(sh->ioc, [sh, data = std::string(buf, static_cast<size_t>(n))] {
        sh->Send(Frame(Channel::kStdin, data));
      });
    }
  }).detach();
}

template <class Ws>
net::awaitable<void> Pump(std::shared_ptr<Shared> sh, Ws& ws, const ExecRequest& req) {
  const std::string where =
      std::string(req.server.tls ? "https://" : "http://") + req.server.host_header;
  tcp::resolver resolver(sh->ioc);
  auto [rec, endpoints] = co_await resolver.async_resolve(req.server.host, req.server.port, kTuple);
  if (rec) {
    sh->failure = absl::UnavailableError("cannot reach " + where + ": " + rec.message());
    co_return;
  }
  auto& tcp_layer = beast::get_lowest_layer(ws);
  tcp_layer.expires_after(std::chrono::seconds(10));
  auto [cec, ep] = co_await tcp_layer.async_connect(endpoints, kTuple);
  if (cec) {
    sh->failure = absl::UnavailableError("cannot reach " + where + ": " + cec.message());
    co_return;
  }
  if constexpr (!std::is_same_v<typename Ws::next_layer_type, beast::tcp_stream>) {
    auto& tls = ws.next_layer();
    if (!::SSL_set_tlsext_host_name(tls.native_handle(), req.server.host.c_str())) {
      sh->failure = absl::UnavailableError("cannot reach " + where + ": TLS SNI failed");
      co_return;
    }
    tls.set_verify_callback(ssl::host_name_verification(req.server.host));
    auto [hec] = co_await tls.async_handshake(ssl::stream_base::client, kTuple);
    if (hec) {
      sh->failure = absl::UnavailableError("cannot reach " + where + ": " + hec.message());
      co_return;
    }
  }
  tcp_layer.expires_never();
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  ws.set_option(websocket::stream_base::decorator([&req](websocket::request_type& r) {
    r.set(http::field::user_agent, "pai/0.2.0");
    r.set(http::field::sec_websocket_protocol, kSubprotocol);
    if (!req.token.empty()) r.set(http::field::authorization, "Bearer " + req.token);
  }));
  ws.read_message_max(64 * 1024 * 1024);
  websocket::response_type res;
  auto [wec] = co_await ws.async_handshake(res, req.server.host_header, req.target, kTuple);
  if (wec) {
    if (res.result_int() != 0 && res.result_int() != 101) {
      sh->failure = RefusedUpgrade(res);
    } else {
      sh->failure = absl::UnavailableError("exec: WebSocket handshake with " + where +
                                           " failed: " + wec.message());
    }
    co_return;
  }

  std::optional<RawTerminal> raw;
  if (req.tty == Tty::kYes) {
    raw.emplace();
    unsigned w = 0, h = 0;
    if (TerminalSize(&w, &h)) sh->Send(ResizeFrame(w, h));
  }
  if (req.send_stdin == SendStdin::kYes) StartStdinThread(sh);
  net::co_spawn(sh->ioc, Writer(sh, ws), net::detached);
  net::co_spawn(sh->ioc, Signals(sh, ws, req.tty), net::detached);

  beast::flat_buffer buffer;
  bool peer_closed = false;
  for (;;) {
    auto [ec, n] = co_await ws.async_read(buffer, kTuple);
    if (ec) {
      peer_closed = true;
      if (sh->terminated) {
        sh->failure = absl::AbortedError("exec: terminated");
      } else if (ec != websocket::error::closed) {
        sh->failure =
            absl::UnavailableError("exec: connection to " + where + " lost: " + ec.message());
      }
      break;
    }
    const auto data = buffer.cdata();
    std::string_view message(static_cast<const char*>(data.data()), data.size());
    if (!message.empty()) {
      const auto channel = static_cast<Channel>(static_cast<unsigned char>(message[0]));
      message.remove_prefix(1);
      if (channel == Channel::kStdout) {
        WriteAll(STDOUT_FILENO, message);
      } else if (channel == Channel::kStderr) {
        WriteAll(STDERR_FILENO, message);
      } else if (channel == Channel::kStatus) {
        sh->exit = ExitFromStatus(message);
      }
    }
    buffer.consume(buffer.size());
    if (sh->exit) break;
  }
  raw.reset();
  // Wind down: the writer and the signal wait end, the connection closes; run() then returns.
  sh->closing = true;
  sh->wake->cancel();
  boost::system::error_code ignored;
  sh->signals->cancel(ignored);
  if (!peer_closed) {
    // Bounded: the server closes after the status message anyway.
    ws.set_option(websocket::stream_base::timeout{std::chrono::seconds(2),
                                                  websocket::stream_base::none(), false});
    co_await ws.async_close(websocket::close_code::normal, kTuple);
  }
  beast::get_lowest_layer(ws).socket().close(ignored);
}

template <class Ws>
void Run(const std::shared_ptr<Shared>& sh, Ws& ws, const ExecRequest& req) {
  net::co_spawn(sh->ioc, Pump(sh, ws, req), [sh](const std::exception_ptr& e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        sh->failure = absl::InternalError(std::string("exec: ") + x.what());
      }
    }
    // Pump is the last to finish; what is left (the WebSocket's handshake timer after a
    // refused upgrade: 30 s) must not hold the command.
    sh->ioc.stop();
  });
  sh->ioc.run();
}

}  // namespace

absl::StatusOr<int> RunExec(const ExecRequest& req) {
  auto sh = std::make_shared<Shared>();
  sh->wake.emplace(sh->ioc);
  sh->signals.emplace(sh->ioc, SIGWINCH, SIGTERM, SIGHUP);
  try {
    if (req.server.tls) {
      ssl::context ctx(ssl::context::tls_client);
      ctx.set_default_verify_paths();
      if (const char* ca = std::getenv("PAI_CA_FILE"); ca != nullptr && *ca != '\0') {
        ctx.load_verify_file(ca);
      }
      ctx.set_verify_mode(ssl::verify_peer);
      websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(sh->ioc, ctx);
      Run(sh, ws, req);
    } else {
      websocket::stream<beast::tcp_stream> ws(sh->ioc);
      Run(sh, ws, req);
    }
  } catch (const std::exception& e) {
    RestoreTerminal();
    return absl::InternalError(std::string("exec: ") + e.what());
  }
  RestoreTerminal();
  if (sh->exit) {
    if (!sh->exit->message.empty()) {
      std::fprintf(stderr, "pai: %s\n", sh->exit->message.c_str());
    }
    return sh->exit->code;
  }
  if (!sh->failure.ok()) return sh->failure;
  return absl::UnavailableError("exec: the connection closed without an exit status");
}

}  // namespace pai::cli
