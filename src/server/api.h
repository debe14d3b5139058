// The control plane's REST API (docs/api.md) as a plain function from request to response, so
// that it is tested without sockets; src/server/http_server.cc puts it behind Beast.
//
// Errors: every failure is `{"error":{"code","message","field"}}` with the status docs/api.md
// gives (422 names the field path of the first validation error and lists all in `details`).
//
// Thread safety: Handle() may run on several threads at once (the store serialises writes).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/access.h"
#include "server/store.h"

namespace pai::server {

class SessionEvents;  // server/sessions.h
class Runtime;        // server/runtime.h

struct ApiRequest {
  std::string method;  // "GET", "POST", "PUT", "DELETE"
  std::string target;  // path and query, percent-encoded as received
  std::string authorization;
  std::string content_type;
  std::string body;
  std::string remote_address;    // the peer's IP ("" when unknown)
  std::string last_event_id;     // the Last-Event-ID header (SSE resumption)
  std::string linear_signature;  // the Linear-Signature header (webhooks)
};

// StreamSpec: a route whose answer is a stream the HTTP layer runs after Handle() checked
// access and existence (docs/api.md, "Session and workload routes").
struct StreamSpec {
  std::string type;  // "events" (SSE) | "logs" (text, chunked) | "exec" (WebSocket)
  std::string kind;  // "Session" | "Agent"
  std::string ns;
  std::string name;
  std::string uid;                   // the resource's uid (logs are kept per run)
  int64_t after = 0;                 // events: the last sequence the client has
  int64_t tail_lines = 50;           // logs
  bool follow = false;               // logs
  std::vector<std::string> command;  // exec
  bool tty = false;                  // exec
  bool stdin = false;                // exec
};

struct ApiResponse {
  int status = 200;
  std::string body;  // JSON
  std::string content_type = "application/json";
  std::optional<StreamSpec> stream;  // set: the HTTP layer streams instead of sending `body`
};

// GatewayAdmin: what the API reads from the gateway's admin listener (/usage, /audit,
// /audit/verify). Implementations must be callable from any thread.
class GatewayAdmin {
 public:
  virtual ~GatewayAdmin() = default;
  // Get() returns the response body of a 200; Unavailable when the gateway cannot be reached
  // or answers otherwise.
  virtual absl::StatusOr<std::string> Get(const std::string& target) = 0;
};

// GatewayTokens: minting and revoking the gateway identities of Agents (the gateway's token
// file; see controller.h).
class GatewayTokens {
 public:
  virtual ~GatewayTokens() = default;
  // Mint(): a new token for agent "ns/name" (and, when not empty, its Session `session`, whose
  // calls the gateway attributes to it); returns {id, plaintext}.
  virtual absl::StatusOr<std::pair<std::string, std::string>> Mint(const std::string& agent,
                                                                   const std::string& session) = 0;
  virtual absl::Status Revoke(const std::string& id) = 0;
};

struct ApiOptions {
  std::string version = "0.2.0";
  size_t max_body_bytes = 16u << 20;
};

class Api {
 public:
  // `gateway` and `tokens` may be null (no gateway: those routes answer 503).
  // `wake_controller` is called after every successful write (may be empty).
  Api(Store& store, AccessTokens& access, GatewayAdmin* gateway, GatewayTokens* tokens,
      std::function<void()> wake_controller, ApiOptions options = {});

  ApiResponse Handle(const ApiRequest& request);

  // SetSessions(): the event log and the runtime behind the Session routes (both outlive the
  // Api). Without them those routes answer 503.
  void SetSessions(SessionEvents* events, Runtime* runtime) {
    events_ = events;
    runtime_ = runtime;
  }
  // SetTestClock(): enables POST /apis/pai.io/v1/testing/clock {"advanceSeconds":N} (admin
  // tokens only; `advance` moves the server's manual clock and returns the new time, RFC 3339).
  void SetTestClock(std::function<std::string(int64_t)> advance) {
    test_clock_ = std::move(advance);
  }

 private:
  struct Ctx;
  ApiResponse SessionRoutes(Ctx& ctx, const std::string& ns, const std::string& kind,
                            const std::string& name, const std::vector<std::string>& rest);
  ApiResponse PostEvents(Ctx& ctx, const std::string& ns, const std::string& name);
  ApiResponse Files(Ctx& ctx, const std::string& kind, const std::string& ns,
                    const std::string& name);
  ApiResponse Hook(const ApiRequest& request, const std::string& token);
  ApiResponse Route(Ctx& ctx);
  ApiResponse Collection(Ctx& ctx, const std::string& ns, const std::string& plural);
  ApiResponse Item(Ctx& ctx, const std::string& ns, const std::string& plural,
                   const std::string& name);
  ApiResponse AgentSub(Ctx& ctx, const std::string& ns, const std::string& agent,
                       const std::vector<std::string>& rest);
  ApiResponse Write(Ctx& ctx, const std::string& ns, const std::string& plural,
                    const std::string& name, bool create_only);
  ApiResponse Tokens(Ctx& ctx, const std::vector<std::string>& rest);
  ApiResponse WhoAmI(Ctx& ctx, const std::vector<std::string>& rest);
  ApiResponse Metrics(Ctx& ctx, const std::string& ns);
  ApiResponse Audit(Ctx& ctx, const std::string& ns, const std::string& agent);
  ApiResponse Verify(Ctx& ctx);
  ApiResponse Migrate(Ctx& ctx, const std::string& ns);
  ApiResponse GatewayTokenRoutes(Ctx& ctx, const std::string& ns, const std::string& agent,
                                 const std::vector<std::string>& rest);
  ApiResponse CreateSession(Ctx& ctx, const std::string& ns, const std::string& agent);
  // Output(): the object as the API returns it (secrets without values, live usage).
  boost::json::object Output(const Resource& r, const boost::json::object* usage);
  absl::StatusOr<boost::json::object> UsageByAgent();
  ApiResponse CheckOwnerReferences(const boost::json::object& meta, const std::string& ns);

  Store& store_;
  AccessTokens& access_;
  GatewayAdmin* gateway_;
  GatewayTokens* tokens_;
  SessionEvents* events_ = nullptr;
  Runtime* runtime_ = nullptr;
  std::function<void()> wake_;
  std::function<std::string(int64_t)> test_clock_;
  ApiOptions options_;
  std::mutex usage_mu_;
  absl::Status usage_failure_;
  std::chrono::steady_clock::time_point usage_failed_at_;
};

// ErrorJson(): `{"error":{"code","message","field"}}` (field omitted when empty).
std::string ErrorJson(std::string_view code, std::string_view message, std::string_view field = "");

}  // namespace pai::server
