// The heads the gateway writes itself are byte for byte Beast's serializer output.
#include "gateway/http/wire.h"

#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <sstream>
#include <thread>

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

}  // namespace
}  // namespace pai::gateway
