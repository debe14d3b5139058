#include "gateway/upstream/upstream.h"

#include <simdjson.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/strings.h"
#include "gateway/http/errors.h"
#include "gateway/http/wire.h"

namespace pai::gateway {
namespace {

// MapError() words a failed exchange for the client, naming the upstream by its label
// ("ModelProvider openai"); its address (`where`, host:port) goes to the log only.
absl::Status MapError(const beast::error_code& ec, std::string_view phase, bool cancelled,
                      const std::string& label, const std::string& where) {
  if (cancelled) return absl::CancelledError("upstream call cancelled");
  log::Warn("upstream exchange failed", {{"upstream", label},
                                         {"address", where},
                                         {"phase", std::string(phase)},
                                         {"error", ec.message()}});
  if (ec == beast::error::timeout) {
    return MakeHttpError(
        504,
        pai::StrCat("The model provider did not answer in time (", phase, " timeout, ", label, ")"),
        "upstream_timeout");
  }
  return MakeHttpError(502,
                       pai::StrCat("The model provider could not be reached (", phase, ": ",
                                   ec.message(), ", ", label, ")"),
                       "upstream_error");
}

bool IsStaleConnectionError(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::ssl::error::stream_truncated;
}

bool IsIpLiteral(const std::string& host) {
  beast::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

UpstreamConnection::UpstreamConnection(Executor ex, ssl::context* tls_ctx, bool tls) : guard_(ex) {
  if (tls) {
    tls_.emplace(ex, *tls_ctx);
  } else {
    plain_.emplace(ex);
  }
}

void UpstreamConnection::SetDeadline(std::chrono::steady_clock::time_point deadline,
                                     std::chrono::steady_clock::duration min_timeout) {
  deadline_ = deadline;
  min_timeout_ = min_timeout;
  // A pending guard that fires no later than this deadline checks it then (the usual case: it
  // was armed at most min_timeout before now, for at most min_timeout). Otherwise (a deadline
  // nearer than min_timeout: the call's overall stream deadline) it is moved.
  if (guard_pending_ && guard_expiry_ <= deadline) return;
  ArmGuard(std::min(deadline, std::chrono::steady_clock::now() + min_timeout));
}

void UpstreamConnection::ArmGuard(std::chrono::steady_clock::time_point at) {
  guard_pending_ = true;
  guard_expiry_ = at;
  guard_.expires_at(at);  // a pending wait ends with operation_aborted
  guard_.async_wait([this, alive = std::weak_ptr<int>(alive_)](const beast::error_code& ec) {
    if (alive.expired() || ec == net::error::operation_aborted) return;  // touch nothing
    guard_pending_ = false;
    if (deadline_ == std::chrono::steady_clock::time_point::max()) return;  // lapses
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline_) {
      timed_out_ = true;
      beast::error_code ignored;
      tcp().socket().close(ignored);  // the operation in progress fails; never pooled
      return;
    }
    ArmGuard(std::min(deadline_, now + min_timeout_));
  });
}

UpstreamPool::UpstreamPool(Executor ex, ssl::context* tls_ctx, UpstreamTimeouts timeouts,
                           Metrics* metrics)
    : ex_(std::move(ex)), tls_ctx_(tls_ctx), timeouts_(timeouts), metrics_(metrics) {}

void UpstreamPool::Close() {
  closed_ = true;
  idle_.clear();
}

std::unique_ptr<UpstreamConnection> UpstreamPool::TakeIdle(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& q = it->second;
  const auto now = std::chrono::steady_clock::now();
  while (!q.empty()) {
    // Most recently used first: it is the least likely to have been closed by the provider.
    std::unique_ptr<UpstreamConnection> c = std::move(q.back());
    q.pop_back();
    const auto idle = now - c->idle_since;
    if (idle >= kMaxIdleAge || !c->tcp().socket().is_open()) continue;
    if (idle < kProbeAfter) return c;  // saves a syscall per call under load
    char probe;
    const ssize_t n = ::recv(c->tcp().socket().native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return c;  // idle and quiet
  }
  return nullptr;
}

void UpstreamPool::Release(std::unique_ptr<UpstreamConnection> conn) {
  // Bytes already buffered belong to no request: such a connection is out of sync.
  if (closed_ || conn->buffer().size() != 0) return;
  auto& q = idle_[conn->pool_key];
  if (q.size() >= kMaxIdlePerHost) q.pop_front();
  conn->idle_since = std::chrono::steady_clock::now();
  conn->ClearDeadline();
  conn->tcp().expires_never();
  q.push_back(std::move(conn));
}

void CancelSlot::Cancel() {
  cancelled = true;
  if (call) {
    call->Cancel();
  } else if (connecting) {
    beast::error_code ignored;
    connecting->tcp().socket().close(ignored);  // the pending connect or handshake fails
  }
}

Task<absl::StatusOr<std::unique_ptr<UpstreamConnection>>> UpstreamPool::Connect(
    const UpstreamEndpoint& endpoint, CancelSlot* slot) {
  auto conn = std::make_unique<UpstreamConnection>(ex_, tls_ctx_, endpoint.tls);
  conn->pool_key = endpoint.pool_key;
  conn->label = endpoint.label;
  // While connecting, a cancelled slot closes this socket; it is forgotten on every return.
  struct Connecting {
    CancelSlot* slot;
    ~Connecting() {
      if (slot) slot->connecting = nullptr;
    }
  } connecting{slot};
  if (slot) slot->connecting = conn.get();
  const std::string where = endpoint.pool_key;
  const auto now = std::chrono::steady_clock::now();
  Resolver::results_type results;
  if (auto it = dns_.find(endpoint.pool_key); it != dns_.end() && it->second.expires > now) {
    results = it->second.results;
  } else {
    Resolver resolver(ex_);  // local: it must not outlive the io_context
    auto [rec, fresh] = co_await resolver.async_resolve(endpoint.host, endpoint.port, kTuple);
    if (slot && slot->cancelled) co_return absl::CancelledError("upstream call cancelled");
    if (rec) co_return MapError(rec, "resolve", false, endpoint.label, where);
    results = fresh;
    dns_[endpoint.pool_key] = DnsEntry{results, now + kDnsTtl};
  }
  conn->tcp().expires_after(timeouts_.connect);
  auto [cec, ep] = co_await conn->tcp().async_connect(results, kTuple);
  const bool cancelled = slot && slot->cancelled;
  if (cec || cancelled) co_return MapError(cec, "connect", cancelled, endpoint.label, where);
  beast::error_code ignored;
  conn->tcp().socket().set_option(tcp::no_delay(true), ignored);
  conn->tcp().socket().non_blocking(true, ignored);  // for WriteNowOrAsync() (http/wire.h)
  // The wait for the response makes no EAGAIN receive (ReceiveUntil(), http/wire.h).
  if (!endpoint.tls) TrackReceiveQueue(conn->tcp().socket());
  if (endpoint.tls) {
    auto& tls = *conn->tls();
    if (!IsIpLiteral(endpoint.host) &&
        !SSL_set_tlsext_host_name(tls.native_handle(), endpoint.host.c_str())) {
      co_return MakeHttpError(502, "could not set TLS SNI", "upstream_error");
    }
    tls.set_verify_mode(ssl::verify_peer);
    tls.set_verify_callback(ssl::host_name_verification(endpoint.host));
    auto [hec] = co_await tls.async_handshake(ssl::stream_base::client, kTuple);
    const bool tls_cancelled = slot && slot->cancelled;
    if (hec || tls_cancelled) {
      co_return MapError(hec, "TLS handshake", tls_cancelled, endpoint.label, where);
    }
  }
  conn->tcp().expires_never();
  co_return conn;
}

RequestHeadBuilder::RequestHeadBuilder(std::string_view method, std::string_view target) {
  head_.reserve(512);
  head_.append(method);
  head_ += ' ';
  head_.append(target);
  head_ += " HTTP/1.1\r\n";
}

void RequestHeadBuilder::Field(std::string_view name, std::string_view value) {
  head_.append(name);
  head_ += ": ";
  head_.append(value);
  head_ += "\r\n";
}

UpstreamRequest RequestHeadBuilder::Finish(std::string body) && {
  absl::StrAppend(&head_, "Content-Length: ", body.size(), "\r\n\r\n");
  return UpstreamRequest{std::move(head_), std::move(body)};
}

UpstreamCall::UpstreamCall(UpstreamPool& pool, std::unique_ptr<UpstreamConnection> conn)
    : pool_(pool), conn_(std::move(conn)) {
  ResetParser();
}

void UpstreamCall::ResetParser() {
  parser_.emplace();
  parser_->body_limit(boost::none);  // the callers bound what they buffer
  parser_->header_limit(64 * 1024);
  parser_->set_sink(&piece_);
}

Task<beast::error_code> UpstreamCall::ReadFinalHeader() {
  UpstreamConnection& c = *conn_;
  for (;;) {
    beast::error_code ec;
    if (c.is_tls()) {
      ec = co_await ReceiveHeader(*c.tls(), c.buffer(), *parser_);
    } else {
      ec = co_await ReceiveHeader(*c.plain(), c.buffer(), *parser_);
    }
    if (ec) co_return ec;
    const int status = parser_->status();
    if (status >= 200) co_return ec;
    if (status == 101) co_return http::error::bad_status;  // no protocol switch upstream
    ResetParser();  // 100 Continue / 103 Early Hints: the final response follows
  }
}

UpstreamCall::~UpstreamCall() {
  if (conn_ && !failed_ && !cancelled_ && parser_->is_done() && parser_->keep_alive()) {
    pool_.Release(std::move(conn_));
  }
}

void UpstreamCall::Cancel() {
  cancelled_ = true;
  beast::error_code ignored;
  conn_->tcp().socket().shutdown(Socket::shutdown_both, ignored);
  conn_->tcp().socket().close(ignored);
}

Task<absl::StatusOr<std::unique_ptr<UpstreamCall>>> UpstreamCall::Start(
    UpstreamPool& pool, const UpstreamEndpoint& endpoint, UpstreamRequest req, CancelSlot* slot) {
  for (int attempt = 0;; ++attempt) {
    if (slot && slot->cancelled) co_return absl::CancelledError("upstream call cancelled");
    // The retry after a stale pooled connection always opens a new one.
    std::unique_ptr<UpstreamConnection> conn =
        attempt == 0 ? pool.TakeIdle(endpoint.pool_key) : nullptr;
    const bool reused = conn != nullptr;
    if (!conn) {
      auto fresh = co_await pool.Connect(endpoint, slot);
      if (!fresh.ok()) co_return fresh.status();
      conn = std::move(*fresh);
    }
    if (pool.metrics_) pool.metrics_->upstream_connections(reused).Increment();
    std::unique_ptr<UpstreamCall> call(new UpstreamCall(pool, std::move(conn)));
    // From here the slot cancels the call itself (pending write or header read fail at once);
    // it is cleared on every failure below, before the call is destroyed.
    if (slot) {
      if (slot->cancelled) co_return absl::CancelledError("upstream call cancelled");
      slot->call = call.get();
    }
    UpstreamConnection& c = *call->conn_;
    c.SetDeadline(std::chrono::steady_clock::now() + pool.timeouts().first_byte,
                  pool.min_call_timeout());
    if (slot) slot->sent = true;
    beast::error_code ec;
    // Head and body in one gather write.
    const std::array<net::const_buffer, 2> buffers{net::buffer(req.head), net::buffer(req.body)};
    if (c.is_tls()) {
      auto [wec, n] = co_await net::async_write(*c.tls(), buffers, kTuple);
      ec = wec;
    } else {
      size_t sent = 0;
      if (!SendNow(*c.plain(), buffers, ec, sent)) {
        auto [wec, n] = co_await WriteRest(*c.plain(), buffers, sent);
        ec = wec;
      }
    }
    if (!ec) ec = co_await call->ReadFinalHeader();
    if (ec && c.timed_out()) ec = beast::error::timeout;  // the guard closed it
    if (!ec) {
      const int status = call->status();
      if (status == 204 || status == 304) {
        // Never a valid answer from an LLM API; a body-less reply would confuse the relay.
        call->failed_ = true;
        if (slot) slot->call = nullptr;
        co_return MakeHttpError(502, pai::StrCat("The model provider answered HTTP ", status),
                                "upstream_error");
      }
      co_return call;
    }
    call->failed_ = true;
    if (slot) slot->call = nullptr;
    if (reused && IsStaleConnectionError(ec) && !call->cancelled_) continue;
    co_return MapError(ec, "request", call->cancelled_, endpoint.label, endpoint.pool_key);
  }
}

// ReadBody(): one read from the connection into the parser, whose body bytes go to its sink.
// False when the connection failed or the deadline passed (*status says why).
Task<bool> UpstreamCall::ReadBody(absl::Status* status) {
  UpstreamConnection& c = *conn_;
  // Bytes already buffered (those that came with the header) are parsed at once: Beast's
  // async_read_some would complete through a posted handler, a turn of the event loop.
  if (c.buffer().size() > 0) {
    beast::error_code ec;
    const size_t used = parser_->put(c.buffer().data(), ec);
    c.buffer().consume(used);
    if (ec && ec != http::error::need_more) {
      failed_ = true;
      *status = MapError(ec, "response", cancelled_, conn_->label, conn_->pool_key);
      co_return false;
    }
    if (used > 0) co_return true;
  }
  const auto now = std::chrono::steady_clock::now();
  if (deadline_ && now >= *deadline_) {
    failed_ = true;
    *status = MakeHttpError(504, "The model provider's response ran past its deadline",
                            "upstream_timeout");
    co_return false;
  }
  auto expiry = now + pool_.timeouts().idle;
  if (deadline_ && *deadline_ < expiry) expiry = *deadline_;
  c.SetDeadline(expiry, pool_.min_call_timeout());
  beast::error_code ec;
  if (c.is_tls()) {
    ec = co_await ReceiveSome(*c.tls(), c.buffer(), *parser_);
  } else {
    ec = co_await ReceiveSome(*c.plain(), c.buffer(), *parser_);
  }
  if (ec && c.timed_out()) ec = beast::error::timeout;  // the guard closed it
  if (ec) {
    failed_ = true;
    *status = MapError(ec, "response", cancelled_, conn_->label, conn_->pool_key);
    co_return false;
  }
  co_return true;
}

Task<absl::StatusOr<std::string_view>> UpstreamCall::ReadSome() {
  piece_.clear();
  while (!parser_->is_done()) {
    absl::Status status;
    const bool ok = co_await ReadBody(&status);
    if (!ok) co_return status;
    if (!piece_.empty()) co_return std::string_view(piece_);
  }
  conn_->ClearDeadline();
  co_return std::string_view();
}

Task<absl::StatusOr<std::string>> UpstreamCall::ReadAll(size_t limit) {
  // The parser appends the body straight into `out` (no intermediate piece to copy).
  std::string out;
  const auto too_large = [this] {
    failed_ = true;
    return MakeHttpError(502, "The model provider's response is too large", "upstream_error");
  };
  if (auto len = parser_->content_length()) {
    if (*len > limit) co_return too_large();
    out.reserve(*len + simdjson::SIMDJSON_PADDING);
  }
  piece_.clear();
  parser_->set_sink(&out);
  absl::Status status;
  while (status.ok() && !parser_->is_done()) {
    const bool ok = co_await ReadBody(&status);
    if (ok && out.size() > limit) status = too_large();
  }
  parser_->set_sink(&piece_);
  if (!status.ok()) co_return status;
  conn_->ClearDeadline();
  co_return out;
}

}  // namespace pai::gateway
