// The runtime's network edge for sandboxes: per-sandbox unix sockets (docs/sessions.md) that
// reach (a) the gateway, by plain byte forwarding to its TCP address, and (b) an HTTP/HTTPS
// egress proxy (RFC 9110 absolute-form requests and CONNECT tunnels, RFC 9112 message syntax)
// that records every request and refuses loopback, link-local (cloud metadata), private,
// multicast and unspecified destinations — after DNS resolution, on every resolved address —
// unless an allow-list names the host (or a CIDR).
//
// One EgressService runs its own Asio threads. Thread safety: all methods may be called from
// any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pai::runtime {

// One request through the egress proxy (recorded whether it was allowed or refused).
struct EgressRecord {
  std::string sandbox;      // the key given to AddSandbox
  std::string method;       // "CONNECT", "GET", ...
  std::string host;         // as requested
  int port = 0;
  std::string path;         // for plain HTTP; empty for CONNECT
  std::string address;      // the resolved IP used (empty when refused before connecting)
  bool allowed = false;
  int status = 0;           // the status the proxy answered (200 for an established tunnel)
  std::string reason;       // why it was refused
  uint64_t bytes_up = 0;    // client → destination
  uint64_t bytes_down = 0;  // destination → client
  std::string time;         // RFC 3339 UTC, when the request arrived
};

struct EgressPolicy {
  // Hosts ("example.com", "*.example.com") and CIDRs ("10.1.0.0/16", "127.0.0.1/32") that may
  // be reached although private/loopback; everything public is allowed unless deny_public.
  std::vector<std::string> allow;
  bool deny_public = false;
};

struct EgressOptions {
  std::string gateway_address;  // "127.0.0.1:4000": where gateway.sock forwards to
  int threads = 1;
  int connect_timeout_ms = 10000;
  int idle_timeout_ms = 300000;   // a tunnel idle this long is closed
  size_t max_header_bytes = 16384;
  std::function<void(const EgressRecord&)> on_record;  // called on an Asio thread
};

class EgressService {
 public:
  virtual ~EgressService() = default;
  static absl::StatusOr<std::unique_ptr<EgressService>> Start(EgressOptions options);

  // AddSandbox(): creates `dir`/gateway.sock and `dir`/egress.sock (mode 0666: the sandbox
  // user connects) serving sandbox `key` with `policy`. Errors: AlreadyExists, Internal.
  virtual absl::Status AddSandbox(const std::string& key, const std::string& dir,
                                  EgressPolicy policy) = 0;
  // RemoveSandbox(): closes its listeners and every open connection, removes the sockets.
  virtual void RemoveSandbox(const std::string& key) = 0;
  virtual void SetGatewayAddress(const std::string& host_port) = 0;
  virtual void Stop() = 0;
};

}  // namespace pai::runtime
