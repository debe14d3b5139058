// Upstream HTTP/1.1 client: a keep-alive connection pool per shard, HTTP and HTTPS.
//
// TLS: OpenSSL via Asio; SNI is set (SSL_set_tlsext_host_name) and the certificate chain and
// host name are verified (ssl::host_name_verification) against the system CAs or --ca-file.
// Timeouts: connect (DNS + TCP + TLS), first byte (request sent → response header read),
// idle (between two body reads). A timed-out or cancelled connection is closed, never pooled.
//
// Thread safety: an UpstreamPool and its calls belong to one shard (one io_context thread).
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "gateway/config/runtime.h"
#include "gateway/http/beast.h"
#include "gateway/upstream/response_parser.h"

namespace pai::gateway {

struct UpstreamTimeouts {
  std::chrono::milliseconds connect{10'000};
  std::chrono::milliseconds first_byte{300'000};
  std::chrono::milliseconds idle{120'000};
};

// UpstreamConnection: one TCP (optionally TLS) connection to a provider.
class UpstreamConnection {
 public:
  UpstreamConnection(Executor ex, ssl::context* tls_ctx, bool tls);

  TcpStream& tcp() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }
  bool is_tls() const { return tls_.has_value(); }
  std::optional<TcpStream>& plain() { return plain_; }
  std::optional<beast::ssl_stream<TcpStream>>& tls() { return tls_; }
  beast::flat_buffer& buffer() { return buffer_; }

  // SetDeadline(): the deadline of the call's operations from now on (its first byte, then
  // each body read); once it passes, the guard timer closes the connection (timed_out() turns
  // true; the operation in progress fails). Unlike a stream timeout, which arms a timer per
  // operation and cancels it when the operation completes (a turn of the event loop each), the
  // guard's wait stays pending across operations and calls: it is armed no later than
  // `min_timeout` from when it is armed, the shortest timeout any later deadline is set with,
  // so a later deadline never needs it moved; when it fires before the deadline it is armed
  // again. ClearDeadline(): no deadline (the guard then lapses when it fires).
  // Shard thread only.
  void SetDeadline(std::chrono::steady_clock::time_point deadline,
                   std::chrono::steady_clock::duration min_timeout);
  void ClearDeadline() { deadline_ = std::chrono::steady_clock::time_point::max(); }
  bool timed_out() const { return timed_out_; }

  std::string pool_key;
  std::string label;  // UpstreamEndpoint::label, for error messages
  std::chrono::steady_clock::time_point idle_since;

 private:
  void ArmGuard(std::chrono::steady_clock::time_point at);

  std::optional<TcpStream> plain_;
  std::optional<beast::ssl_stream<TcpStream>> tls_;
  beast::flat_buffer buffer_;
  SteadyTimer guard_;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  std::chrono::steady_clock::duration min_timeout_{};
  std::chrono::steady_clock::time_point guard_expiry_;
  bool guard_pending_ = false;
  bool timed_out_ = false;
  // The guard's handler may be queued when the connection is destroyed: it checks this first.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

class UpstreamPool;
class UpstreamCall;

// CancelSlot: lets another party (the client-disconnect watch) cancel a provider call at any
// step, before its response header included. Owned by the caller, on the call's shard thread.
struct CancelSlot {
  UpstreamConnection* connecting = nullptr;  // set by Start() while it connects
  UpstreamCall* call = nullptr;              // set by Start() once the call exists
  bool cancelled = false;
  // sent: Start() began writing the request to a provider — from then on the provider may bill
  // the call, whatever happens to it (the budget charges such a call, never zero).
  bool sent = false;
  // Cancel() closes what is in progress; Start() answers Cancelled at its next step.
  void Cancel();
};

// UpstreamRequest: an HTTP/1.1 request (RFC 9112) to a provider or a classifier, serialised:
// `head` is its request line and header block, through the empty line that ends it (with a
// Content-Length for `body`); `body` follows. Built by RequestHeadBuilder.
struct UpstreamRequest {
  std::string head;
  std::string body;
};

// RequestHeadBuilder: writes a request's head field by field, in the order given — no header
// container, no per-field allocation. Names and values come from the configuration, the
// adapters and client headers the HTTP parser already checked (no CR or LF in them).
// Not thread-safe (one per request).
class RequestHeadBuilder {
 public:
  RequestHeadBuilder(std::string_view method, std::string_view target);
  void Field(std::string_view name, std::string_view value);
  // Finish(): the request, with `Content-Length: body.size()` last.
  UpstreamRequest Finish(std::string body) &&;

 private:
  std::string head_;
};

// UpstreamCall: one request/response exchange on a pooled connection.
class UpstreamCall {
 public:
  // Start() sends `req` to `endpoint` and reads the response header. A pooled connection that
  // fails before any response byte (the provider closed it while idle) is replaced by a new one
  // once. Errors: Unavailable (connect/TLS/protocol; HTTP 502) or DeadlineExceeded (connect or
  // first-byte timeout; 504); Cancelled when Cancel() was called or `slot` was cancelled.
  // `slot` (optional) names the call while it runs: on success slot->call is the returned call.
  static Task<absl::StatusOr<std::unique_ptr<UpstreamCall>>> Start(UpstreamPool& pool,
                                                                   const UpstreamEndpoint& endpoint,
                                                                   UpstreamRequest req,
                                                                   CancelSlot* slot = nullptr);

  ~UpstreamCall();
  UpstreamCall(const UpstreamCall&) = delete;
  UpstreamCall& operator=(const UpstreamCall&) = delete;

  int status() const { return parser_->status(); }
  // The response's Content-Type and Retry-After ("" when absent).
  std::string_view content_type() const { return parser_->content_type(); }
  const std::string& retry_after() const { return parser_->retry_after(); }

  // ReadSome() returns the next decoded body bytes; an empty view means the body is complete.
  // The view is valid until the next call. Errors as Start() (idle timeout → DeadlineExceeded;
  // also when the deadline set by set_deadline() passes).
  Task<absl::StatusOr<std::string_view>> ReadSome();

  // ReadAll() reads the rest of the body, up to `limit` bytes (HTTP 502 past it). The
  // string's capacity leaves room for SIMDJSON_PADDING.
  Task<absl::StatusOr<std::string>> ReadAll(size_t limit);

  // set_deadline(): body reads end with DeadlineExceeded (504) at `at` (a stream's duration
  // bound) even while the provider keeps sending.
  void set_deadline(std::chrono::steady_clock::time_point at) { deadline_ = at; }

  // Cancel() closes the connection: pending reads complete with an error and the connection is
  // not returned to the pool. Used when the client goes away.
  void Cancel();

 private:
  UpstreamCall(UpstreamPool& pool, std::unique_ptr<UpstreamConnection> conn);
  void ResetParser();
  // ReadFinalHeader() reads response headers, skipping interim 1xx responses (100 Continue,
  // 103 Early Hints): Beast treats a 1xx as a complete message.
  Task<beast::error_code> ReadFinalHeader();
  // ReadBody(): one read into the parser (its body bytes go to its sink); false on a failure,
  // said in *status.
  Task<bool> ReadBody(absl::Status* status);

  UpstreamPool& pool_;
  std::unique_ptr<UpstreamConnection> conn_;
  std::optional<ProviderResponseParser> parser_;
  std::string piece_;  // ReadSome()'s bytes (the parser appends to it)
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  bool cancelled_ = false;
  bool failed_ = false;
};

class UpstreamPool {
 public:
  UpstreamPool(Executor ex, ssl::context* tls_ctx, UpstreamTimeouts timeouts, Metrics* metrics);

  const UpstreamTimeouts& timeouts() const { return timeouts_; }
  // The shortest timeout a call's deadlines are set with (UpstreamConnection::SetDeadline()).
  std::chrono::steady_clock::duration min_call_timeout() const {
    return std::min<std::chrono::steady_clock::duration>(timeouts_.first_byte, timeouts_.idle);
  }

  // Close() drops idle connections and makes Release() discard from now on (shutdown).
  void Close();

 private:
  friend class UpstreamCall;
  static constexpr size_t kMaxIdlePerHost = 256;
  static constexpr std::chrono::seconds kMaxIdleAge{30};
  // A connection idle for less than this is taken without the probe: a provider closes an idle
  // connection (or sends a 408 before closing) after seconds, not within one; if it did, the
  // call's write or header read fails and Start() retries once on a new connection.
  static constexpr std::chrono::seconds kProbeAfter{1};

  // TakeIdle() returns the most recently used idle connection that is still open and, when it
  // was idle for kProbeAfter or more, quiet (a MSG_PEEK probe: no EOF and no unsolicited bytes,
  // e.g. a 408 the provider sent before closing).
  std::unique_ptr<UpstreamConnection> TakeIdle(const std::string& key);
  Task<absl::StatusOr<std::unique_ptr<UpstreamConnection>>> Connect(
      const UpstreamEndpoint& endpoint, CancelSlot* slot);
  void Release(std::unique_ptr<UpstreamConnection> conn);

  Executor ex_;
  ssl::context* tls_ctx_;
  UpstreamTimeouts timeouts_;
  Metrics* metrics_;
  // Resolved addresses per host:port, reused for kDnsTtl (Asio's resolver cannot be cancelled
  // or bounded by a timeout, so fewer lookups is the mitigation).
  struct DnsEntry {
    Resolver::results_type results;
    std::chrono::steady_clock::time_point expires;
  };
  static constexpr std::chrono::seconds kDnsTtl{60};
  absl::flat_hash_map<std::string, DnsEntry> dns_;
  absl::flat_hash_map<std::string, std::deque<std::unique_ptr<UpstreamConnection>>> idle_;
  bool closed_ = false;
};

}  // namespace pai::gateway
