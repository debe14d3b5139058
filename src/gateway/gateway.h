// pai-gateway's server: the agent-facing listener (OpenAI-compatible API), the admin listener
// (/healthz, /readyz, /metrics), configuration and token hot reload, graceful drain.
//
// Threading: `threads` shards, each one io_context on its own thread with its own
// SO_REUSEPORT acceptor, upstream connection pool and JSON parser; connections never move
// between shards, so the request path takes no lock except the configuration snapshot.
// The main thread runs signals (SIGTERM/SIGINT drain, SIGHUP reload) and the file watcher.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "gateway/relay/stream_limits.h"

namespace pai::gateway {

struct GatewayOptions {
  // Manifest files or directories; empty → the embedded default (config/default_config.h).
  std::vector<std::string> config_paths;
  std::string listen = "127.0.0.1:4000";
  std::string admin_listen = "127.0.0.1:4001";
  std::string state_dir = "pai-state";
  // The agent token file, watched for changes; empty → "<state_dir>/tokens.json". Replicas
  // share one (a mounted Secret) and only read it.
  std::string tokens_file;
  std::string ca_file;  // extra CA bundle for provider TLS (tests); system CAs otherwise
  int threads = 0;      // 0 → std::thread::hardware_concurrency()

  size_t max_body_bytes = 32u << 20;                 // 413 above
  size_t max_header_bytes = 64u << 10;               // 431 above
  size_t max_response_bytes = 64u << 20;             // buffered (non-streaming) provider responses
  std::chrono::milliseconds header_timeout{30'000};  // first request header on a connection
  std::chrono::milliseconds body_timeout{60'000};    // request body; also each client write
  std::chrono::milliseconds idle_timeout{60'000};    // keep-alive wait for the next request
  std::chrono::milliseconds upstream_connect_timeout{10'000};
  std::chrono::milliseconds upstream_first_byte_timeout{300'000};
  std::chrono::milliseconds upstream_idle_timeout{120'000};
  std::chrono::milliseconds drain_timeout{30'000};
  // Bounds of one streamed provider response (event size, bytes, duration): stream_limits.h.
  StreamLimits stream_limits;
  std::chrono::milliseconds watch_interval{250};  // config and token file polling
  bool access_log = true;                         // one JSON line per agent request
  // Audit chain in "<state_dir>/audit" (docs/audit.md). The first key file signs; all verify.
  // Without key files, "<state_dir>/audit/key" is used (created on first start).
  bool audit = true;
  std::vector<std::string> audit_key_files;
  // Durability of an acknowledged record (docs/audit.md, "Durability"): written, synced within
  // audit_sync_interval (default); or synced before the call's success shows (strict).
  bool audit_sync_strict = false;
  std::chrono::milliseconds audit_sync_interval{10};

  // Admin listener (docs/configuration.md, "Admin listener"): a file holding the bearer token
  // that /audit, /audit/verify, /usage (and /metrics with metrics_auth) require; mandatory
  // when admin_listen is not a loopback address.
  std::string admin_token_file;
  bool metrics_auth = false;
  // Resource bounds (docs/configuration.md, "Connection limits"). 0: derived from
  // RLIMIT_NOFILE, keeping a reserve for provider sockets.
  size_t max_connections = 0;
  size_t max_buffered_body_bytes = 256u << 20;  // request bodies in flight, all connections
  // The margin added to a provider's input token count (Anthropic count_tokens, Gemini
  // countTokens) when admission asks for one (docs/budgets.md, "Provider counts"), in percent.
  int count_margin_percent = 2;
  // Shared budget state (docs/budgets.md, "Several replicas: Redis"): with a URL, budgets,
  // provider caps, request windows and concurrency slots live in Redis, shared by every
  // replica given the same URL; empty → the embedded store in <state_dir>/budget.db.
  std::string redis_url;
  std::string redis_password;    // PAI_REDIS_PASSWORD; instead of the URL's
  std::string redis_replica_id;  // empty: random; a pod name makes logs easier to follow
  std::chrono::milliseconds redis_timeout{500};  // connect and each round trip
  // How long a silent replica's reservations and slots stay held before another replica
  // charges and frees them; renewed every quarter of it.
  std::chrono::milliseconds redis_lease{20'000};
};

// Listening: the bound addresses ("127.0.0.1:41234"), reported once both listeners are up.
struct Listening {
  std::string listen;
  std::string admin_listen;
};

// RunGateway() loads the configuration, binds both listeners, calls `on_listening`, serves
// until SIGTERM/SIGINT, drains and returns the process exit code: 0 after a drain, 2 when the
// configuration or a listener could not be set up (the reason is logged, one line).
int RunGateway(const GatewayOptions& options,
               const std::function<void(const Listening&)>& on_listening);

}  // namespace pai::gateway
