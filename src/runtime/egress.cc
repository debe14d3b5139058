// The egress edge (egress.h): listeners, connections and their timeouts, the gateway forwarder
// and the HTTP forward proxy. The runtime's only Asio/Beast translation unit; the decisions are
// in egress_policy.cc.
//
// Concurrency: each connection (Link) lives on its own strand, each sandbox's two acceptors on
// another; the service's maps are guarded by a mutex. Closing from outside is posted to the
// strand that owns the sockets.
#include "runtime/egress.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/json_util.h"
#include "common/log.h"
#include "common/strings.h"
#include "runtime/egress_policy.h"

namespace pai::runtime {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using local_stream = net::local::stream_protocol;
using Clock = std::chrono::steady_clock;
using Strand = net::strand<net::io_context::executor_type>;
using namespace net::experimental::awaitable_operators;  // NOLINT: operator&& on awaitables
constexpr auto kTuple = net::as_tuple(net::use_awaitable);

constexpr size_t kRelayChunk = 16384;
constexpr size_t kMaxResponseHeader = 65536;
constexpr auto kReplyWriteTimeout = std::chrono::seconds(5);
constexpr auto kDrainTimeout = std::chrono::seconds(1);
constexpr auto kStopDrainTimeout = std::chrono::seconds(2);

class Service;
class Link;

// One sandbox: its listeners (on `strand`) and its open connections.
struct SandboxState {
  SandboxState(net::io_context& ioc, std::string k, std::string d, AllowList a, PublicAccess p)
      : key(std::move(k)),
        dir(std::move(d)),
        allow(std::move(a)),
        public_access(p),
        strand(net::make_strand(ioc)),
        gateway_acceptor(strand),
        egress_acceptor(strand) {}

  std::string GatewayPath() const { return dir + "/gateway.sock"; }
  std::string EgressPath() const { return dir + "/egress.sock"; }

  const std::string key;
  const std::string dir;
  const AllowList allow;
  const PublicAccess public_access;
  Strand strand;
  local_stream::acceptor gateway_acceptor;
  local_stream::acceptor egress_acceptor;

  std::mutex mu;
  bool removed = false;                                  // guarded by mu
  std::unordered_map<Link*, std::weak_ptr<Link>> links;  // guarded by mu
};

// One accepted connection: the sandbox side, the destination side, and a watchdog timer that
// enforces the current deadline (header, connect, idle). Touched only on `strand`.
class Link : public std::enable_shared_from_this<Link> {
 public:
  Link(Service& service, std::shared_ptr<SandboxState> sandbox, Strand strand);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Close(): closes both sockets and stops the watchdog; pending operations end. Idempotent.
  void Close();
  // SetDeadline(): the watchdog acts at `at` (earlier or later than before).
  void SetDeadline(Clock::time_point at);
  // Touch(): bytes moved: the idle deadline starts again.
  void Touch();

  Service& service;
  const std::shared_ptr<SandboxState> sandbox;
  Strand strand;
  local_stream::socket client;
  tcp::socket upstream;
  tcp::resolver resolver;
  net::steady_timer timer;
  Clock::time_point deadline = Clock::now();
  std::chrono::milliseconds idle{0};
  bool closed = false;
  bool connecting = false;  // the watchdog only cancels the destination side: we answer 504
  bool timed_out = false;
};

// Watch(): the per-link watchdog.
net::awaitable<void> Watch(std::shared_ptr<Link> link) {
  while (!link->closed) {
    link->timer.expires_at(link->deadline);
    co_await link->timer.async_wait(kTuple);
    if (link->closed) co_return;
    if (Clock::now() < link->deadline) continue;
    link->timed_out = true;
    if (!link->connecting) {
      link->Close();
      co_return;
    }
    beast::error_code ignored;
    link->resolver.cancel();
    link->upstream.close(ignored);
    link->connecting = false;
    link->deadline = Clock::now() + kReplyWriteTimeout;  // for the 504
  }
}

void LogException(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::Error("egress: uncaught exception", {{"error", ex.what()}});
  }
}

class Service final : public EgressService {
 public:
  explicit Service(EgressOptions options)
      : options_(std::move(options)),
        gateway_address_(options_.gateway_address),
        work_(net::make_work_guard(ioc_)) {}
  ~Service() override { Stop(); }

  void Run() {
    for (int i = 0; i < options_.threads; ++i) {
      threads_.emplace_back([this] {
        for (;;) {
          try {
            ioc_.run();
            return;
          } catch (const std::exception& e) {
            log::Error("egress: uncaught exception", {{"error", e.what()}});
          }
        }
      });
    }
  }

  absl::Status AddSandbox(const std::string& key, const std::string& dir,
                          EgressPolicy policy) override;
  void RemoveSandbox(const std::string& key) override;
  void SetGatewayAddress(const std::string& host_port) override {
    std::lock_guard<std::mutex> lock(mu_);
    gateway_address_ = host_port;
  }
  void Stop() override;

  const EgressOptions& options() const { return options_; }
  std::string gateway_address() {
    std::lock_guard<std::mutex> lock(mu_);
    return gateway_address_;
  }
  net::io_context& ioc() { return ioc_; }

  void Emit(const EgressRecord& record) {
    if (!options_.on_record) return;
    try {
      options_.on_record(record);
    } catch (const std::exception& e) {
      log::Error("egress: on_record threw", {{"error", e.what()}});
    }
  }
  void LinkOpened() {
    std::lock_guard<std::mutex> lock(mu_);
    ++live_links_;
  }
  void LinkClosed() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--live_links_ == 0) links_cv_.notify_all();
  }

 private:
  // Shutdown(): closes `sb`'s listeners and links on their strands; `done` counts them down.
  void Shutdown(const std::shared_ptr<SandboxState>& sb, std::shared_ptr<std::promise<void>> done);

  const EgressOptions options_;
  // Declared before ioc_: links still owned by pending handlers when ioc_ is destroyed report
  // here.
  std::mutex mu_;
  std::condition_variable links_cv_;
  int live_links_ = 0;           // guarded by mu_
  bool stopped_ = false;         // guarded by mu_
  std::string gateway_address_;  // guarded by mu_
  net::io_context ioc_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::unordered_map<std::string, std::shared_ptr<SandboxState>> sandboxes_;  // guarded by mu_
  std::vector<std::thread> threads_;
  std::once_flag stop_once_;
};

Link::Link(Service& svc, std::shared_ptr<SandboxState> sb, Strand s)
    : service(svc),
      sandbox(std::move(sb)),
      strand(s),
      client(s),
      upstream(s),
      resolver(s),
      timer(s),
      idle(svc.options().idle_timeout_ms) {
  service.LinkOpened();
}

Link::~Link() {
  {
    std::lock_guard<std::mutex> lock(sandbox->mu);
    sandbox->links.erase(this);
  }
  service.LinkClosed();
}

void Link::Close() {
  if (closed) return;
  closed = true;
  beast::error_code ignored;
  client.close(ignored);
  upstream.close(ignored);
  resolver.cancel();
  timer.cancel();
}

void Link::SetDeadline(Clock::time_point at) {
  const bool earlier = at < deadline;
  deadline = at;
  if (earlier) timer.cancel();  // the watchdog re-arms
}

void Link::Touch() { SetDeadline(Clock::now() + idle); }

// ---------------------------------------------------------------------------------------------
// Tunnels (gateway.sock, CONNECT)

// Pump(): copies `from` → `to` until EOF (then half-closes `to`: the other direction goes on) or
// an error (then closes the link). `counter` adds the bytes written.
template <typename From, typename To>
net::awaitable<void> Pump(std::shared_ptr<Link> link, From& from, To& to, uint64_t* counter) {
  std::array<char, kRelayChunk> buf;
  for (;;) {
    auto [ec, n] = co_await from.async_read_some(net::buffer(buf), kTuple);
    if (n > 0) {
      link->Touch();
      auto [wec, wn] = co_await net::async_write(to, net::buffer(buf.data(), n), kTuple);
      *counter += wn;
      if (wec) {
        link->Close();
        co_return;
      }
      link->Touch();
    }
    if (ec == net::error::eof) {
      beast::error_code ignored;
      to.shutdown(net::socket_base::shutdown_send, ignored);
      co_return;
    }
    if (ec) {
      link->Close();
      co_return;
    }
  }
}

// Tunnel(): both directions until both ended (half-close aware), then closes the link.
net::awaitable<void> Tunnel(std::shared_ptr<Link> link, uint64_t* up, uint64_t* down) {
  link->Touch();
  co_await (Pump(link, link->client, link->upstream, up) &&
            Pump(link, link->upstream, link->client, down));
  link->Close();
}

// SplitHostPort(): "host:port" / "[v6]:port" → host (no brackets), port text.
bool SplitHostPort(const std::string& s, std::string* host, std::string* port) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size()) return false;
  *host = s.substr(0, colon);
  *port = s.substr(colon + 1);
  if (host->size() > 1 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return !host->empty();
}

// ForwardGateway(): one gateway.sock connection: connect to the gateway, then tunnel.
net::awaitable<void> ForwardGateway(std::shared_ptr<Link> link) {
  const EgressOptions& opt = link->service.options();
  link->connecting = true;
  link->SetDeadline(Clock::now() + std::chrono::milliseconds(opt.connect_timeout_ms));
  net::co_spawn(link->strand, Watch(link), LogException);
  const std::string address = link->service.gateway_address();
  std::string host, port;
  if (!SplitHostPort(address, &host, &port)) {
    log::Warn("egress: no usable gateway address", {{"address", address}});
    link->Close();
    co_return;
  }
  auto [rec, results] =
      co_await link->resolver.async_resolve(host, port, tcp::resolver::numeric_service, kTuple);
  beast::error_code ec = net::error::host_not_found;
  if (rec) ec = rec;
  for (const auto& entry : results) {
    if (link->closed || link->timed_out) break;
    beast::error_code ignored;
    link->upstream.close(ignored);
    std::tie(ec) = co_await link->upstream.async_connect(entry.endpoint(), kTuple);
    if (!ec) break;
  }
  link->connecting = false;
  if (ec || link->closed) {
    if (!link->closed) {
      log::Warn("egress: cannot reach the gateway",
                {{"address", address}, {"error", link->timed_out ? "timeout" : ec.message()}});
    }
    link->Close();
    co_return;
  }
  uint64_t up = 0, down = 0;
  co_await Tunnel(link, &up, &down);
}

// ---------------------------------------------------------------------------------------------
// The HTTP forward proxy (egress.sock)

enum class RelayResult { kOk, kReadFailed, kWriteFailed };
enum class Body { kRelay, kNone };  // kNone: a response to HEAD (or 204/304): the head only

// Relay(): sends the message `p` is parsing (its head read already, maybe rewritten) to `out`:
// the head, then the body piece by piece as it arrives, in the same framing (Beast's buffer_body
// relay).
template <bool isRequest, typename In, typename Out>
net::awaitable<RelayResult> Relay(Link& link, In& in, beast::flat_buffer& in_buf,
                                  http::parser<isRequest, http::buffer_body>& p, Out& out,
                                  uint64_t* counter, Body body) {
  http::serializer<isRequest, http::buffer_body> sr{p.get()};
  auto [hec, hn] = co_await http::async_write_header(out, sr, kTuple);
  *counter += hn;
  if (hec) co_return RelayResult::kWriteFailed;
  if (body == Body::kNone) co_return RelayResult::kOk;
  std::array<char, kRelayChunk> buf;
  for (;;) {
    size_t got = 0;
    if (!p.is_done()) {
      p.get().body().data = buf.data();
      p.get().body().size = buf.size();
      auto [rec, rn] = co_await http::async_read(in, in_buf, p, kTuple);
      if (rec == http::error::need_buffer) rec = {};
      if (rec) co_return RelayResult::kReadFailed;
      got = buf.size() - p.get().body().size;
      link.Touch();
      // Never hand the serializer an empty non-null buffer (it would end a chunked body).
      if (got == 0 && !p.is_done()) continue;
    }
    p.get().body().data = got > 0 ? buf.data() : nullptr;
    p.get().body().size = got;
    p.get().body().more = !p.is_done();
    auto [wec, wn] = co_await http::async_write(out, sr, kTuple);
    if (wec == http::error::need_buffer) wec = {};
    *counter += wn;
    if (wec) co_return RelayResult::kWriteFailed;
    link.Touch();
    if (p.is_done() || sr.is_done()) break;
  }
  co_return RelayResult::kOk;
}

// RemoveHopByHop(): the fields that belong to one connection (RFC 9110 §7.6.1), including those
// named by Connection.
template <typename Fields>
void RemoveHopByHop(Fields& fields) {
  std::vector<std::string> named;
  const auto range = fields.equal_range(http::field::connection);
  for (auto it = range.first; it != range.second; ++it) {
    for (absl::string_view token : absl::StrSplit(AV(it->value()), ',')) {
      token = absl::StripAsciiWhitespace(token);
      if (!token.empty()) named.emplace_back(token);
    }
  }
  for (const std::string& name : named) fields.erase(name);
  for (http::field f : {http::field::connection, http::field::proxy_connection,
                        http::field::keep_alive, http::field::proxy_authorization,
                        http::field::proxy_authenticate, http::field::te, http::field::upgrade}) {
    fields.erase(f);
  }
}

void AddVia(http::fields& fields) {
  const std::string via(fields[http::field::via]);
  fields.set(http::field::via, via.empty() ? "1.1 pai-egress" : via + ", 1.1 pai-egress");
}

std::optional<IpAddress> ToIpAddress(const net::ip::address& a) {
  if (a.is_v4()) return IpAddress::FromBytes(a.to_v4().to_bytes());
  return IpAddress::FromBytes(a.to_v6().to_bytes());
}

// ProxySession: one egress.sock connection, one request. Runs on the link's strand.
class ProxySession {
 public:
  explicit ProxySession(std::shared_ptr<Link> link)
      : link_(std::move(link)),
        opt_(link_->service.options()),
        client_buf_(opt_.max_header_bytes + 65536) {
    record_.sandbox = link_->sandbox->key;
    parser_.header_limit(static_cast<std::uint32_t>(opt_.max_header_bytes));
    parser_.body_limit(boost::none);
  }

  net::awaitable<void> Run() {
    link_->SetDeadline(Clock::now() + std::chrono::milliseconds(opt_.header_timeout_ms));
    net::co_spawn(link_->strand, Watch(link_), LogException);
    const bool answered = co_await Serve();
    if (answered) Emit();
    link_->Close();
  }

 private:
  // Serve(): true when the request was answered (a record is due).
  net::awaitable<bool> Serve() {
    auto [ec, n] = co_await http::async_read_header(link_->client, client_buf_, parser_, kTuple);
    record_.time = FormatRfc3339Millis(absl::Now());
    if (ec) {
      const bool answered = co_await HeadFailed(ec);
      co_return answered;
    }
    auto& req = parser_.get();
    record_.method = std::string(req.method_string());
    const bool is_connect = req.method() == http::verb::connect;
    const std::string_view raw_target = req.target();
    auto target = is_connect ? ParseAuthorityTarget(raw_target) : ParseAbsoluteTarget(raw_target);
    if (!target.ok()) {
      co_await Refuse(http::status::bad_request, std::string(target.status().message()));
      co_return true;
    }
    record_.host = target->host;
    record_.port = target->port;
    record_.path = target->path;
    const bool connected = co_await Connect(*target);
    if (!connected) co_return true;
    if (is_connect) {
      co_await EstablishTunnel();
    } else {
      co_await ForwardHttp(*target);
    }
    co_return true;
  }

  // HeadFailed(): the request head could not be read: answer when it was a protocol error.
  net::awaitable<bool> HeadFailed(beast::error_code ec) {
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      co_await Refuse(http::status::request_header_fields_too_large,
                      StrCat("request head larger than ", opt_.max_header_bytes, " bytes"));
      co_return true;
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message && !link_->closed) {
      co_await Refuse(http::status::bad_request, StrCat("malformed request: ", ec.message()));
      co_return true;
    }
    co_return false;  // closed, reset or timed out before a request arrived
  }

  // Connect(): resolve, check every address, connect to one of them; answers the client itself
  // (and returns false) on failure.
  net::awaitable<bool> Connect(const ProxyTarget& target) {
    link_->connecting = true;
    link_->SetDeadline(Clock::now() + std::chrono::milliseconds(opt_.connect_timeout_ms));
    auto [rec, results] = co_await link_->resolver.async_resolve(
        target.host, std::to_string(target.port), tcp::resolver::numeric_service, kTuple);
    if (rec || results.empty()) {
      link_->connecting = false;
      if (link_->timed_out) {
        co_await Refuse(http::status::gateway_timeout,
                        StrCat("resolving ", target.host, " timed out"));
      } else {
        // g++ 12 miscompiles a ?: of temporaries inside a co_await expression (double free):
        // build the text first.
        std::string why = "no address";
        if (rec) why = rec.message();
        co_await Refuse(http::status::bad_gateway,
                        StrCat("cannot resolve ", target.host, ": ", why));
      }
      co_return false;
    }
    std::vector<IpAddress> addresses;
    std::vector<tcp::endpoint> endpoints;
    for (const auto& entry : results) {
      if (auto ip = ToIpAddress(entry.endpoint().address())) {
        addresses.push_back(*ip);
        endpoints.push_back(entry.endpoint());
      }
    }
    const EgressDecision decision =
        Decide(link_->sandbox->allow, link_->sandbox->public_access, target.host, addresses);
    if (!decision.allowed) {
      link_->connecting = false;
      co_await Refuse(http::status::forbidden, decision.reason);
      co_return false;
    }
    record_.allowed = true;
    beast::error_code ec = net::error::host_not_found;
    for (const tcp::endpoint& ep : endpoints) {
      if (link_->closed || link_->timed_out) break;
      beast::error_code ignored;
      link_->upstream.close(ignored);
      std::tie(ec) = co_await link_->upstream.async_connect(ep, kTuple);
      if (!ec) {
        record_.address = ep.address().to_string();
        break;
      }
    }
    const bool timed_out = link_->timed_out;
    link_->connecting = false;
    if (!ec && !timed_out && !link_->closed) co_return true;
    const std::string where = StrCat(target.host, ":", target.port);
    if (timed_out) {
      co_await Refuse(http::status::gateway_timeout, StrCat("connecting to ", where, " timed out"));
    } else {
      co_await Refuse(http::status::bad_gateway,
                      StrCat("cannot connect to ", where, ": ", ec.message()));
    }
    co_return false;
  }

  net::awaitable<void> EstablishTunnel() {
    static constexpr std::string_view kEstablished = "HTTP/1.1 200 Connection Established\r\n\r\n";
    link_->Touch();
    auto [ec, n] = co_await net::async_write(link_->client, net::buffer(kEstablished), kTuple);
    record_.status = 200;
    if (ec) co_return;
    // Bytes the client sent right after the head (e.g. a TLS ClientHello) go first.
    if (client_buf_.size() > 0) {
      auto [uec, un] = co_await net::async_write(link_->upstream, client_buf_.data(), kTuple);
      record_.bytes_up += un;
      if (uec) co_return;
      client_buf_.consume(un);
    }
    co_await Tunnel(link_, &record_.bytes_up, &record_.bytes_down);
  }

  net::awaitable<void> ForwardHttp(const ProxyTarget& target) {
    auto& req = parser_.get();
    const bool expect_continue =
        absl::EqualsIgnoreCase(AV(std::string_view(req[http::field::expect])), "100-continue");
    RemoveHopByHop(req);
    req.erase(http::field::expect);
    req.target(target.path);
    const bool v6 = target.host.find(':') != std::string::npos;
    const std::string host = v6 ? StrCat("[", target.host, "]") : target.host;
    req.set(http::field::host, target.port == 80 ? host : StrCat(host, ":", target.port));
    req.set(http::field::connection, "close");
    AddVia(req);
    link_->Touch();
    if (expect_continue && !parser_.is_done()) {
      // RFC 9110 §10.1.1: the proxy answers the expectation itself (the origin never sees it).
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      auto [ec, n] = co_await net::async_write(link_->client, net::buffer(kContinue), kTuple);
      if (ec) co_return;
    }
    const RelayResult sent = co_await Relay(*link_, link_->client, client_buf_, parser_,
                                            link_->upstream, &record_.bytes_up, Body::kRelay);
    if (sent != RelayResult::kOk) {
      if (sent == RelayResult::kWriteFailed) {
        co_await Refuse(http::status::bad_gateway, "sending the request to the origin failed");
      } else {
        record_.reason = "the client closed before sending the whole request";
      }
      co_return;
    }
    co_await RelayResponse();
  }

  net::awaitable<void> RelayResponse() {
    const bool head_request = parser_.get().method() == http::verb::head;
    beast::flat_buffer up_buf(kMaxResponseHeader + 65536);
    std::optional<http::response_parser<http::buffer_body>> rp;
    for (;;) {
      rp.emplace();
      rp->header_limit(kMaxResponseHeader);
      rp->body_limit(boost::none);
      if (head_request) rp->skip(true);
      auto [ec, n] = co_await http::async_read_header(link_->upstream, up_buf, *rp, kTuple);
      if (ec) {
        const bool timeout = link_->timed_out;
        http::status status = http::status::gateway_timeout;
        std::string why = "the origin did not answer in time";
        if (!timeout) {
          status = http::status::bad_gateway;
          why = StrCat("bad response from the origin: ", ec.message());
        }
        co_await Refuse(status, std::move(why));
        co_return;
      }
      link_->Touch();
      const unsigned status = rp->get().result_int();
      if (status == 101) {
        co_await Refuse(http::status::bad_gateway, "the origin switched protocols");
        co_return;
      }
      if (status >= 200) break;
      // An interim response (103 Early Hints, ...): pass it on, then read the next head.
      http::response<http::empty_body> interim{rp->get().result(), rp->get().version()};
      for (const auto& f : rp->get()) interim.insert(f.name_string(), f.value());
      RemoveHopByHop(interim);
      auto [wec, wn] = co_await http::async_write(link_->client, interim, kTuple);
      record_.bytes_down += wn;
      if (wec) co_return;
    }
    auto& res = rp->get();
    record_.status = static_cast<int>(res.result_int());
    RemoveHopByHop(res);
    res.set(http::field::connection, "close");
    AddVia(res);
    Body body = Body::kRelay;
    if (head_request || res.result_int() == 204 || res.result_int() == 304) body = Body::kNone;
    const RelayResult got = co_await Relay(*link_, link_->upstream, up_buf, *rp, link_->client,
                                           &record_.bytes_down, body);
    if (got == RelayResult::kReadFailed) record_.reason = "the origin's response was cut short";
    if (got == RelayResult::kWriteFailed) record_.reason = "the client went away";
  }

  // Emit(): delivers the record (once).
  void Emit() {
    if (emitted_) return;
    emitted_ = true;
    link_->service.Emit(record_);
  }

  // Refuse(): answers `status` with "pai egress: <reason>" and records it.
  net::awaitable<void> Refuse(http::status status, std::string reason) {
    record_.status = static_cast<int>(status);
    record_.reason = reason;
    if (link_->closed) co_return;
    http::response<http::string_body> res{status, 11};
    res.set(http::field::server, "pai-egress");
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.keep_alive(false);
    res.body() = StrCat("pai egress: ", reason, "\n");
    res.prepare_payload();
    link_->SetDeadline(Clock::now() + kReplyWriteTimeout);
    auto [ec, n] = co_await http::async_write(link_->client, res, kTuple);
    if (ec) co_return;
    beast::error_code ignored;
    link_->client.shutdown(net::socket_base::shutdown_send, ignored);
    // Read what the client still sends (a request body) so that closing does not turn our
    // answer into a reset on its side.
    Emit();
    link_->SetDeadline(Clock::now() + kDrainTimeout);
    std::array<char, 4096> sink;
    for (size_t total = 0; total < (1u << 20);) {
      auto [rec, rn] = co_await link_->client.async_read_some(net::buffer(sink), kTuple);
      if (rec) break;
      total += rn;
    }
  }

  std::shared_ptr<Link> link_;
  const EgressOptions& opt_;
  beast::flat_buffer client_buf_;
  http::request_parser<http::buffer_body> parser_;
  EgressRecord record_;
  bool emitted_ = false;
};

net::awaitable<void> ServeProxy(std::shared_ptr<Link> link) {
  ProxySession session(std::move(link));
  co_await session.Run();
}

// ---------------------------------------------------------------------------------------------
// Listeners

enum class Kind { kGateway, kEgress };

net::awaitable<void> AcceptLoop(Service* service, std::shared_ptr<SandboxState> sb, Kind kind) {
  local_stream::acceptor& acceptor =
      kind == Kind::kGateway ? sb->gateway_acceptor : sb->egress_acceptor;
  for (;;) {
    auto link = std::make_shared<Link>(*service, sb, net::make_strand(service->ioc()));
    auto [ec] = co_await acceptor.async_accept(link->client, kTuple);
    if (ec) {
      if (!acceptor.is_open() || ec == net::error::operation_aborted) co_return;
      // Out of descriptors and the like: back off instead of spinning.
      net::steady_timer backoff(sb->strand, std::chrono::milliseconds(100));
      co_await backoff.async_wait(kTuple);
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(sb->mu);
      if (sb->removed) co_return;
      sb->links[link.get()] = link;
    }
    if (kind == Kind::kGateway) {
      net::co_spawn(link->strand, ForwardGateway(link), LogException);
    } else {
      net::co_spawn(link->strand, ServeProxy(link), LogException);
    }
  }
}

// Listen(): binds `acceptor` to `path` (replacing a stale socket file), mode 0666.
absl::Status Listen(local_stream::acceptor& acceptor, const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(StrCat("socket path too long: ", path));
  }
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::AlreadyExistsError(StrCat(path, " exists and is not a socket"));
    }
    unlink(path.c_str());
  }
  beast::error_code ec;
  acceptor.open(local_stream(), ec);
  if (!ec) acceptor.bind(local_stream::endpoint(path), ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return absl::InternalError(StrCat("cannot listen on ", path, ": ", ec.message()));
  if (chmod(path.c_str(), 0666) != 0) {
    return absl::InternalError(StrCat("chmod ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status Service::AddSandbox(const std::string& key, const std::string& dir,
                                 EgressPolicy policy) {
  auto allow = AllowList::Parse(policy.allow);
  if (!allow.ok()) return allow.status();
  auto sb = std::make_shared<SandboxState>(
      ioc_, key, dir, *std::move(allow),
      policy.deny_public ? PublicAccess::kDeny : PublicAccess::kAllow);
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return absl::FailedPreconditionError("the egress service is stopped");
  if (sandboxes_.count(key) > 0) {
    return absl::AlreadyExistsError(StrCat("sandbox ", key, " already has egress sockets"));
  }
  absl::Status s = Listen(sb->gateway_acceptor, sb->GatewayPath());
  if (s.ok()) s = Listen(sb->egress_acceptor, sb->EgressPath());
  if (!s.ok()) {
    beast::error_code ignored;
    if (sb->gateway_acceptor.is_open()) unlink(sb->GatewayPath().c_str());
    if (sb->egress_acceptor.is_open()) unlink(sb->EgressPath().c_str());
    sb->gateway_acceptor.close(ignored);
    sb->egress_acceptor.close(ignored);
    return s;
  }
  sandboxes_[key] = sb;
  net::co_spawn(sb->strand, AcceptLoop(this, sb, Kind::kGateway), LogException);
  net::co_spawn(sb->strand, AcceptLoop(this, sb, Kind::kEgress), LogException);
  return absl::OkStatus();
}

void Service::Shutdown(const std::shared_ptr<SandboxState>& sb,
                       std::shared_ptr<std::promise<void>> done) {
  std::vector<std::shared_ptr<Link>> links;
  {
    std::lock_guard<std::mutex> lock(sb->mu);
    sb->removed = true;
    for (auto& [ptr, weak] : sb->links) {
      if (auto link = weak.lock()) links.push_back(std::move(link));
    }
  }
  // Shared by the posted closers: the promise is fulfilled when the last of them ran.
  auto countdown = std::shared_ptr<void>(nullptr, [done](void*) {
    if (done) done->set_value();
  });
  net::post(sb->strand, [sb, countdown] {
    beast::error_code ignored;
    sb->gateway_acceptor.close(ignored);
    sb->egress_acceptor.close(ignored);
  });
  for (auto& link : links) {
    net::post(link->strand, [link, countdown] { link->Close(); });
  }
  unlink(sb->GatewayPath().c_str());
  unlink(sb->EgressPath().c_str());
}

void Service::RemoveSandbox(const std::string& key) {
  std::shared_ptr<SandboxState> sb;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sandboxes_.find(key);
    if (it == sandboxes_.end()) return;
    sb = std::move(it->second);
    sandboxes_.erase(it);
  }
  if (ioc_.get_executor().running_in_this_thread() || ioc_.stopped()) {
    Shutdown(sb, nullptr);
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> closed = done->get_future();
  Shutdown(sb, std::move(done));
  closed.wait();
}

void Service::Stop() {
  std::call_once(stop_once_, [this] {
    std::unordered_map<std::string, std::shared_ptr<SandboxState>> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      all.swap(sandboxes_);
    }
    for (auto& [key, sb] : all) Shutdown(sb, nullptr);
    work_.reset();
    const bool on_service_thread = ioc_.get_executor().running_in_this_thread();
    if (!on_service_thread) {
      std::unique_lock<std::mutex> lock(mu_);
      links_cv_.wait_for(lock, kStopDrainTimeout, [this] { return live_links_ == 0; });
    }
    ioc_.stop();
    for (auto& t : threads_) {
      if (t.get_id() == std::this_thread::get_id()) {
        t.detach();
      } else if (t.joinable()) {
        t.join();
      }
    }
  });
}

}  // namespace

absl::StatusOr<std::unique_ptr<EgressService>> EgressService::Start(EgressOptions options) {
  if (options.threads < 1 || options.connect_timeout_ms <= 0 || options.header_timeout_ms <= 0 ||
      options.idle_timeout_ms <= 0 || options.max_header_bytes == 0) {
    return absl::InvalidArgumentError(
        "egress options: threads must be >= 1, timeouts and max_header_bytes > 0");
  }
  auto service = std::make_unique<Service>(std::move(options));
  service->Run();
  return std::unique_ptr<EgressService>(std::move(service));
}

}  // namespace pai::runtime
