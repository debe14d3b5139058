// Agent triggers (docs/triggers.md): `schedule` (5-field cron, UTC; run by the controller) and
// `webhook` (an unguessable URL per Agent; handled here for the API). Telegram, Slack and email
// triggers are validated and stored; their provider integrations do not exist yet.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/runtime.h"
#include "server/sessions.h"
#include "server/store.h"

namespace pai::server {

// NextCronTick(): the first time after `after` that the 5-field cron expression `expr` (UTC;
// minute hour day-of-month month day-of-week, Sunday = 0) names. InvalidArgument for a bad
// expression; NotFound when it names no time. Needs the process time zone to be UTC
// (pai-server sets TZ=UTC at start).
absl::StatusOr<absl::Time> NextCronTick(const std::string& expr, absl::Time after);

struct WebhookCall {
  std::string token;           // from /hooks/{token}
  std::string remote_address;  // the caller's IP
  std::string signature;       // the Linear-Signature header ("" when absent)
  std::string body;
};

struct WebhookResult {
  int status = 202;
  std::string error_code;  // when status >= 400
  std::string message;
  std::string session;  // the Session woken or started
};

// HandleWebhook(): checks the token, allowCIDRs and the Linear signature (hex HMAC-SHA256 of
// the body with the Secret named by `linearSignatureSecret`), then delivers the body as a
// user.message to the Agent's Idle webhook Session, or starts a new Session with it as task.
WebhookResult HandleWebhook(Store& store, SessionEvents& events, Runtime& runtime,
                            const WebhookCall& call);

// CidrContains(): whether IP `address` (v4 or v6) lies in `cidr` ("10.0.0.0/8", "::1/128", or a
// bare address; IPv4 blocks contain IPv4-mapped IPv6 callers). False for anything unparsable.
// (runtime/egress_policy.h's Cidr, shared with the egress proxy's allow-list.)
bool CidrContains(const std::string& cidr, const std::string& address);

}  // namespace pai::server
