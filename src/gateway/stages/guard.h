// Guards: prompt-injection classification of an agent's traffic (docs/guard.md). For each of
// the agent's `spec.guards[]`, the texts it scans (guard_targets.h) are classified by the
// binding's classifier — the builtin rule set (guard/builtin_classifier.h) or an http service
// (guard/http_formats.h) — window by window; a score >= the binding's threshold is a violation.
//
// Outcomes (audit event types: shared/design/ARCHITECTURE.md, "Audit chain"):
//   violation, enforce   refused: 400 invalid_request_error, code prompt_injection_detected,
//                        param = the offending field; GUARD.VIOLATION_ENFORCE
//   violation, audit     forwarded; GUARD.VIOLATION_AUDIT
//   classifier failure   failureMode open: forwarded, GUARD.UNAVAILABLE;
//                        failureMode closed: refused, 503 guard_unavailable, GUARD.UNAVAILABLE
// A streamed response is scanned after it completed and can only be audited (the client
// already has it): its violations are GUARD.VIOLATION_AUDIT whatever the enforcement.
//
// Thread safety: a Guards is shared by all shards; its methods may run concurrently.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/event_sink.h"
#include "gateway/config/runtime.h"
#include "gateway/pipeline/task.h"
#include "gateway/stages/guard_targets.h"

namespace pai::gateway {

struct RequestContext;

// ClassifierTransport: how the guard reaches an http classifier. The gateway implements it
// per shard with its pooled upstream client; it exists so the guard logic needs no HTTP
// library and tests can substitute it.
class ClassifierTransport {
 public:
  virtual ~ClassifierTransport() = default;
  // Post() sends JSON `body` to the binding's URL (with its Authorization, if any) and returns
  // the 2xx response body. Each phase (connect, first byte, each read) is bounded by
  // spec.classifier.timeoutMs. Errors: DeadlineExceeded (timeout), Unavailable (connect or
  // protocol error, or a non-2xx status, named in the message).
  virtual Task<absl::StatusOr<std::string>> Post(const GuardBindingRuntime& binding,
                                                 std::string body) = 0;
};

class Guards {
 public:
  // `events` receives the GUARD.* records; it must outlive the Guards.
  explicit Guards(audit::EventSink& events) : events_(events) {}

  // ScanRequest() classifies the request's prompts and tool results for every guard of
  // ctx.agent. OK to forward; otherwise the refusal (400 or 503). Needs ctx.chat or
  // ctx.embeddings and, for http classifiers, ctx.classifier.
  Task<absl::Status> ScanRequest(RequestContext& ctx) const;

  // ScanResponse() classifies assistant output for the guards with scan.responses. With
  // `streamed` the outcome is audit-only and the status is always OK.
  Task<absl::Status> ScanResponse(RequestContext& ctx, std::vector<GuardText> texts,
                                  bool streamed) const;

 private:
  Task<absl::Status> Check(RequestContext& ctx, const AgentGuardRuntime& guard,
                           const GuardText& text, bool streamed) const;
  audit::EventSink& events_;
};

}  // namespace pai::gateway
