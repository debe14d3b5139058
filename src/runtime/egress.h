// The runtime's network edge for sandboxes: per-sandbox unix sockets (docs/sessions.md) that
// reach (a) the gateway, by plain byte forwarding to its TCP address, and (b) an HTTP/HTTPS
// egress proxy (RFC 9110 §9.3.6 CONNECT tunnels and RFC 9112 §3.2.2 absolute-form requests,
// RFC 9112 message syntax) that records every request and refuses loopback, link-local (cloud
// metadata), private, multicast and unspecified destinations — after DNS resolution, on every
// resolved address — unless the allow-list names the host (or a CIDR). The decisions themselves
// live in egress_policy.h.
//
// The proxy, per connection on egress.sock (one request per connection; every answer carries
// `Connection: close`):
//   - `CONNECT host:port` → 200 Connection Established, then a byte tunnel;
//   - `METHOD http://host[:port]/path` → the request goes to the origin in origin-form, with
//     Host set from the URL, hop-by-hop fields (Connection and the fields it names,
//     Proxy-Connection, Keep-Alive, Proxy-Authorization, Proxy-Authenticate, TE, Upgrade,
//     Expect) removed and `Via: 1.1 pai-egress` added; the response is streamed back;
//   - errors answer with a short text/plain body "pai egress: <reason>": 400 malformed or
//     origin-form request (or an https:// URL, which must use CONNECT), 403 refused by policy,
//     431 request head over max_header_bytes, 502 unresolvable host / connect failure / bad
//     origin response, 504 resolve or connect timeout.
// The host is resolved once (IP literals in any spelling the resolver accepts, e.g. "2130706433"
// or "0x7f.1", are normalized by it and checked like names), every resolved address is checked,
// and the connection goes to one of the checked addresses (never a second lookup).
//
// One EgressService runs its own Asio threads. Thread safety: all methods may be called from
// any thread; from on_record only RemoveSandbox (which then does not wait).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pai::runtime {

// One request through the egress proxy, recorded when it finishes (allowed or refused). A
// connection that closes before sending a request head produces none. Gateway forwarding
// (gateway.sock) produces no records.
struct EgressRecord {
  std::string sandbox;  // the key given to AddSandbox
  std::string method;   // "CONNECT", "GET", ...; empty when the head could not be parsed
  std::string host;     // as requested (lowercase; IPv6 without brackets)
  int port = 0;
  std::string path;         // for plain HTTP (origin-form); empty for CONNECT
  std::string address;      // the resolved IP connected to (empty when none was)
  bool allowed = false;     // the policy let it through (false also when it never got that far)
  int status = 0;           // what the proxy answered: 200 for an established tunnel, the
                            // origin's status for plain HTTP, else the proxy's error status
  std::string reason;       // why it was refused or failed; empty on success
  uint64_t bytes_up = 0;    // client → destination (tunnel payload; forwarded request head+body)
  uint64_t bytes_down = 0;  // destination → client (tunnel payload; relayed response head+body)
  std::string time;         // RFC 3339 UTC with ms, when the request head arrived
};

struct EgressPolicy {
  // Hosts ("example.com" exact, "*.example.com" any name below it), CIDRs ("10.1.0.0/16",
  // "127.0.0.1/32") and bare IPs that may be reached although private/loopback; a host-name
  // match allows whatever the name resolves to, a CIDR allows matching addresses. Everything
  // public is allowed unless deny_public.
  std::vector<std::string> allow;
  bool deny_public = false;  // true: only allow-listed destinations
};

struct EgressOptions {
  std::string gateway_address;      // "127.0.0.1:4000", "[::1]:4000", "localhost:4000": where
                                    // gateway.sock forwards to; empty: gateway.sock closes at once
  int threads = 1;                  // Asio threads (at least 1)
  int connect_timeout_ms = 10000;   // DNS resolution + TCP connect, per request (→ 504)
  int header_timeout_ms = 30000;    // to receive a request head (then the connection closes)
  int idle_timeout_ms = 300000;     // a tunnel / relay with no bytes moving this long is closed
  size_t max_header_bytes = 16384;  // request head limit (→ 431)
  std::function<void(const EgressRecord&)> on_record;  // called on an Asio thread; must not
                                                       // block for long
};

class EgressService {
 public:
  virtual ~EgressService() = default;  // Stop()s

  // Start(): starts the threads. Errors: InvalidArgument (threads < 1, timeouts <= 0).
  static absl::StatusOr<std::unique_ptr<EgressService>> Start(EgressOptions options);

  // AddSandbox(): creates `dir`/gateway.sock and `dir`/egress.sock (mode 0666: the sandbox
  // user connects; `dir` must exist; a stale socket file there is replaced) serving sandbox
  // `key` with `policy`. Errors: AlreadyExists (the key is in use, or a non-socket file is in
  // the way), InvalidArgument (a bad allow-list entry, a socket path over 107 bytes),
  // FailedPrecondition (after Stop), Internal (bind/listen/chmod failed).
  virtual absl::Status AddSandbox(const std::string& key, const std::string& dir,
                                  EgressPolicy policy) = 0;
  // RemoveSandbox(): closes its listeners and every open connection (clients see EOF; requests
  // cut short are still recorded), and removes the two socket files. Waits until the closing
  // is done (except on a service thread). Unknown keys are ignored.
  virtual void RemoveSandbox(const std::string& key) = 0;
  // SetGatewayAddress(): where new gateway.sock connections go (open ones stay). Same forms as
  // EgressOptions::gateway_address.
  virtual void SetGatewayAddress(const std::string& host_port) = 0;
  // Stop(): removes every sandbox, waits up to 2 s for open connections to finish (their
  // records are delivered), then stops the threads. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace pai::runtime
