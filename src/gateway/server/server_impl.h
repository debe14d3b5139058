// Internals of the gateway server shared by server.cc (listeners, connections, admin,
// lifecycle) and proxy.cc (agent routes, upstream relay).
#pragma once

#include <atomic>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "audit/chain.h"
#include "auth/token_store.h"
#include "common/snapshot.h"
#include "gateway/config/runtime.h"
#include "gateway/gateway.h"
#include "gateway/http/beast.h"
#include "gateway/http/wire.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/relay/stream_relay.h"
#include "gateway/server/admin_auth.h"
#include "gateway/server/blocking_worker.h"
#include "gateway/server/conn_limits.h"
#include "gateway/stages/admission.h"
#include "gateway/telemetry/metrics.h"
#include "gateway/upstream/upstream.h"

namespace pai::gateway {

class GatewayImpl;

// UpstreamFailure: a provider's non-2xx answer, kept until the gateway knows whether a fallback
// will replace it.
struct UpstreamFailure {
  int status = 0;  // 0: none
  std::string body;
  std::string retry_after;
};

// ClientWatch: what the client-disconnect watch shares with the request (proxy.cc).
struct Shard;
struct ClientConn;
struct ClientWatch {
  uint64_t generation = 0;  // bumped per watched call; stale completions are ignored
  CancelSlot upstream;      // the provider call to cancel, from its connect to its last byte
  bool gone = false;        // the client closed its connection
  bool delivered = false;   // the response's last bytes were written: a later EOF is no abort
  char peek = 0;            // the watch's one-byte MSG_PEEK receive (never consumed)
  // Arming (exchange.cc, StartClientWatch()): a watch waits in its shard's queue until the
  // shard's watch tick arms it; `armed` once its receive is pending. Shard thread only.
  bool queued = false;
  bool armed = false;
  uint64_t queued_tick = 0;  // Shard::watch_ticks when queued
  ClientWatch* prev = nullptr;
  ClientWatch* next = nullptr;
  ClientConn* conn = nullptr;  // its shard is conn->shard
};

// ClientConn: one accepted agent connection. Lives in its coroutine frame; registered in its
// shard so that a drain can close it while it waits idle for the next request.
struct ClientConn {
  explicit ClientConn(Socket s) : stream(std::move(s)) {}
  ClientConn(const ClientConn&) = delete;
  ClientConn& operator=(const ClientConn&) = delete;
  ~ClientConn();           // leaves its shard's watch queue (exchange.cc)
  Shard* shard = nullptr;  // the shard it was accepted on
  // While it waits for a request header: when the shard's heartbeat cancels that read (the
  // header and idle timeouts, checked once a second instead of a timer per read). Shard thread.
  std::chrono::steady_clock::time_point header_deadline =
      std::chrono::steady_clock::time_point::max();
  TcpStream stream;
  beast::flat_buffer buffer;
  bool idle = true;                      // waiting for a request (safe to close on drain)
  bool response_started = false;         // bytes of the current response were written
  bool keep_alive = true;                // false once the connection must close after this response
  bool head = false;                     // the current request is HEAD: headers only
  unsigned version = 11;                 // the current request's HTTP version: 10 (HTTP/1.0) or 11
  bool evicted = false;                  // closed while idle to make room (no longer counted)
  std::string credential;                // the current request's (AgentCredential())
  std::string preauthenticated_agent;    // agent key of the current request's token
  std::string preauthenticated_session;  // and its session (empty: none)
  // The credential the last request on this connection proved, the token store snapshot it was
  // checked against, and whom it identified: a keep-alive client presents the same token on
  // every request, and it is checked (a SHA-256 and a compare) once per connection and snapshot.
  // A reloaded store (a token revoked, added) is another snapshot: the next request is checked
  // again. Shard thread.
  std::string proven_credential;
  std::shared_ptr<const auth::TokenStore> proven_in;
  auth::Identity proven;
  std::shared_ptr<ClientWatch> watch = std::make_shared<ClientWatch>();
};

// ShardClassifierClient: the guard's http classifier calls from one shard, on keep-alive pools
// of their own whose timeouts are the binding's timeoutMs (one pool per distinct timeout).
class ShardClassifierClient final : public ClassifierTransport {
 public:
  ShardClassifierClient(Executor ex, ssl::context* tls_ctx)
      : ex_(std::move(ex)), tls_ctx_(tls_ctx) {}
  Task<absl::StatusOr<std::string>> Post(const GuardBindingRuntime& binding,
                                         std::string body) override;
  void Close() {
    for (auto& [timeout, pool] : pools_) pool->Close();
  }

 private:
  Executor ex_;
  ssl::context* tls_ctx_;
  std::map<int64_t, std::unique_ptr<UpstreamPool>> pools_;  // by timeoutMs
};

// ShardInputCounter: the admit stage's provider token counts (InputCounter) from one shard, on
// a keep-alive pool of its own: a count answers within kCountTimeout or the byte bound stands.
class ShardInputCounter final : public InputCounter {
 public:
  static constexpr std::chrono::milliseconds kCountTimeout{10'000};
  ShardInputCounter(Executor ex, ssl::context* tls_ctx)
      : pool_(std::move(ex), tls_ctx, UpstreamTimeouts{kCountTimeout, kCountTimeout, kCountTimeout},
              nullptr) {}
  Task<absl::StatusOr<int64_t>> CountInput(const RequestContext& ctx,
                                           const ModelRoute& route) override;
  void Close() { pool_.Close(); }

 private:
  UpstreamPool pool_;
};

// Shard: one io_context thread with its acceptors and upstream pool.
struct Shard {
  // `pool` is declared before `ioc` so it outlives the coroutine frames destroyed with `ioc`.
  // `conns` and the fields up to `ioc` likewise: a connection frame unregisters itself when
  // destroyed.
  std::unique_ptr<UpstreamPool> pool;
  std::unique_ptr<ShardClassifierClient> classifier;
  std::unique_ptr<ShardInputCounter> counter;
  std::list<ClientConn*> conns;  // touched only on this shard's thread
  size_t live_conns = 0;         // conns not evicted (this shard's thread)
  // Client watches waiting to be armed, oldest first; watch_tick arms them once their provider
  // call has run for one to two periods (exchange.cc, StartClientWatch()). Shard thread only.
  ClientWatch* watch_head = nullptr;
  ClientWatch* watch_tail = nullptr;
  uint64_t watch_ticks = 0;
  bool watch_tick_running = false;
  // Audit write batching (agent_request.cc, RecordSuccess()): the calls of this shard that
  // succeed in one turn of its event loop share one write(2) of their records, signalled by
  // audit_flushed. `busy_conns`: connections with a request in progress (server.cc).
  size_t busy_conns = 0;
  bool audit_flush_posted = false;
  net::io_context ioc{1};
  std::optional<Acceptor> acceptor;
  std::optional<Acceptor> admin_acceptor;
  // Heartbeat: a timer re-armed every second (StartHeartbeat(), server.cc). Asio's reactor
  // re-arms its timerfd — a system call — whenever a newly scheduled timer becomes the earliest
  // one; with the heartbeat pending, the streams' per-operation timeouts (seconds to minutes
  // away) never are, where an idle shard paid ~4 timerfd_settime per proxied call.
  SteadyTimer heartbeat{ioc};
  // The tick that arms waiting client watches, and the event the audit flush signals (above).
  SteadyTimer watch_tick{ioc};
  SteadyTimer audit_flushed{ioc, SteadyTimer::time_point::max()};  // cancelled per flush
  std::thread thread;
};

class GatewayImpl {
 public:
  explicit GatewayImpl(const GatewayOptions& options);
  int Run(const std::function<void(const Listening&)>& on_listening);

  // --- server.cc ---
  Task<void> AcceptLoop(Shard* shard, bool admin);
  Task<void> ServeAgent(Shard* shard, Socket socket);
  Task<void> ServeAdmin(Socket socket);
  // AdmitClient(): at the shard's connection cap, evicts its oldest idle connection; false
  // when none is idle (the new connection is then closed).
  bool AdmitClient(Shard* shard);
  // AdmitAdmin(): the same for the admin listener (kMaxAdminConnections): idle or slow
  // connections cannot lock probes and scrapers out.
  bool AdmitAdmin();
  // RefuseBodyBudget(): 503 server_overloaded (the request-body budget is full), then close.
  Task<void> RefuseBodyBudget(ClientConn* conn, std::string_view target);
  absl::Status LoadConfig();
  void PollFiles();
  // ReloadTokensIfChanged() reloads the token file when its identity (inode, size, mtime)
  // changed since the last load; true when a new store was loaded. Any thread: the watch
  // timer polls it, and a request with an unknown token calls it once (a token minted a moment
  // ago) — a stat(2) per unknown token, a parse only when the file changed.
  bool ReloadTokensIfChanged();
  // ProvenIdentity(): whom `credential` identifies in the current token store — the identity
  // cached on `conn` when it proved the same credential against the same snapshot, else
  // AuthenticateBearerIdentity() (same errors), cached when it succeeds. Shard thread.
  absl::StatusOr<auth::Identity> ProvenIdentity(ClientConn* conn, const std::string& credential);
  // TokensPath(): the token file (--tokens-file, else <state_dir>/tokens.json).
  std::string TokensPath() const;
  void BeginDrain();

  // --- proxy.cc ---
  // HandleAgentRequest() runs one request through the pipeline and writes the response.
  Task<void> HandleAgentRequest(Shard* shard, ClientConn* conn,
                                http::request<http::string_body>* req);

  const GatewayOptions options_;
  Metrics metrics_;
  Snapshot<RuntimeConfig> runtime_;
  Snapshot<auth::TokenStore> tokens_;
  std::unique_ptr<budget::BudgetStore> budget_;
  audit::LogEventSink log_events_;
  std::unique_ptr<audit::Chain> chain_;  // null with --no-audit
  std::unique_ptr<audit::TeeEventSink> tee_events_;
  audit::EventSink* events_ = &log_events_;
  std::unique_ptr<Admission> admission_;  // used by pipeline_: declared (destroyed) before it
  std::unique_ptr<Guards> guards_;        // likewise
  std::unique_ptr<Pipeline> pipeline_;
  ssl::context tls_ctx_{ssl::context::tls_client};
  // Admin listener and resource bounds (admin_auth.h, conn_limits.h). These, the admin
  // connections and the request counters below are declared before shards_ (destroyed after
  // them): a connection's frame destroyed with its shard's io_context unregisters itself,
  // returns its body lease and updates the gauges and counters.
  AdminAuth admin_auth_;
  ResourceMetrics resource_metrics_;
  BodyBudget body_budget_{options_.max_buffered_body_bytes, &resource_metrics_};
  size_t shard_conn_cap_ = 0;  // client connections per shard
  size_t admin_conns_ = 0;     // open admin connections, not evicted (shard 0's thread)
  // AdminConn: one admin connection, registered while its ServeAdmin() frame lives; `idle`
  // while it waits for (or reads) a request, so that it may be evicted at the cap.
  struct AdminConn {
    TcpStream* stream = nullptr;
    bool idle = true;
    bool evicted = false;
  };
  std::list<AdminConn*> admin_list_;  // in accept order (shard 0's thread)
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> active_requests_{0};
  SessionTotals session_totals_;  // GET /usage "sessions" (since start; reset on restart)
  std::vector<std::unique_ptr<Shard>> shards_;  // after what their frames touch (above)

  std::unique_ptr<BlockingWorker> audit_worker_;  // /audit queries, one at a time

 private:
  // RecordSuccess() writes a successful call's LLM_CALL and TOOL_CALL records and waits until
  // the chain acknowledges them (strict mode: synced). False when they cannot be made durable
  // (the call is then not reported as a success). True at once without the chain.
  Task<bool> RecordSuccess(ClientConn* conn, RequestContext* ctx);
  // JoinAuditFlush(): the wait for the shard's next write of the chain's buffered records (one
  // is posted when none is); co_await it at once. Shard thread. Not a coroutine itself: it
  // returns the timer wait (no frame of its own on the request path).
  Task<std::tuple<beast::error_code>> JoinAuditFlush(Shard* shard);
  // BeforeSuccess(): what must happen before the last bytes of a successful response —
  // settlement and slot release (done when it is called), then the durable LLM_CALL record
  // (RecordSuccess(), returned to be awaited at once). False when the call cannot be reported as
  // a success (its audit record is not durable).
  Task<bool> BeforeSuccess(ClientConn* conn, RequestContext* ctx);
  // ScanChatResponse() applies the response guards to a complete chat completion's message
  // contents by choice index (ReadChatAnswer()); a non-OK status (enforced violation, closed
  // failure) replaces the response.
  Task<absl::Status> ScanChatResponse(RequestContext* ctx, std::vector<std::string> contents);
  // ScanStreamedResponse() runs the audit-only response guards on what a stream delivered.
  Task<void> ScanStreamedResponse(RequestContext* ctx, const ChatStreamRelay& relay);
  std::string UsageJson();
  void RefreshBudgetGauges();
  Task<void> ServeAudit(const http::request<http::string_body>& req,
                        http::response<http::string_body>& res);

  // Terminal(): the pipeline's terminal step for ctx's route — the in-process mock's answer or
  // the provider exchange — to be awaited at once.
  Task<absl::Status> Terminal(Shard* shard, ClientConn* conn, RequestContext* ctx);
  // ServeModels() answers GET /v1/models and /v1/models/{model} with the agent's models.
  Task<absl::Status> ServeModels(ClientConn* conn, RequestContext* ctx);
  // AnswerMockChat() / AnswerMockEmbeddings(): the in-process mock provider's answer, through
  // the same relay, accounting and audit as a provider's.
  Task<absl::Status> AnswerMockChat(ClientConn* conn, RequestContext* ctx);
  Task<absl::Status> AnswerMockEmbeddings(ClientConn* conn, RequestContext* ctx);
  // UpstreamExchange() is the provider call of ctx.model (its adapter builds the request), with
  // the fallbacks to the agent's next models while nothing reached the client.
  Task<absl::Status> UpstreamExchange(Shard* shard, ClientConn* conn, RequestContext* ctx);
  Task<absl::Status> ExchangeImpl(Shard* shard, ClientConn* conn, RequestContext* ctx,
                                  UpstreamRequest* up, CancelSlot* cancel, bool* client_gone,
                                  UpstreamFailure* failure,
                                  std::chrono::steady_clock::time_point t0);
  Task<absl::Status> Exchange(Shard* shard, ClientConn* conn, RequestContext* ctx,
                              UpstreamRequest* up, CancelSlot* cancel, bool* client_gone,
                              UpstreamFailure* failure, std::chrono::steady_clock::time_point t0);
  Task<absl::Status> RelayUpstream(ClientConn* conn, RequestContext* ctx, UpstreamCall* call,
                                   bool* client_gone);
  // RelayNative() relays a native stream (Anthropic Messages, OpenAI Responses) event by event
  // as it is, reading usage and tool calls on the way and holding the final event
  // (message_stop / response.completed) until the call's audit record is durable.
  Task<absl::Status> RelayNative(ClientConn* conn, RequestContext* ctx, UpstreamCall* call,
                                 bool* client_gone);

  // File watching state (main thread only).
  std::string config_fingerprint_;  // of the files the running config was loaded from
  std::string config_last_seen_;    // at the previous poll
  std::string config_content_hash_;
  std::mutex tokens_mu_;  // guards tokens_fingerprint_ (the poll and reload-on-miss)
  std::string tokens_fingerprint_;
};

// LogException: completion handler for co_spawn that logs an exception instead of dropping it.
void LogException(const std::exception_ptr& e);

// WriteResponse() writes `res` on the agent connection (server.cc): at once when the socket takes
// it all, else the rest asynchronously within `timeout`. Completes with the write's error.
Task<beast::error_code> WriteResponse(ClientConn* conn, JsonAnswer& res,
                                      std::chrono::milliseconds timeout);

}  // namespace pai::gateway
