// The heads the gateway writes itself are byte for byte Beast's serializer output.
#include "gateway/http/wire.h"

#include <poll.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "gateway/upstream/provider_request.h"

namespace pai::gateway {
namespace {

template <bool isRequest>
std::string BeastBytes(const http::message<isRequest, http::string_body>& m) {
  std::ostringstream out;
  out << m;  // Beast's serializer
  return out.str();
}

// A JSON answer's head, written as it is built, is byte for byte what Beast's serializer writes
// for the response JsonResponse() used to build with Beast (the same fields in the same order),
// kept alive or not, with a request id or not, with added fields, for known and unknown codes.
TEST_CASE("JSON answers are laid out as Beast's serializer lays them out") {
  for (const int status : {200, 429, 400, 503, 529}) {
    for (const bool keep_alive : {true, false}) {
      for (const std::string_view id : {std::string_view(), std::string_view("req-1")}) {
        JsonAnswer got(status, R"({"id":"chatcmpl-1"})", keep_alive, id);
        got.Set("x-ratelimit-remaining-tokens", "999");
        got.Set("Retry-After", "1");

        http::response<http::string_body> res{static_cast<http::status>(status), 11};
        res.set(http::field::server, "pai-gateway");
        res.set(http::field::content_type, "application/json");
        if (!id.empty()) res.set("x-request-id", id);
        res.keep_alive(keep_alive);
        res.body() = R"({"id":"chatcmpl-1"})";
        res.prepare_payload();
        res.set("x-ratelimit-remaining-tokens", "999");
        res.set(http::field::retry_after, "1");
        CHECK(got.head + "\r\n" + got.body == BeastBytes(res));
      }
    }
  }
}

// The upstream request's head, written field by field, is byte for byte what Beast's serializer
// writes for the same request; an adapter's header replaces the default of the same name (in
// any case) and goes with the adapter's, after the defaults.
TEST_CASE("upstream request heads are what Beast would write") {
  ProviderRuntime provider;
  provider.endpoint.base_path = "/v1";
  provider.endpoint.host_header = "api.example.com";
  provider.auth_header = "authorization";
  provider.authorization = "Bearer sk-test";
  ProviderRequest pr;
  pr.path = "/chat/completions";
  pr.body = R"({"model":"m","messages":[]})";
  pr.headers.emplace_back("accept", "application/x-ndjson");
  pr.headers.emplace_back("X-Title", "pai-gateway");
  const UpstreamRequest got = ToHttpRequest(provider, std::move(pr), "req-1", /*stream=*/true);

  http::request<http::string_body> req{http::verb::post, "/v1/chat/completions", 11};
  req.set("Host", "api.example.com");
  req.set("authorization", "Bearer sk-test");
  req.set("Content-Type", "application/json");
  req.set("User-Agent", "pai-gateway/0.1");
  req.set("x-request-id", "req-1");
  req.set("accept", "application/x-ndjson");
  req.set("X-Title", "pai-gateway");
  req.body() = R"({"model":"m","messages":[]})";
  req.prepare_payload();
  CHECK(got.head + got.body == BeastBytes(req));
  CHECK(got.head.find("Accept: text/event-stream") == std::string::npos);
}

// An answer far larger than the socket's buffers: the first send(2) takes only part of it
// (WriteNowOrAsync()), the async write the rest; the peer gets every byte, in order, once.
TEST_CASE(
    "an answer larger than the socket buffers is written whole when the first send takes part") {
  net::io_context ioc(1);
  Acceptor acceptor(ioc.get_executor(), tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = acceptor.local_endpoint().port();
  std::string received;  // written by the reader thread, read after join()
  std::thread reader([port, &received] {
    net::io_context rio;
    tcp::socket s(rio);
    s.open(tcp::v4());
    s.set_option(net::socket_base::receive_buffer_size(4096));  // a small window
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    beast::error_code ec;
    char buf[65536];
    for (;;) {
      const size_t n = s.read_some(net::buffer(buf), ec);
      if (ec) break;
      received.append(buf, n);
    }
  });
  Socket server = acceptor.accept();
  server.set_option(net::socket_base::send_buffer_size(4096));
  server.non_blocking(true);
  TcpStream stream(std::move(server));
  std::string body(4 << 20, 'x');
  for (size_t i = 0; i < body.size(); i += 4093) body[i] = static_cast<char>('a' + i % 26);
  JsonAnswer answer(200, body, /*keep_alive=*/false, "req-big");
  const std::string expected = answer.head + "\r\n" + body;
  std::tuple<beast::error_code, size_t> result;
  net::co_spawn(
      ioc,
      [&]() -> Task<void> {
        result = co_await AsyncWriteAnswer(stream, answer, /*head_only=*/false);
        stream.socket().shutdown(Socket::shutdown_send);
      },
      [](const std::exception_ptr& e) {
        if (e) std::rethrow_exception(e);
      });
  ioc.run();
  reader.join();
  CHECK_FALSE(std::get<0>(result));
  CHECK(std::get<1>(result) == expected.size());
  CHECK(received.size() == expected.size());
  CHECK(received == expected);
}

// What a peer sends, then closes, read message by message on a loopback connection by `read`
// (ReceiveHeader()/ReceiveSome() or Beast's own reads): per message, the error and the target
// (request) or status and body (response) the parser saw.
struct Received {
  std::vector<beast::error_code> errors;
  std::vector<std::string> what;
};
template <bool isRequest, typename Read>
Received ReadMessages(const std::string& bytes, size_t max_buffer, uint32_t header_limit,
                      int messages, Read read) {
  net::io_context ioc(1);
  Acceptor acceptor(ioc.get_executor(), tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = acceptor.local_endpoint().port();
  std::thread peer([port, &bytes] {  // no checks here: the main thread checks
    net::io_context pio;
    tcp::socket s(pio);
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    s.set_option(tcp::no_delay(true));
    beast::error_code ec;
    // In pieces of 7 bytes, so that a head may span receives.
    for (size_t i = 0; i < bytes.size() && !ec; i += 7) {
      net::write(s, net::buffer(bytes.data() + i, std::min<size_t>(7, bytes.size() - i)), ec);
    }
    s.shutdown(tcp::socket::shutdown_send, ec);
    char sink[256];
    while (!ec) s.read_some(net::buffer(sink), ec);  // until the reader closes
  });
  TcpStream stream(acceptor.accept());
  Received out;
  net::co_spawn(
      ioc,
      [&]() -> Task<void> {
        beast::flat_buffer buffer(max_buffer);
        for (int i = 0; i < messages; ++i) {
          http::parser<isRequest, http::string_body> parser;
          parser.header_limit(header_limit);
          const beast::error_code ec = co_await read(stream, buffer, parser);
          out.errors.push_back(ec);
          std::string what;
          if (parser.is_header_done()) {
            if constexpr (isRequest) {
              what = std::string(parser.get().target());
            } else {
              what = std::to_string(parser.get().result_int()) + " " + parser.get().body();
            }
          }
          out.what.push_back(what);
          if (ec) break;
        }
        stream.socket().close();
      },
      [](const std::exception_ptr& e) {
        if (e) std::rethrow_exception(e);
      });
  ioc.run();
  peer.join();
  return out;
}

// ReceiveHeader() completes with what Beast's http::async_read_header() completes with, on
// pipelined requests, an empty connection, a head cut by the close, a head over the parser's
// limit, a head larger than the read buffer, and bytes that are no HTTP.
TEST_CASE("ReceiveHeader reads what Beast async_read_header reads with the same errors") {
  const std::string two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
  struct Case {
    std::string bytes;
    size_t max_buffer;
    uint32_t header_limit;
    beast::error_code last;
  };
  const std::vector<Case> cases = {
      {two, 65536, 8192, http::error::end_of_stream},
      {"", 65536, 8192, http::error::end_of_stream},
      {"GET /a HTTP/1.1\r\nHo", 65536, 8192, http::error::partial_message},
      {"GET /a HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(200, 'v') + "\r\n\r\n", 65536, 64,
       http::error::header_limit},
      {"GET /a HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(200, 'v') + "\r\n\r\n", 64, 8192,
       http::error::buffer_overflow},
      {"NOT HTTP AT ALL\r\n\r\n", 65536, 8192, http::error::bad_version},
  };
  for (const Case& c : cases) {
    INFO(c.bytes.substr(0, 40));
    const Received ours = ReadMessages<true>(
        c.bytes, c.max_buffer, c.header_limit, 3,
        [](TcpStream& s, beast::flat_buffer& b, http::request_parser<http::string_body>& p) {
          return ReceiveHeader(s, b, p);
        });
    const Received beasts = ReadMessages<true>(
        c.bytes, c.max_buffer, c.header_limit, 3,
        [](TcpStream& s, beast::flat_buffer& b,
           http::request_parser<http::string_body>& p) -> Task<beast::error_code> {
          auto [ec, n] = co_await http::async_read_header(s, b, p, kTuple);
          co_return ec;
        });
    CHECK(ours.errors == beasts.errors);
    CHECK(ours.what == beasts.what);
    REQUIRE_FALSE(ours.errors.empty());
    CHECK(ours.errors.back() == c.last);
  }
  const Received pipelined = ReadMessages<true>(
      two, 65536, 8192, 3,
      [](TcpStream& s, beast::flat_buffer& b, http::request_parser<http::string_body>& p) {
        return ReceiveHeader(s, b, p);
      });
  CHECK(pipelined.what == std::vector<std::string>{"/a", "/b", ""});
}

// ReceiveSome() reads a response body as Beast's http::async_read_some() does: a Content-Length
// body, a chunked one, one delimited by the close, and a close in the middle of a body.
TEST_CASE("ReceiveSome reads bodies as Beast async_read_some reads them") {
  struct Case {
    std::string bytes;
    beast::error_code last;
    std::string what;
  };
  const std::vector<Case> cases = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world", {}, "200 hello world"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n "
       "world\r\n0\r\n\r\n",
       {},
       "200 hello world"},
      {"HTTP/1.1 200 OK\r\n\r\nhello until the close", {}, "200 hello until the close"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhello", http::error::partial_message,
       "200 hello"},
  };
  // Reads a whole message: the head, then some at a time until done.
  const auto whole = [](auto read_some) {
    return [read_some](TcpStream& s, beast::flat_buffer& b,
                       http::response_parser<http::string_body>& p) -> Task<beast::error_code> {
      beast::error_code ec;
      // Bounded: a read that makes no progress fails the test instead of spinning.
      for (int i = 0; !ec && !p.is_done() && i < 1000; ++i) ec = co_await read_some(s, b, p);
      co_return ec;
    };
  };
  for (const Case& c : cases) {
    INFO(c.bytes.substr(0, 60));
    const Received ours = ReadMessages<false>(
        c.bytes, 65536, 8192, 1,
        whole([](TcpStream& s, beast::flat_buffer& b, http::response_parser<http::string_body>& p) {
          return ReceiveSome(s, b, p);
        }));
    const Received beasts = ReadMessages<false>(
        c.bytes, 65536, 8192, 1,
        whole([](TcpStream& s, beast::flat_buffer& b,
                 http::response_parser<http::string_body>& p) -> Task<beast::error_code> {
          auto [ec, n] = co_await http::async_read_some(s, b, p, kTuple);
          co_return ec;
        }));
    CHECK(ours.errors == beasts.errors);
    CHECK(ours.what == beasts.what);
    REQUIRE(ours.errors.size() == 1);
    CHECK(ours.errors[0] == c.last);
    CHECK(ours.what[0] == c.what);
  }
}

// TrackedConnection: a loopback connection whose accepting end is a tracked TcpStream
// (TrackReceiveQueue()), and a deadline that closes that end after 10 s, so that a read left
// waiting for an event that never comes fails its test instead of hanging it.
struct TrackedConnection {
  TrackedConnection() {
    peer.connect(acceptor.local_endpoint());
    stream.emplace(acceptor.accept());
    TrackReceiveQueue(stream->socket());
    deadline.expires_after(std::chrono::seconds(10));
    deadline.async_wait([this](beast::error_code ec) {
      if (!ec) stream->socket().close();  // a read waiting for nothing ends with an error
    });
  }
  // Run() runs `read` as a coroutine until it returns, then stops the deadline.
  template <typename Read>
  void Run(Read read) {
    net::co_spawn(
        ioc,
        [this, read]() -> Task<void> {
          co_await read();
          deadline.cancel();
        },
        [](const std::exception_ptr& e) {
          if (e) std::rethrow_exception(e);
        });
    ioc.run();
  }
  net::io_context ioc{1};
  Acceptor acceptor{ioc.get_executor(), tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};
  tcp::socket peer{ioc};
  std::optional<TcpStream> stream;
  SteadyTimer deadline{ioc.get_executor()};
};

// A receive shorter than its buffer notes the socket's receive queue empty (the next receive
// waits for the descriptor's next epoll event instead of failing with EAGAIN first); a receive
// that fills its buffer does not, so bytes still queued are read at once. The peer sends a
// response whose body is larger than the first receive's buffer (512 bytes) before the reads
// start, then, once the queue was noted empty, a request whose event must wake the last read.
TEST_CASE("a short receive notes the receive queue empty and a full one does not") {
  if (!NotesReceiveQueue()) {
    WARN("not Boost 1.81's epoll reactor: receives are not noted");
    return;
  }
  TrackedConnection c;
  const std::string body(3000, 'b');
  net::write(c.peer, net::buffer("HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n" + body));
  bool noted_after_head = true;
  bool noted_after_body = false;
  std::string got_body;
  std::string next_target;
  beast::error_code last;
  c.Run([&]() -> Task<void> {
    TcpStream& stream = *c.stream;
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    last = co_await ReceiveHeader(stream, buffer, parser);
    noted_after_head = ReceiveQueueNotedEmpty(stream.socket());
    for (int i = 0; !last && !parser.is_done() && i < 100; ++i) {
      last = co_await ReceiveSome(stream, buffer, parser);
    }
    noted_after_body = ReceiveQueueNotedEmpty(stream.socket());
    got_body = parser.get().body();
    net::write(c.peer, net::buffer(std::string_view("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")));
    http::request_parser<http::empty_body> next;
    if (!last) last = co_await ReceiveHeader(stream, buffer, next);
    if (next.is_header_done()) next_target = std::string(next.get().target());
  });
  CHECK_FALSE(last);
  CHECK_FALSE(noted_after_head);  // the first receive filled its 512 bytes
  CHECK(noted_after_body);        // the last one did not
  CHECK(got_body == body);
  CHECK(next_target == "/next");
}

// A short receive is not noted when the peer's close came with the bytes: the end of the stream
// raises no event of its own then, and a read waiting for one would wait for ever. The response
// below is delimited by the close; it and the FIN are in the socket, and the reactor has seen
// their event, before the first receive.
TEST_CASE("a short receive is not noted when the peer closed with the bytes") {
  if (!NotesReceiveQueue()) {
    WARN("not Boost 1.81's epoll reactor: receives are not noted");
    return;
  }
  TrackedConnection c;
  net::write(c.peer, net::buffer(std::string_view("HTTP/1.1 200 OK\r\n\r\nhello until the close")));
  c.peer.shutdown(tcp::socket::shutdown_send);
  pollfd pfd{c.stream->socket().native_handle(), POLLRDHUP, 0};
  REQUIRE(::poll(&pfd, 1, 10000) == 1);  // the FIN has come
  c.ioc.poll();  // the reactor takes the descriptor's event before any receive
  beast::error_code last;
  std::string got;
  c.Run([&]() -> Task<void> {
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    last = co_await ReceiveHeader(*c.stream, buffer, parser);
    for (int i = 0; !last && !parser.is_done() && i < 100; ++i) {
      last = co_await ReceiveSome(*c.stream, buffer, parser);
    }
    got = parser.get().body();
  });
  CHECK_FALSE(last);
  CHECK(got == "hello until the close");
}

}  // namespace
}  // namespace pai::gateway
