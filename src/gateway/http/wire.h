// Writing a whole JSON response to an agent in one gather write: the status line and header
// fields written into one string as the response is built, then the body, as Beast's serializer
// lays them out (RFC 9112 §3-§6: start line, `name: value` CRLF per field in order, CRLF,
// body). Beast's http::async_write walks its serializer's buffer-sequence views per write (~8 %
// of the gateway's CPU per proxied call when measured), and its header container allocates per
// field. Only Beast TUs include this (it includes http/beast.h).
#pragma once

#include <array>
#include <string>
#include <tuple>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "gateway/http/beast.h"

namespace pai::gateway {

// JsonAnswer: a JSON response with its head written as it is built — the status line, then
// `Server`, `Content-Type: application/json`, `x-request-id`, `Connection: close` when the
// connection closes after it, `Content-Length`, then the fields Set() adds, in that order —
// byte for byte what Beast's serializer writes for the same response (wire_test.cc), without
// a header container. Set() appends: callers add each name once, and none of the above.
// Not thread-safe (one per response).
struct JsonAnswer {
  JsonAnswer(int status, std::string body_in, bool keep_alive, std::string_view request_id)
      : status(status), body(std::move(body_in)) {
    head.reserve(256);
    const beast::string_view reason = http::obsolete_reason(http::int_to_status(status));
    absl::StrAppend(&head, "HTTP/1.1 ", status, " ");
    head.append(reason.data(), reason.size());
    head += "\r\nServer: pai-gateway\r\nContent-Type: application/json\r\n";
    if (!request_id.empty()) Set("x-request-id", request_id);
    if (!keep_alive) head += "Connection: close\r\n";
    absl::StrAppend(&head, "Content-Length: ", body.size(), "\r\n");
  }
  void Set(std::string_view name, std::string_view value) {
    head.append(name);
    head += ": ";
    head.append(value);
    head += "\r\n";
  }
  int status;
  std::string head;  // the status line and the fields so far; the empty line is added on write
  std::string body;
};

// WriteNowOrAsync() writes `buffers` (a buffer sequence that outlives the operation) to a plain
// TCP stream whose socket is in non-blocking mode (Socket::non_blocking(true); the gateway sets
// it on every agent and plain provider connection): first with one send(2) on the calling
// thread, then, for whatever the kernel did not take, with an async write (the stream's
// timeout applies to that part). Completes with (error_code, bytes written). The immediate
// send saves the turn of the event loop — and the zero-timeout epoll_wait Asio makes in it —
// that an async write completing at once costs (docs/benchmarks.md).
template <typename Buffers>
Task<std::tuple<beast::error_code, size_t>> WriteNowOrAsync(TcpStream& stream,
                                                            const Buffers& buffers) {
  beast::error_code ec;
  const size_t total = beast::buffer_bytes(buffers);
  // On a blocking socket Asio's send would wait for the peer: then only the async write.
  const size_t sent = stream.socket().non_blocking() ? stream.socket().send(buffers, 0, ec) : 0;
  std::tuple<beast::error_code, size_t> result(ec, sent);
  if ((!ec && sent == total) ||
      (ec && ec != net::error::would_block && ec != net::error::try_again)) {
    co_return result;
  }
  beast::buffers_suffix<Buffers> rest(buffers);
  rest.consume(sent);
  auto [wec, n] = co_await net::async_write(stream, rest, kTuple);
  result = std::tuple<beast::error_code, size_t>(wec, sent + n);
  co_return result;
}

// AsyncWriteAnswer() writes `res` — its head, the empty line, and its body unless `head_only`
// (a HEAD request: Content-Length stays) — in one gather write (WriteNowOrAsync() on a plain
// TCP stream). Completes with (error_code, bytes). `res` must outlive the operation.
template <typename Stream>
Task<std::tuple<beast::error_code, size_t>> AsyncWriteAnswer(Stream& stream, JsonAnswer& res,
                                                             bool head_only) {
  res.head += "\r\n";
  const std::array<net::const_buffer, 2> buffers{
      net::buffer(res.head), head_only ? net::const_buffer() : net::buffer(res.body)};
  if constexpr (std::is_same_v<Stream, TcpStream>) {
    auto result = co_await WriteNowOrAsync(stream, buffers);
    co_return result;
  } else {
    auto [ec, n] = co_await net::async_write(stream, buffers, kTuple);
    std::tuple<beast::error_code, size_t> result(ec, n);
    co_return result;
  }
}

}  // namespace pai::gateway
