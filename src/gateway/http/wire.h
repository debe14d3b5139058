// Writing a whole JSON response to an agent in one gather write: the status line and header
// fields written into one string as the response is built, then the body, as Beast's serializer
// lays them out (RFC 9112 §3-§6: start line, `name: value` CRLF per field in order, CRLF,
// body). Beast's http::async_write walks its serializer's buffer-sequence views per write (~8 %
// of the gateway's CPU per proxied call when measured), and its header container allocates per
// field. Only Beast TUs include this (it includes http/beast.h).
#pragma once

#include <array>
#include <stdexcept>
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

// SendNow() is the first attempt of WriteNowOrAsync(): one send(2) of `buffers` on the calling
// thread, on a plain TCP stream whose socket is in non-blocking mode (Socket::non_blocking(true);
// the gateway sets it on every agent and plain provider connection; a blocking socket is left
// alone: nothing sent). True when that settled the write: every byte taken (`ec` clear) or a
// failure (`ec`). False when the rest — after the `sent` bytes taken — needs WriteRest(); `ec`
// is then clear. Callers that try it before any co_await save the coroutine frames and the
// timer of an async write in the usual case, where the socket takes the whole answer.
template <typename Buffers>
bool SendNow(TcpStream& stream, const Buffers& buffers, beast::error_code& ec, size_t& sent) {
  ec = {};
  sent = stream.socket().non_blocking() ? stream.socket().send(buffers, 0, ec) : 0;
  if (!ec) return sent == beast::buffer_bytes(buffers);
  if (ec != net::error::would_block && ec != net::error::try_again) return true;
  ec = {};
  return false;
}

// WriteRest() writes what SendNow() left of `buffers` (a buffer sequence that outlives the
// operation): all but its first `sent` bytes, with an async write (the stream's timeout
// applies). Completes with (error_code, bytes written in all, `sent` included).
template <typename Buffers>
Task<std::tuple<beast::error_code, size_t>> WriteRest(TcpStream& stream, const Buffers& buffers,
                                                      size_t sent) {
  beast::buffers_suffix<Buffers> rest(buffers);
  rest.consume(sent);
  auto [ec, n] = co_await net::async_write(stream, rest, kTuple);
  std::tuple<beast::error_code, size_t> result(ec, sent + n);
  co_return result;
}

// WriteNowOrAsync() writes `buffers` (a buffer sequence that outlives the operation) to a plain
// TCP stream: SendNow(), then WriteRest() for whatever the kernel did not take. Completes with
// (error_code, bytes written). The immediate send saves the turn of the event loop — and the
// zero-timeout epoll_wait Asio makes in it — that an async write completing at once costs
// (docs/benchmarks.md).
template <typename Buffers>
Task<std::tuple<beast::error_code, size_t>> WriteNowOrAsync(TcpStream& stream,
                                                            const Buffers& buffers) {
  beast::error_code ec;
  size_t sent = 0;
  if (SendNow(stream, buffers, ec, sent)) {
    std::tuple<beast::error_code, size_t> result(ec, sent);
    co_return result;
  }
  auto result = co_await WriteRest(stream, buffers, sent);
  co_return result;
}

// TrackReceiveQueue() and NoteReceiveQueueEmpty(): nginx's rule for Asio's epoll reactor. A
// receive that returns fewer bytes than it asked for has emptied the socket's receive queue, so
// the next receive can wait for the descriptor's next epoll event instead of trying recv(2)
// first and failing with EAGAIN: a system call saved per response awaited and per keep-alive
// request awaited (docs/benchmarks.md, "Receives without EAGAIN"). The registration is
// edge-triggered, so bytes that arrive later raise a new event; a peer's close that came with
// or before the bytes raises none, and is told from EPOLLRDHUP, as nginx does.
// TrackReceiveQueue() adds EPOLLRDHUP to the socket's registration (one epoll_ctl(2); call it
// once, on a connected socket); NoteReceiveQueueEmpty() then notes a short receive unless the
// socket's last events say the peer closed or failed. Both are no-ops outside Boost 1.81's epoll
// reactor (NotesReceiveQueue() says which) and on an untracked socket. ReceiveQueueNotedEmpty()
// reads the state back, for tests. Call them on the thread that runs the socket's io_context.
void TrackReceiveQueue(Socket& socket);
void NoteReceiveQueueEmpty(Socket& socket);
bool ReceiveQueueNotedEmpty(Socket& socket);
bool NotesReceiveQueue();

// ReceiveUntil() parses the bytes already in `buffer` into `parser`, then receives and parses
// until `done(parser)` holds after the parser used some bytes. It is Beast's http::async_read
// family made leaner, with the same parse, limits and errors as its read_some_op
// (boost/beast/http/impl/read.hpp): the parser's errors (header_limit, body_limit, bad_chunk, …),
// buffer_overflow when `buffer` is full, end_of_stream when the peer closed before sending a
// byte of this message, partial_message when it closed in the middle of one (a body delimited by
// the close completes), the receive's own error otherwise. The receives are made on the socket
// itself — for a plain TcpStream without its stream timer: the callers keep their own deadlines
// (the shard's heartbeat, the upstream guard timer), and a short receive is noted
// (NoteReceiveQueueEmpty()) — so each costs one Asio operation instead
// of Beast's three nested composed operations, and bytes already buffered are parsed without a
// turn of the event loop (docs/benchmarks.md). `stream`, `buffer` and `parser` must outlive the
// operation. ReceiveHeader() and ReceiveSome() below are the two uses.
template <typename Stream, bool isRequest, typename Done>
Task<beast::error_code> ReceiveUntil(Stream& stream, beast::flat_buffer& buffer,
                                     http::basic_parser<isRequest>& parser, Done done) {
  beast::error_code ec;
  for (;;) {
    if (buffer.size() > 0) {
      const size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec && ec != http::error::need_more) co_return ec;
      const bool progressed = !ec && used > 0;
      ec = {};
      if (progressed && done(parser)) co_return ec;
      if (progressed) continue;  // parse what is left of the buffer
    }
    const size_t size = beast::read_size(buffer, 65536);
    if (size == 0) co_return http::error::buffer_overflow;
    beast::flat_buffer::mutable_buffers_type space;
    try {
      space = buffer.prepare(size);
    } catch (const std::length_error&) {
      co_return http::error::buffer_overflow;
    }
    size_t n = 0;
    if constexpr (std::is_same_v<Stream, TcpStream>) {
      auto [rec, rn] = co_await stream.socket().async_read_some(space, kTuple);
      ec = rec;
      n = rn;
      if (!ec && n > 0 && n < space.size()) NoteReceiveQueueEmpty(stream.socket());
    } else {
      auto [rec, rn] = co_await stream.async_read_some(space, kTuple);
      ec = rec;
      n = rn;
    }
    buffer.commit(n);
    if (ec == net::error::eof) {
      if (!parser.got_some()) co_return http::error::end_of_stream;
      ec = {};
      parser.put_eof(ec);
      co_return ec;
    }
    if (ec) co_return ec;
  }
}

// ReceiveHeader(): http::async_read_header() — completes once `parser` has a whole header.
template <typename Stream, bool isRequest>
Task<beast::error_code> ReceiveHeader(Stream& stream, beast::flat_buffer& buffer,
                                      http::basic_parser<isRequest>& parser) {
  return ReceiveUntil(stream, buffer, parser,
                      [](const http::basic_parser<isRequest>& p) { return p.is_header_done(); });
}

// ReceiveSome(): http::async_read_some() — completes once `parser` has used some bytes.
template <typename Stream, bool isRequest>
Task<beast::error_code> ReceiveSome(Stream& stream, beast::flat_buffer& buffer,
                                    http::basic_parser<isRequest>& parser) {
  return ReceiveUntil(stream, buffer, parser,
                      [](const http::basic_parser<isRequest>&) { return true; });
}

// AnswerBuffers(): `res` as one gather write's buffers — its head, the empty line, and its body
// unless `head_only` (a HEAD request: Content-Length stays). It ends the head: call it once per
// answer. `res` must outlive the write.
inline std::array<net::const_buffer, 2> AnswerBuffers(JsonAnswer& res, bool head_only) {
  res.head += "\r\n";
  return {net::buffer(res.head), head_only ? net::const_buffer() : net::buffer(res.body)};
}

// AsyncWriteAnswer() writes `res` as AnswerBuffers() lays it out, in one gather write
// (WriteNowOrAsync() on a plain TCP stream). Completes with (error_code, bytes).
template <typename Stream>
Task<std::tuple<beast::error_code, size_t>> AsyncWriteAnswer(Stream& stream, JsonAnswer& res,
                                                             bool head_only) {
  const std::array<net::const_buffer, 2> buffers = AnswerBuffers(res, head_only);
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
