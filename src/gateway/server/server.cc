#include <openssl/crypto.h>
#include <sys/stat.h>

#include <array>
#include <boost/json.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <latch>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "budget/redis_store.h"
#include "common/json_util.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "config/default_config.h"
#include "config/manifest.h"
#include "gateway/gateway.h"
#include "gateway/http/errors.h"
#include "gateway/http/growing_body.h"
#include "gateway/http/request_head.h"
#include "gateway/http/route.h"
#include "gateway/http/wire.h"
#include "gateway/server/server_impl.h"
#include "gateway/telemetry/log_fields.h"
#include "simdjson.h"

namespace pai::gateway {
namespace {

using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
using RequestParser = http::request_parser<GrowingStringBody>;

constexpr size_t kMaxAdminConnections = 32;  // admin connections open at once
constexpr size_t kAuditQueue = 4;            // /audit queries waiting behind the running one

absl::StatusOr<tcp::endpoint> ParseListen(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        pai::StrCat("listen address \"", text, "\" is not HOST:PORT"));
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host == "*") host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  int port = 0;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(pai::StrCat("listen address \"", text, "\": bad port"));
  }
  beast::error_code ec;
  auto addr = net::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        pai::StrCat("listen address \"", text, "\": host must be an IP address"));
  }
  return tcp::endpoint(addr, static_cast<uint16_t>(port));
}

absl::StatusOr<Acceptor> OpenAcceptor(net::io_context& ioc, const tcp::endpoint& ep, bool reuse) {
  Acceptor acc(ioc);
  beast::error_code ec;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec && reuse) acc.set_option(reuse_port(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(pai::StrCat("cannot listen on ", ep.address().to_string(), ":",
                                              ep.port(), ": ", ec.message()));
  }
  return acc;
}

std::string EndpointText(const tcp::endpoint& ep) {
  if (ep.address().is_v6()) return pai::StrCat("[", ep.address().to_string(), "]:", ep.port());
  return pai::StrCat(ep.address().to_string(), ":", ep.port());
}

// Fingerprint() identifies the current version of a set of files without reading them: path,
// inode, size and modification time in nanoseconds.
std::string Fingerprint(const std::vector<std::string>& files) {
  std::string out;
  for (const std::string& f : files) {
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0) {
      pai::StrAppend(&out, f, ":missing;");
      continue;
    }
    pai::StrAppend(&out, f, ":", st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                   st.st_mtim.tv_nsec, ";");
  }
  return out;
}

int HttpStatusForParseError(const beast::error_code& ec) {
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::body_limit) return 413;
  return 400;
}

// LingeringClose() ends a connection whose request body was not read (an early error): stop
// sending, then read and discard what the client still sends for a moment, so its kernel does
// not answer our unread bytes with a reset that could destroy the error response in flight.
Task<void> LingeringClose(TcpStream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(Socket::shutdown_send, ec);
  stream.expires_after(std::chrono::seconds(1));
  std::array<char, size_t{16} * 1024> scratch;
  size_t total = 0;
  while (total < (4u << 20)) {
    auto [rec, n] = co_await stream.async_read_some(net::buffer(scratch), kTuple);
    if (rec) break;
    total += n;
  }
  stream.expires_never();
}

struct BodyRead {
  beast::error_code ec;
  bool over_budget = false;  // a chunked body outgrew what the body budget could give
};

// ReadBody() reads the request body as it arrives (GrowingStringBody allocates with the data),
// holding its bytes in `lease`: a declared length was taken before; a chunked body takes what
// arrives, and is stopped when the budget cannot give more.
Task<BodyRead> ReadBody(ClientConn* conn, RequestParser* parser, BodyBudget::Lease* lease) {
  BodyRead out;
  // What arrived with the header is parsed here, on this turn of the event loop: Beast's
  // async_read_some would parse it too, but complete through a posted handler (a turn of the
  // loop and a zero-timeout epoll_wait per request; docs/benchmarks.md).
  while (!parser->is_done() && conn->buffer.size() > 0) {
    beast::error_code ec;
    const size_t used = parser->put(conn->buffer.data(), ec);
    conn->buffer.consume(used);
    if (ec == http::error::need_more) break;
    if (ec) {
      out.ec = ec;
      co_return out;
    }
    if (!lease->GrowTo(parser->get().body().size())) {
      out.over_budget = true;
      co_return out;
    }
    if (used == 0) break;
  }
  while (!parser->is_done()) {
    auto [ec, n] = co_await http::async_read_some(conn->stream, conn->buffer, *parser, kTuple);
    if (ec) {
      out.ec = ec;
      break;
    }
    if (!lease->GrowTo(parser->get().body().size())) {
      out.over_budget = true;
      break;
    }
  }
  co_return out;
}

}  // namespace

Task<void> GatewayImpl::RefuseBodyBudget(ClientConn* conn, std::string_view target) {
  ApiError e;
  e.http_status = 503;
  e.type = "server_error";
  e.code = "server_overloaded";
  e.message = "The gateway is buffering too many request bodies right now; retry shortly.";
  metrics_.requests(Route::kOther, e.http_status).Increment();
  const bool anthropic = target.substr(0, 12) == "/v1/messages";
  JsonAnswer res(e.http_status, anthropic ? AnthropicErrorBody(e) : OpenAIErrorBody(e), false, {});
  res.Set("Retry-After", "1");
  co_await WriteResponse(conn, res, options_.body_timeout);
  log::Info("access", {{"status", e.http_status}, {"error_code", e.code}, {"route", "other"}});
  co_await LingeringClose(conn->stream);
}

void LogException(const std::exception_ptr& e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::Error("uncaught exception in a connection", {{"error", ex.what()}});
  } catch (...) {
    log::Error("uncaught exception in a connection", {{"error", "unknown"}});
  }
}

Task<beast::error_code> WriteResponse(ClientConn* conn, JsonAnswer& res,
                                      std::chrono::milliseconds timeout) {
  conn->response_started = true;
  // HEAD: the headers (Content-Length included) only.
  const std::array<net::const_buffer, 2> buffers = AnswerBuffers(res, conn->head);
  beast::error_code ec;
  size_t sent = 0;
  // The usual case: the socket takes the whole answer at once (no timer, no async write).
  if (SendNow(conn->stream, buffers, ec, sent)) co_return ec;
  conn->stream.expires_after(timeout);
  auto [wec, n] = co_await WriteRest(conn->stream, buffers, sent);
  conn->stream.expires_never();
  co_return wec;
}

GatewayImpl::GatewayImpl(const GatewayOptions& options) : options_(options) {}

absl::Status GatewayImpl::LoadConfig() {
  const auto env = config::ProcessEnvironment();
  std::vector<config::Source> sources;
  if (options_.config_paths.empty()) {
    sources.push_back({"(embedded default)", config::DefaultManifest(env)});
  } else {
    auto read = config::ReadSources(options_.config_paths);
    if (!read.ok()) return read.status();
    sources = std::move(*read);
  }
  std::string all;
  for (const auto& s : sources) pai::StrAppend(&all, s.name, "\n", s.text, "\n");
  const std::string hash = Sha256Hex(all);
  if (!config_content_hash_.empty() && hash == config_content_hash_) {
    return absl::OkStatus();  // touched but unchanged
  }
  auto cfg = config::ParseManifests(sources, env);
  if (!cfg.ok()) return cfg.status();
  for (const std::string& note : cfg->ignored) log::Debug("ignored", {{"what", note}});
  for (const std::string& w : cfg->warnings) log::Warn("config warning", {{"warning", w}});
  const size_t agents = cfg->agents.size();
  const size_t providers = cfg->providers.size();
  auto rt = RuntimeConfig::Build(std::move(*cfg), metrics_);
  if (!rt.ok()) return rt.status();
  runtime_.Set(std::move(*rt));
  config_content_hash_ = hash;
  log::Info("config reloaded", {{"agents", agents},
                                {"model_providers", providers},
                                {"generation", runtime_.Get()->generation()}});
  return absl::OkStatus();
}

void GatewayImpl::PollFiles() {
  // Configuration: reload when a file's identity changed (or on SIGHUP, which clears the
  // fingerprint). A bad new configuration is logged and the old one keeps serving.
  if (!options_.config_paths.empty()) {
    auto files = config::ExpandPaths(options_.config_paths);
    const std::string fp = files.ok() ? Fingerprint(*files) : "error";
    // Reload only once the files have stopped changing for one interval: a writer that
    // truncates and then writes (editors, `cat >`) is not caught half-way.
    const bool settled = fp == config_last_seen_;
    config_last_seen_ = fp;
    if (fp != config_fingerprint_ && settled) {
      config_fingerprint_ = fp;
      absl::Status s = LoadConfig();
      metrics_.config_reloads(s.ok()).Increment();
      if (!s.ok()) {
        log::Error("config reload rejected", {{"error", std::string(s.message())},
                                              {"action", "keeping the previous config"}});
      }
    }
  }
  (void)ReloadTokensIfChanged();
}

std::string GatewayImpl::TokensPath() const {
  return options_.tokens_file.empty() ? auth::TokenFilePath(options_.state_dir)
                                      : options_.tokens_file;
}

absl::StatusOr<auth::Identity> GatewayImpl::ProvenIdentity(ClientConn* conn,
                                                           const std::string& credential) {
  std::shared_ptr<const auth::TokenStore> store = tokens_.Get();
  // The same bytes as the credential proven on this connection against this snapshot; compared
  // in constant time all the same (a proxy in front may carry several clients' requests).
  if (store != nullptr && store == conn->proven_in && !credential.empty() &&
      credential.size() == conn->proven_credential.size() &&
      CRYPTO_memcmp(credential.data(), conn->proven_credential.data(), credential.size()) == 0) {
    return conn->proven;
  }
  absl::StatusOr<auth::Identity> who = AuthenticateBearerIdentity(credential, store.get());
  if (who.ok()) {
    conn->proven_credential = credential;
    conn->proven_in = std::move(store);
    conn->proven = *who;
  }
  return who;
}

bool GatewayImpl::ReloadTokensIfChanged() {
  std::lock_guard<std::mutex> lock(tokens_mu_);
  const std::string tfp = Fingerprint({TokensPath()});
  if (tfp == tokens_fingerprint_) return false;
  tokens_fingerprint_ = tfp;
  auto store = auth::TokenStore::LoadFile(TokensPath());
  if (!store.ok()) {
    log::Error("token file rejected", {{"error", std::string(store.status().message())}});
    return false;
  }
  const size_t n = (*store)->records().size();
  tokens_.Set(std::move(*store));
  log::Info("tokens reloaded", {{"tokens", n}});
  return true;
}

// StartHeartbeat(): see Shard::heartbeat. Each beat also ends the header reads past their
// deadline (ClientConn::header_deadline): a cancelled read ends its connection. A read that
// completed meanwhile has no pending operation to cancel: its request goes on. Stops with the
// shard's io_context.
static void StartHeartbeat(Shard* shard) {
  shard->heartbeat.expires_after(std::chrono::seconds(1));
  shard->heartbeat.async_wait([shard](const beast::error_code& ec) {
    if (ec) return;
    const auto now = std::chrono::steady_clock::now();
    for (ClientConn* c : shard->conns) {
      if (c->header_deadline <= now) {
        c->header_deadline = std::chrono::steady_clock::time_point::max();
        beast::error_code ignored;
        c->stream.socket().cancel(ignored);
      }
    }
    StartHeartbeat(shard);
  });
}

void GatewayImpl::BeginDrain() {
  if (draining_.load()) return;
  // Close every acceptor before announcing the drain, so that a client that connects after
  // the "draining" line is refused instead of being accepted and then reset.
  std::latch closed(static_cast<std::ptrdiff_t>(shards_.size()));
  for (auto& shard : shards_) {
    net::post(shard->ioc, [s = shard.get(), &closed] {
      beast::error_code ignored;
      if (s->acceptor) s->acceptor->close(ignored);
      for (ClientConn* c : s->conns) {
        c->keep_alive = false;
        if (c->idle) c->stream.socket().shutdown(Socket::shutdown_both, ignored);
      }
      closed.count_down();
    });
  }
  closed.wait();
  draining_.store(true);
  log::Info("draining",
            {{"grace_ms", options_.drain_timeout.count()}, {"in_flight", active_requests_.load()}});
}

Task<void> GatewayImpl::AcceptLoop(Shard* shard, bool admin) {
  Acceptor& acc = admin ? *shard->admin_acceptor : *shard->acceptor;
  for (;;) {
    auto [ec, socket] = co_await acc.async_accept(kTuple);
    if (ec) {
      if (ec == net::error::operation_aborted || !acc.is_open()) co_return;
      log::Warn("accept failed", {{"error", ec.message()}});
      // EMFILE and friends: keep serving existing connections, retry without spinning.
      SteadyTimer backoff(shard->ioc, std::chrono::milliseconds(100));
      co_await backoff.async_wait(kTuple);
      continue;
    }
    beast::error_code ignored;
    if (admin ? !AdmitAdmin() : !AdmitClient(shard)) {
      socket.close(ignored);  // at the cap with nothing idle to evict
      resource_metrics_.refused->Increment();
      continue;
    }
    socket.set_option(tcp::no_delay(true), ignored);
    // Counted from here (not when the connection's coroutine first runs), so a burst of
    // accepts cannot pass the cap.
    if (admin) {
      ++admin_conns_;
    } else {
      ++shard->live_conns;
      resource_metrics_.connections->Increment();
    }
    if (admin) {
      net::co_spawn(shard->ioc, ServeAdmin(std::move(socket)), LogException);
    } else {
      net::co_spawn(shard->ioc, ServeAgent(shard, std::move(socket)), LogException);
    }
  }
}

namespace {

// OldestIdle(): the first connection of `conns` (in accept order) that waits for a request and
// was not evicted yet, or null.
template <class Conn>
Conn* OldestIdle(const std::list<Conn*>& conns) {
  for (Conn* c : conns) {
    if (c->idle && !c->evicted) return c;
  }
  return nullptr;
}

}  // namespace

bool GatewayImpl::AdmitClient(Shard* shard) {
  if (shard->live_conns < shard_conn_cap_) return true;
  // The oldest idle connection makes room for the new one: an idle-socket flood cannot keep
  // agents out or take the descriptors provider sockets need.
  ClientConn* c = OldestIdle(shard->conns);
  if (!c) return false;
  c->evicted = true;
  c->keep_alive = false;
  --shard->live_conns;
  resource_metrics_.connections->Decrement();
  resource_metrics_.evicted->Increment();
  beast::error_code ignored;
  c->stream.socket().close(ignored);  // frees the descriptor now; its read ends aborted
  return true;
}

bool GatewayImpl::AdmitAdmin() {
  if (admin_conns_ < kMaxAdminConnections) return true;
  AdminConn* c = OldestIdle(admin_list_);
  if (!c) return false;
  c->evicted = true;
  --admin_conns_;
  resource_metrics_.evicted->Increment();
  beast::error_code ignored;
  c->stream->socket().close(ignored);
  return true;
}

Task<void> GatewayImpl::ServeAgent(Shard* shard, Socket socket) {
  ClientConn conn(std::move(socket));
  conn.shard = shard;
  beast::error_code nb_ec;
  conn.stream.socket().non_blocking(true, nb_ec);  // for WriteNowOrAsync() (http/wire.h)
  TrackReceiveQueue(conn.stream.socket());         // a keep-alive wait makes no EAGAIN receive
  // Registered for drain and eviction while this frame lives, however it ends.
  struct Registration {
    Shard* shard;
    ClientConn* conn;
    ResourceMetrics* metrics;
    std::list<ClientConn*>::iterator it;
    ~Registration() {
      shard->conns.erase(it);
      if (!conn->idle) --shard->busy_conns;
      if (!conn->evicted) {
        --shard->live_conns;
        metrics->connections->Decrement();
      }
    }
  } registration{shard, &conn, &resource_metrics_,
                 shard->conns.insert(shard->conns.end(), &conn)};  // counted by AcceptLoop
  bool first = true;
  while (conn.keep_alive && !draining_.load(std::memory_order_relaxed)) {
    RequestParser parser;
    BodyBudget::Lease body_lease = body_budget_.NewLease();
    std::string preauth_credential;
    std::string preauth_agent;
    std::string preauth_session;
    parser.header_limit(static_cast<uint32_t>(options_.max_header_bytes));
    parser.body_limit(options_.max_body_bytes);
    if (!conn.idle) --shard->busy_conns;
    conn.idle = true;
    conn.response_started = false;
    // The header and idle timeouts: the heartbeat cancels the read once past its deadline (a
    // stream timer per read would cost a turn of the event loop per request to cancel).
    conn.stream.expires_never();  // no stream timer on this read
    conn.header_deadline = std::chrono::steady_clock::now() +
                           (first ? options_.header_timeout : options_.idle_timeout);
    first = false;
    beast::error_code ec = co_await ReceiveHeader(conn.stream, conn.buffer, parser);
    conn.header_deadline = std::chrono::steady_clock::time_point::max();
    conn.idle = false;
    ++shard->busy_conns;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::eof || ec == net::error::not_connected ||
        ec == net::error::bad_descriptor) {
      break;
    }
    // Head checks the parser does not make (Host, Transfer-Encoding codings, one credential)
    // and the absolute-form target (request_head.h).
    absl::Status head_status;
    if (!ec) {
      std::string origin_target;
      head_status = CheckRequestHead(
          RequestHead::Of(parser.get().base(), parser.get().version(), parser.get().target()),
          &origin_target);
      if (head_status.ok() && !origin_target.empty()) parser.get().target(origin_target);
      if (auto len = parser.content_length(); len && *len > options_.max_body_bytes) {
        ec = http::error::body_limit;  // reject an oversized declared body before reading it
      }
    }
    if (!ec && head_status.ok()) {
      // Authenticate on the headers alone: an unknown caller gets no 100 Continue and no
      // body buffer.
      // Anthropic's SDKs send the key as x-api-key on the Messages routes.
      const bool anthropic_path = IsAnthropicPath(parser.get().target());
      std::string credential =
          AgentCredential(parser.get().target(), parser.get()[http::field::authorization],
                          parser.get()["x-api-key"]);
      absl::StatusOr<auth::Identity> who = ProvenIdentity(&conn, credential);
      // A token minted a moment ago (pai admin gateway-token create, a Session starting) may
      // be in the file before the next poll: an unknown token looks at the file once.
      if (!who.ok() && !credential.empty() && ReloadTokensIfChanged()) {
        who = ProvenIdentity(&conn, credential);
      }
      if (!who.ok() && anthropic_path && credential.empty()) {
        who = MakeError(absl::StatusCode::kUnauthenticated,
                        "You didn't provide an API key. Send your agent token as 'x-api-key: "
                        "<token>' or 'Authorization: Bearer <token>'.",
                        "invalid_api_key");
      }
      if (who.ok()) {
        preauth_credential = std::move(credential);
        preauth_agent = std::move(who->agent);
        preauth_session = std::move(who->session);
      }
      if (!who.ok()) {
        const ApiError e = ToApiError(who.status());
        metrics_.requests(Route::kOther, e.http_status).Increment();
        conn.head = parser.get().method() == http::verb::head;
        JsonAnswer res(e.http_status, anthropic_path ? AnthropicErrorBody(e) : OpenAIErrorBody(e),
                       false, {});
        co_await WriteResponse(&conn, res, options_.body_timeout);
        log::Info("access", {{"status", e.http_status},
                             {"error_code", e.code},
                             {"route", "other"},
                             {"path", LogPath(parser.get().target())},
                             {"method", std::string_view(parser.get().method_string())}});
        co_await LingeringClose(conn.stream);
        break;
      }
    }
    if (!ec && head_status.ok() && !body_lease.GrowTo(parser.content_length().value_or(0))) {
      co_await RefuseBodyBudget(&conn, parser.get().target());
      break;
    }
    if (!ec && head_status.ok()) {
      auto& hdr = parser.get();
      if (beast::iequals(hdr[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        conn.stream.expires_after(options_.body_timeout);
        auto [wec, wn] = co_await http::async_write(conn.stream, cont, kTuple);
        if (wec) break;
      }
      conn.stream.expires_after(options_.body_timeout);
      const BodyRead read = co_await ReadBody(&conn, &parser, &body_lease);
      ec = read.ec;
      if (read.over_budget) {
        co_await RefuseBodyBudget(&conn, parser.get().target());
        break;
      }
      if (ec == beast::error::timeout || ec == http::error::end_of_stream ||
          ec == net::error::connection_reset) {
        break;
      }
    }
    conn.stream.expires_never();
    if (ec || !head_status.ok()) {
      // Malformed request: answer once in OpenAI's error shape and close the connection (the
      // byte stream cannot be trusted any more).
      const int status =
          head_status.ok() ? HttpStatusForParseError(ec) : ToApiError(head_status).http_status;
      ApiError e;
      e.http_status = status;
      e.type = "invalid_request_error";
      e.code = status == 413   ? "request_too_large"
               : status == 431 ? "request_header_fields_too_large"
                               : "invalid_http_request";
      e.message = status == 413   ? pai::StrCat("Request body exceeds the limit of ",
                                                options_.max_body_bytes, " bytes")
                  : status == 431 ? pai::StrCat("Request headers exceed the limit of ",
                                                options_.max_header_bytes, " bytes")
                                  : pai::StrCat("Malformed HTTP request: ", ec.message());
      if (!head_status.ok()) e = ToApiError(head_status);
      metrics_.requests(Route::kOther, status).Increment();
      // On the Anthropic routes, in Anthropic's error shape (a body too large is common there).
      const bool anthropic_target =
          parser.is_header_done() && parser.get().target().substr(0, 12) == "/v1/messages";
      JsonAnswer res(status, anthropic_target ? AnthropicErrorBody(e) : OpenAIErrorBody(e), false,
                     {});
      co_await WriteResponse(&conn, res, options_.body_timeout);
      log::Info("access", {{"status", status}, {"error_code", e.code}, {"route", "other"}});
      co_await LingeringClose(conn.stream);
      break;
    }
    auto parsed = parser.release();
    http::request<http::string_body> req(std::move(parsed.base()), std::move(parsed.body()));
    conn.credential = std::move(preauth_credential);
    conn.preauthenticated_agent = std::move(preauth_agent);
    conn.preauthenticated_session = std::move(preauth_session);
    conn.head = req.method() == http::verb::head;
    conn.version = req.version();
    conn.keep_alive =
        conn.keep_alive && req.keep_alive() && !draining_.load(std::memory_order_relaxed);
    co_await HandleAgentRequest(shard, &conn, &req);
    body_lease.Release();
  }
  beast::error_code ignored;
  conn.stream.socket().shutdown(Socket::shutdown_send, ignored);
}

Task<void> GatewayImpl::ServeAdmin(Socket socket) {
  TcpStream stream(std::move(socket));
  beast::flat_buffer buffer;
  AdminConn self{&stream};
  struct Registration {  // counted by AcceptLoop; evictable while registered
    GatewayImpl* gw;
    AdminConn* conn;
    std::list<AdminConn*>::iterator it;
    ~Registration() {
      gw->admin_list_.erase(it);
      if (!conn->evicted) --gw->admin_conns_;
    }
  } registration{this, &self, admin_list_.insert(admin_list_.end(), &self)};
  for (;;) {
    http::request<http::string_body> req;
    stream.expires_after(options_.idle_timeout);
    self.idle = true;
    auto [ec, n] = co_await http::async_read(stream, buffer, req, kTuple);
    self.idle = false;
    if (ec || self.evicted) break;
    const std::string_view target = req.target();
    const std::string_view path = target.substr(0, target.find('?'));
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::server, "pai-gateway");
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    if (admin_auth_.NeedsToken(path) && !admin_auth_.Allows(req[http::field::authorization])) {
      const ApiError e = ToApiError(
          MakeError(absl::StatusCode::kUnauthenticated,
                    pai::StrCat(path,
                                " needs the admin token: send 'Authorization: Bearer <token>' "
                                "(the token in --admin-token-file)"),
                    "invalid_api_key"));
      res.result(static_cast<http::status>(e.http_status));
      res.set(http::field::content_type, "application/json");
      res.set(http::field::www_authenticate, "Bearer");
      res.body() = OpenAIErrorBody(e);
    } else if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res.result(http::status::method_not_allowed);
      res.set(http::field::allow, "GET, HEAD");
      res.body() = "method not allowed\n";
    } else if (path == "/healthz") {
      res.body() = "ok\n";
    } else if (path == "/readyz") {
      const bool budget_up = budget_->Available();
      const bool ready = runtime_.Get() != nullptr && !draining_.load() &&
                         (!chain_ || chain_->healthy()) && budget_up;
      res.result(ready ? http::status::ok : http::status::service_unavailable);
      res.body() = ready              ? "ready\n"
                   : draining_.load() ? "draining\n"
                   : !budget_up       ? "not ready: the budget store (Redis) is unreachable\n"
                                      : "not ready: the audit chain is stopped\n";
    } else if (path == "/metrics") {
      metrics_.budget_store_up().Set(budget_->Available() ? 1 : 0);
      RefreshBudgetGauges();
      metrics_.in_flight().Set(static_cast<double>(active_requests_.load()));
      if (chain_) {
        metrics_.audit_records().Set(static_cast<double>(chain_->durable_seq()));
        metrics_.audit_healthy().Set(chain_->healthy() ? 1 : 0);
        metrics_.audit_synced().Set(static_cast<double>(chain_->synced_seq()));
      }
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = metrics_.Serialize() + resource_metrics_.Serialize();
    } else if (path == "/audit" || path == "/audit/verify") {
      co_await ServeAudit(req, res);
    } else if (path == "/usage") {
      res.set(http::field::content_type, "application/json");
      res.body() = UsageJson();
    } else {
      res.result(http::status::not_found);
      res.body() = "not found\n";
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    if (req.method() == http::verb::head) res.body().clear();  // headers only
    stream.expires_after(options_.body_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, kTuple);
    if (wec || !res.keep_alive()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(Socket::shutdown_send, ignored);
}

namespace {

// RunBlocking() runs `fn` (file I/O: reading or verifying the chain) on `worker` and resumes
// the calling coroutine with the result, so the shard's event loop never blocks; nullopt at
// once when the worker's queue is full.
Task<std::optional<std::string>> RunBlocking(BlockingWorker& worker,
                                             std::function<std::string()> fn) {
  auto ex = co_await net::this_coro::executor;
  struct State {
    explicit State(const Executor& e) : timer(e, std::chrono::steady_clock::time_point::max()) {}
    SteadyTimer timer;
    std::string result;
  };
  auto st = std::make_shared<State>(ex);
  std::function<void()> job = [st, ex, fn = std::move(fn)] {
    std::string r = fn();
    net::post(ex, [st, r = std::move(r)]() mutable {
      st->result = std::move(r);
      st->timer.cancel();
    });
  };
  if (!worker.TryPost(std::move(job))) co_return std::nullopt;
  co_await st->timer.async_wait(kTuple);  // the posted cancel runs only once we wait
  co_return std::optional<std::string>(std::move(st->result));
}

void Overloaded(http::response<http::string_body>& res) {
  ApiError e;
  e.http_status = 503;
  e.type = "server_error";
  e.code = "server_overloaded";
  e.message = "Too many audit queries at once; retry shortly.";
  res.result(http::status::service_unavailable);
  res.set(http::field::retry_after, "1");
  res.body() = OpenAIErrorBody(e);
}

std::string Param(std::string_view query, std::string_view name) {
  for (absl::string_view apart : absl::StrSplit(AV(query), '&')) {
    const std::string_view part = SV(apart);
    const size_t eq = part.find('=');
    if (part.substr(0, eq) == name) {
      std::string out;
      const std::string_view raw = eq == std::string_view::npos ? "" : part.substr(eq + 1);
      for (size_t i = 0; i < raw.size(); ++i) {  // percent-decoding
        if (raw[i] == '%' && i + 2 < raw.size()) {
          int v = 0;
          if (absl::SimpleHexAtoi(AV(raw.substr(i + 1, 2)), &v)) {
            out.push_back(static_cast<char>(v));
            i += 2;
            continue;
          }
        }
        out.push_back(raw[i] == '+' ? ' ' : raw[i]);
      }
      return out;
    }
  }
  return "";
}

}  // namespace

// RefreshBudgetGauges(): the store's standing as gauges, when /metrics is scraped:
// pai_gateway_budget_reservations_outstanding, and pai_gateway_budget_remaining of every agent
// with a daily budget (also right after 00:00 UTC, with no call since).
void GatewayImpl::RefreshBudgetGauges() {
  metrics_.reservations_outstanding().Set(static_cast<double>(budget_->OutstandingReservations()));
  const std::shared_ptr<const RuntimeConfig> rt = runtime_.Get();
  if (!rt) return;
  for (const auto& [key, spec] : rt->config().agents) {
    const AgentRuntime* a = rt->FindAgent(key);
    if (!a || (!a->metrics.tokens_remaining && !a->metrics.usd_remaining)) continue;
    const budget::Remaining rem = budget_->RemainingFor(a->key, a->limits);
    if (a->metrics.tokens_remaining) {
      a->metrics.tokens_remaining->Set(static_cast<double>(rem.tokens_remaining));
    }
    if (a->metrics.usd_remaining) {
      a->metrics.usd_remaining->Set(static_cast<double>(rem.nano_usd_remaining) / 1e9);
    }
  }
}

// UsageJson(): GET /usage on the admin listener (docs/metrics.md, "Usage"): per configured
// agent, today's charged spend from the budget store and, per model, the calls, tokens and
// cost counted since the process started; per Session ("sessions"), the totals of its calls
// since the process started. pai-server reads it for `pai get agents` and
// `pai get metrics`.
std::string GatewayImpl::UsageJson() {
  const std::shared_ptr<const RuntimeConfig> rt = runtime_.Get();
  boost::json::object out;
  out["day"] = absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
  boost::json::array agents;
  if (rt) {
    for (const auto& [key, spec] : rt->config().agents) {
      const AgentRuntime* a = rt->FindAgent(key);
      if (!a) continue;
      const auto [tokens, nano_usd] = budget_->Spent(budget::AgentScope(key));
      boost::json::object o;
      o["namespace"] = spec.ns;
      o["agent"] = spec.name;
      o["tokensToday"] = tokens;
      o["costTodayUSD"] = static_cast<double>(nano_usd) / 1e9;
      boost::json::array models;
      for (const ModelRoute& m : a->models) {
        boost::json::object mo;
        mo["model"] = m.ref;
        mo["calls"] = static_cast<int64_t>(m.metrics.calls->Value());
        mo["inputTokens"] = static_cast<int64_t>(m.metrics.input_tokens->Value());
        mo["outputTokens"] = static_cast<int64_t>(m.metrics.output_tokens->Value());
        mo["costUSD"] = m.metrics.cost_usd->Value();
        models.push_back(std::move(mo));
      }
      o["models"] = std::move(models);
      agents.push_back(std::move(o));
    }
  }
  out["agents"] = std::move(agents);
  // Per Session ("namespace/session"), since the process started (in memory; a restart resets
  // them). All Sessions of an Agent share its budgets: these are attribution, not limits.
  boost::json::object sessions;
  for (const auto& [key, t] : session_totals_.Snapshot()) {
    boost::json::object so;
    so["tokens"] = t.tokens;
    so["calls"] = t.calls;
    so["costUSD"] = static_cast<double>(t.nano_usd) / 1e9;
    so["inputTokens"] = t.input_tokens;
    so["outputTokens"] = t.output_tokens;
    sessions[key] = std::move(so);
  }
  out["sessions"] = std::move(sessions);
  return boost::json::serialize(out);
}

Task<void> GatewayImpl::ServeAudit(const http::request<http::string_body>& req,
                                   http::response<http::string_body>& res) {
  res.set(http::field::content_type, "application/json");
  if (!chain_) {
    res.result(http::status::not_found);
    res.body() = R"J({"error":{"message":"the audit chain is disabled (--no-audit)"}})J";
    co_return;
  }
  const std::string_view target = req.target();
  const size_t qpos = target.find('?');
  const std::string_view path = target.substr(0, qpos);
  const std::string_view query = qpos == std::string_view::npos ? "" : target.substr(qpos + 1);
  std::vector<audit::Key> keys;
  {
    auto own = audit::LoadKeyFile(options_.audit_key_files.empty() ? chain_->dir() + "/key"
                                                                   : options_.audit_key_files[0]);
    if (own.ok()) keys.push_back(*own);
    for (size_t i = 1; i < options_.audit_key_files.size(); ++i) {
      auto k = audit::LoadKeyFile(options_.audit_key_files[i]);
      if (k.ok()) keys.push_back(*k);
    }
  }
  const std::string dir = chain_->dir();
  if (path == "/audit/verify") {
    // A named std::function: g++ 12 mishandles a temporary lambda inside a co_await
    // expression (heap corruption seen under valgrind).
    std::function<std::string()> job = [dir, keys] {
      return audit::VerifyResultJson(audit::Verify(dir, keys));
    };
    std::optional<std::string> out = co_await RunBlocking(*audit_worker_, std::move(job));
    if (!out) {
      resource_metrics_.admin_refusals->Increment();
      Overloaded(res);
      co_return;
    }
    res.body() = std::move(*out);
    co_return;
  }
  audit::Query q;
  q.agent = Param(query, "agent");
  if (const std::string t = Param(query, "type"); !t.empty()) {
    for (absl::string_view part : absl::StrSplit(AV(t), ',')) {
      if (!part.empty()) q.types.emplace_back(SV(part));
    }
  }
  if (const std::string l = Param(query, "limit"); !l.empty()) {
    size_t limit = 0;
    if (!absl::SimpleAtoi(AV(l), &limit) || limit == 0 || limit > 100000) {
      res.result(http::status::bad_request);
      res.body() = R"J({"error":{"message":"limit must be an integer in 1..100000"}})J";
      co_return;
    }
    q.limit = limit;
  }
  if (const std::string since = Param(query, "since"); !since.empty()) {
    absl::Duration d;
    absl::Time t;
    std::string err;
    if (absl::ParseDuration(since, &d)) {
      q.since = absl::Now() - d;
    } else if (absl::ParseTime(absl::RFC3339_full, since, &t, &err)) {
      q.since = t;
    } else {
      res.result(http::status::bad_request);
      res.body() =
          R"J({"error":{"message":"since must be a duration (1h, 24h) or an RFC 3339 time"}})J";
      co_return;
    }
  }
  const std::string format = Param(query, "format");
  if (!format.empty() && format != "json" && format != "jsonl") {
    res.result(http::status::bad_request);
    res.body() = R"J({"error":{"message":"format must be json or jsonl"}})J";
    co_return;
  }
  const bool jsonl = format == "jsonl";
  if (jsonl) res.set(http::field::content_type, "application/x-ndjson");
  std::function<std::string()> job = [dir, q, jsonl] {
    auto records = audit::ReadRecords(dir, q);
    if (!records.ok()) return std::string("[]");
    std::string out;
    if (jsonl) {
      for (const auto& r : *records) out += boost::json::serialize(r) + "\n";
      return out;
    }
    boost::json::array arr;
    for (auto& r : *records) arr.push_back(r);
    return boost::json::serialize(arr);
  };
  std::optional<std::string> out = co_await RunBlocking(*audit_worker_, std::move(job));
  if (!out) {
    resource_metrics_.admin_refusals->Increment();
    res.set(http::field::content_type, "application/json");
    Overloaded(res);
    co_return;
  }
  res.body() = std::move(*out);
}

int GatewayImpl::Run(const std::function<void(const Listening&)>& on_listening) {
  // Configuration and tokens first: a gateway that cannot load them refuses to start.
  if (!options_.config_paths.empty()) {
    auto files = config::ExpandPaths(options_.config_paths);
    if (files.ok()) config_fingerprint_ = Fingerprint(*files);
  }
  if (absl::Status s = LoadConfig(); !s.ok()) {
    log::Error("invalid configuration", {{"error", std::string(s.message())}});
    return 2;
  }
  std::error_code mkdir_ec;
  std::filesystem::create_directories(options_.state_dir, mkdir_ec);
  if (mkdir_ec) {
    log::Error("cannot create state directory",
               {{"state_dir", options_.state_dir}, {"error", mkdir_ec.message()}});
    return 2;
  }
  {
    auto store = auth::TokenStore::LoadFile(TokensPath());
    if (!store.ok()) {
      log::Error("invalid token file", {{"error", std::string(store.status().message())}});
      return 2;
    }
    tokens_fingerprint_ = Fingerprint({TokensPath()});
    tokens_.Set(std::move(*store));
  }
  {
    absl::StatusOr<std::unique_ptr<budget::BudgetStore>> store;
    if (options_.redis_url.empty()) {
      budget::LocalStoreOptions bopts;
      bopts.state_dir = options_.state_dir;
      store = budget::OpenLocalBudgetStore(bopts);
    } else {
      budget::RedisStoreOptions ropts;
      ropts.url = options_.redis_url;
      ropts.password = options_.redis_password;
      ropts.replica_id = options_.redis_replica_id;
      ropts.timeout = absl::FromChrono(options_.redis_timeout);
      ropts.lease = absl::FromChrono(options_.redis_lease);
      ropts.heartbeat = ropts.lease / 4;
      store = budget::OpenRedisBudgetStore(ropts);
    }
    if (!store.ok()) {
      log::Error("cannot open the budget store",
                 {{"error", std::string(store.status().message())}});
      return 2;
    }
    budget_ = std::move(*store);
  }
  if (options_.audit) {
    audit::ChainOptions copts;
    copts.dir = options_.state_dir + "/audit";
    copts.sync = options_.audit_sync_strict ? audit::Sync::kStrict : audit::Sync::kGroup;
    copts.sync_interval = absl::FromChrono(options_.audit_sync_interval);
    auto key = options_.audit_key_files.empty() ? audit::LoadOrCreateKey(copts.dir)
                                                : audit::LoadKeyFile(options_.audit_key_files[0]);
    if (!key.ok()) {
      log::Error("cannot load the audit key", {{"error", std::string(key.status().message())}});
      return 2;
    }
    copts.key = std::move(*key);
    auto chain = audit::Chain::Open(std::move(copts));
    if (!chain.ok()) {
      log::Error("cannot open the audit chain", {{"error", std::string(chain.status().message())}});
      return 2;
    }
    chain_ = std::move(*chain);
    tee_events_ = std::make_unique<audit::TeeEventSink>(*chain_, log_events_);
    events_ = tee_events_.get();
  }
  admission_ =
      std::make_unique<Admission>(*budget_, *events_, metrics_, options_.count_margin_percent);
  guards_ = std::make_unique<Guards>(*events_);
  PipelineSinks sinks;
  sinks.chain = chain_.get();
  sinks.call_records = chain_ ? events_ : nullptr;
  sinks.sessions = &session_totals_;
  sinks.access_log = options_.access_log;
  pipeline_ = BuildPipeline(tokens_, *admission_, *guards_, metrics_, sinks);

  // Provider TLS: system CAs, plus --ca-file when given; peer verification always on.
  tls_ctx_.set_default_verify_paths();
  tls_ctx_.set_verify_mode(ssl::verify_peer);
  if (!options_.ca_file.empty()) {
    beast::error_code ec;
    tls_ctx_.load_verify_file(options_.ca_file, ec);
    if (ec) {
      log::Error("cannot load --ca-file", {{"path", options_.ca_file}, {"error", ec.message()}});
      return 2;
    }
  }

  auto listen_ep = ParseListen(options_.listen);
  auto admin_ep = ParseListen(options_.admin_listen);
  if (!listen_ep.ok() || !admin_ep.ok()) {
    log::Error(
        "invalid listen address",
        {{"error", std::string((!listen_ep.ok() ? listen_ep : admin_ep).status().message())}});
    return 2;
  }
  {
    auto auth = AdminAuth::FromOptions(options_);
    if (!auth.ok()) {
      log::Error("admin listener refused", {{"error", std::string(auth.status().message())}});
      return 2;
    }
    admin_auth_ = std::move(*auth);
  }
  audit_worker_ = std::make_unique<BlockingWorker>(kAuditQueue);
  int threads = options_.threads > 0 ? options_.threads
                                     : static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  const ConnectionLimits limits =
      ComputeConnectionLimits(RaiseDescriptorLimit(), options_.max_connections);
  if (limits.clamped) {
    log::Warn("--max-connections lowered to fit the descriptor limit",
              {{"max_connections", limits.max_connections}, {"descriptors", limits.descriptors}});
  }
  shard_conn_cap_ =
      (limits.max_connections + static_cast<size_t>(threads) - 1) / static_cast<size_t>(threads);
  resource_metrics_.connections_max->Set(
      static_cast<double>(shard_conn_cap_ * static_cast<size_t>(threads)));
  const UpstreamTimeouts timeouts{options_.upstream_connect_timeout,
                                  options_.upstream_first_byte_timeout,
                                  options_.upstream_idle_timeout};
  for (int i = 0; i < threads; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->pool =
        std::make_unique<UpstreamPool>(shard->ioc.get_executor(), &tls_ctx_, timeouts, &metrics_);
    shard->classifier =
        std::make_unique<ShardClassifierClient>(shard->ioc.get_executor(), &tls_ctx_);
    shard->counter = std::make_unique<ShardInputCounter>(shard->ioc.get_executor(), &tls_ctx_);
    // Every shard listens on the same port (SO_REUSEPORT): the kernel spreads connections.
    auto acc = OpenAcceptor(shard->ioc, *listen_ep, true);
    if (!acc.ok()) {
      log::Error("cannot listen", {{"error", std::string(acc.status().message())}});
      return 2;
    }
    shard->acceptor.emplace(std::move(*acc));
    if (i == 0) {
      listen_ep->port(shard->acceptor->local_endpoint().port());  // resolve port 0 once
      auto admin = OpenAcceptor(shard->ioc, *admin_ep, false);
      if (!admin.ok()) {
        log::Error("cannot listen", {{"error", std::string(admin.status().message())}});
        return 2;
      }
      shard->admin_acceptor.emplace(std::move(*admin));
    }
    shards_.push_back(std::move(shard));
  }
  for (auto& shard : shards_) {
    StartHeartbeat(shard.get());
    net::co_spawn(shard->ioc, AcceptLoop(shard.get(), false), LogException);
    if (shard->admin_acceptor) {
      net::co_spawn(shard->ioc, AcceptLoop(shard.get(), true), LogException);
    }
  }

  // Signals and file polling run on the main thread.
  net::io_context control;
  net::signal_set signals(control, SIGTERM, SIGINT, SIGHUP);
  ::signal(SIGPIPE, SIG_IGN);
  std::function<void()> wait_signal;
  SteadyTimer drain_timer(control);
  std::chrono::steady_clock::time_point drain_deadline;
  std::function<void()> check_drained = [&] {
    const bool idle = active_requests_.load() == 0;
    if (idle || std::chrono::steady_clock::now() >= drain_deadline) {
      if (!idle) {
        log::Warn("drain grace period over", {{"in_flight", active_requests_.load()}});
      }
      for (auto& shard : shards_) shard->ioc.stop();
      control.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(20));
    drain_timer.async_wait([&](beast::error_code) { check_drained(); });
  };
  wait_signal = [&] {
    signals.async_wait([&](beast::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        log::Info("reload requested", {{"signal", "SIGHUP"}});
        config_fingerprint_.clear();
        config_content_hash_.clear();
        PollFiles();
        wait_signal();
        return;
      }
      if (!draining_.load()) {
        drain_deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
        BeginDrain();
        check_drained();
      }
      wait_signal();
    });
  };
  wait_signal();
  SteadyTimer watch_timer(control);
  std::function<void()> watch = [&] {
    watch_timer.expires_after(options_.watch_interval);
    watch_timer.async_wait([&](beast::error_code ec) {
      if (ec || draining_.load()) return;
      PollFiles();
      watch();
    });
  };
  watch();

  for (auto& shard : shards_) {
    Shard* s = shard.get();
    s->thread = std::thread([s] {
      for (;;) {
        try {
          s->ioc.run();
          return;
        } catch (const std::exception& e) {
          // Nothing is expected to throw on the data plane; keep the shard alive if it does.
          log::Error("uncaught exception on shard", {{"error", e.what()}});
        }
      }
    });
  }
  const Listening listening{EndpointText(shards_[0]->acceptor->local_endpoint()),
                            EndpointText(shards_[0]->admin_acceptor->local_endpoint())};
  log::Info("listening", {{"listen", listening.listen},
                          {"admin_listen", listening.admin_listen},
                          {"threads", threads},
                          {"max_connections", shard_conn_cap_ * static_cast<size_t>(threads)},
                          {"admin_token", admin_auth_.has_token()},
                          {"state_dir", options_.state_dir}});
  if (on_listening) on_listening(listening);
  control.run();
  for (auto& shard : shards_) {
    if (shard->thread.joinable()) shard->thread.join();
  }
  for (auto& shard : shards_) {
    shard->pool->Close();
    shard->classifier->Close();
    shard->counter->Close();
  }
  audit_worker_->Stop();
  if (chain_) chain_->Close();  // queued records, then a final signed checkpoint
  log::Info("stopped", {{"in_flight", active_requests_.load()}});
  return 0;
}

int RunGateway(const GatewayOptions& options,
               const std::function<void(const Listening&)>& on_listening) {
  GatewayImpl gateway(options);
  return gateway.Run(on_listening);
}

}  // namespace pai::gateway
