// StreamWriter: the text/event-stream response of a streamed call, written to the client piece
// by piece. Towards HTTP/1.1 the body is chunked; towards HTTP/1.0, which has no chunked coding
// (RFC 9112 §7: a server must not send it to a 1.0 client), it is close-delimited: no length,
// `Connection: close`, and the end of the body is the end of the connection (RFC 9112 §6.3).
// Every byte passes the provider-key scrubber (scrub.h) on its way out, across piece
// boundaries; End() flushes what it held back.
//
// Used by proxy.cc only (one Beast TU). Thread safety: one per response, on its shard.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "gateway/http/wire.h"
#include "gateway/relay/scrub.h"
#include "gateway/server/server_impl.h"
#include "gateway/upstream/upstream_response.h"

namespace pai::gateway {

class StreamWriter {
 public:
  StreamWriter(ClientConn* conn, std::chrono::milliseconds timeout, RequestContext* ctx)
      : conn_(conn),
        timeout_(timeout),
        ctx_(ctx),
        scrub_(ctx->runtime ? &ctx->runtime->scrubber() : nullptr) {}

  // Header() writes the status line and headers (200, text/event-stream).
  Task<beast::error_code> Header() {
    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::server, "pai-gateway");
    res.set(http::field::content_type, "text/event-stream; charset=utf-8");
    res.set(http::field::cache_control, "no-cache");
    res.set("x-request-id", ctx_->request_id);
    for (const auto& [name, value] : ctx_->reply.headers) res.set(name, value);
    if (close_delimited()) {
      ctx_->reply.close = true;  // the close ends the body
      res.keep_alive(false);
    } else {
      res.keep_alive(conn_->keep_alive && !ctx_->reply.close);
      res.chunked(true);
    }
    http::response_serializer<http::empty_body> sr{res};
    ctx_->reply.started = true;
    conn_->stream.expires_after(timeout_);
    auto [ec, n] = co_await http::async_write_header(conn_->stream, sr, kTuple);
    co_return ec;
  }

  // Body() writes `bytes` (scrubbed; the scrubber may hold back the last few until the next
  // piece). Never a zero-length chunk: it would end a chunked body early.
  Task<beast::error_code> Body(std::string_view bytes) {
    scrubbed_.clear();
    scrub_.Feed(bytes, scrubbed_);
    beast::error_code ec = co_await Write();  // g++ 12: no `co_return co_await`
    co_return ec;
  }

  // Last() writes the final events, what the scrubber held back and the end of the body in one
  // write, so that a client that leaves as soon as it has the last event cannot cut the body
  // between the two; on success the response counts as delivered (a later EOF is no abort).
  Task<beast::error_code> Last(std::string_view bytes) {
    scrubbed_.clear();
    scrub_.Feed(bytes, scrubbed_);
    FinishScrub();
    beast::error_code ec;
    conn_->stream.expires_after(timeout_);
    if (close_delimited()) {
      ec = co_await Write();  // the close that follows ends the body
    } else {
      // Named buffers: no temporaries inside the co_await expressions (g++ 12).
      const auto last = http::make_chunk_last();
      if (scrubbed_.empty()) {
        auto [wec, n] = co_await WriteNowOrAsync(conn_->stream, last);
        ec = wec;
      } else {
        const auto chunk = http::make_chunk(net::const_buffer(scrubbed_.data(), scrubbed_.size()));
        const auto both = beast::buffers_cat(chunk, last);
        auto [wec, n] = co_await WriteNowOrAsync(conn_->stream, both);
        ec = wec;
      }
    }
    conn_->stream.expires_never();
    if (!ec) conn_->watch->delivered = true;
    co_return ec;
  }

  // End() writes what the scrubber held back and ends the body.
  Task<beast::error_code> End() {
    scrubbed_.clear();
    FinishScrub();
    beast::error_code ec = co_await Write();
    if (!ec && !close_delimited()) {
      conn_->stream.expires_after(timeout_);
      const auto last = http::make_chunk_last();
      auto [wec, n] = co_await WriteNowOrAsync(conn_->stream, last);
      ec = wec;
    }
    conn_->stream.expires_never();
    co_return ec;
  }

 private:
  bool close_delimited() const { return conn_->version < 11; }

  // FinishScrub() appends what the scrubber held back and logs the stream's redactions.
  void FinishScrub() {
    scrub_.Finish(scrubbed_);
    if (scrub_.redactions() > 0) LogRedactions(*ctx_, scrub_.redactions());
  }

  Task<beast::error_code> Write() {
    if (scrubbed_.empty()) co_return beast::error_code{};
    conn_->stream.expires_after(timeout_);
    const net::const_buffer data(scrubbed_.data(), scrubbed_.size());
    beast::error_code ec;
    // Sent at once when the socket takes it (WriteNowOrAsync(), http/wire.h): an async write
    // completing at once would cost a turn of the event loop per event.
    if (close_delimited()) {
      auto [wec, n] = co_await WriteNowOrAsync(conn_->stream, data);
      ec = wec;
    } else {
      const auto chunk = http::make_chunk(data);
      auto [wec, n] = co_await WriteNowOrAsync(conn_->stream, chunk);
      ec = wec;
    }
    co_return ec;
  }

  ClientConn* conn_;
  std::chrono::milliseconds timeout_;
  RequestContext* ctx_;
  ScrubStream scrub_;
  std::string scrubbed_;
};

}  // namespace pai::gateway
