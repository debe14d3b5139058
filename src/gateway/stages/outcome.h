// The stages at the edges of the pipeline (pipeline.cc, BuildPipeline(), has the order and the
// reason for each position):
//   - on the way in, `route` refuses what is not an agent call (404 unknown path, 405 wrong
//     method, 503 while the audit chain is stopped);
//   - on the way out, `reply` puts a refused or failed request's error in the client's API,
//     `audit` writes the call's LLM_CALL and TOOL_CALL records, `metrics` counts the request and
//     its duration, `access_log` writes its line.
// No Beast: the reply stage composes the error, the HTTP layer writes it.
#pragma once

#include <cstdint>
#include <memory>

#include "audit/chain.h"
#include "audit/event_sink.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/providers/usage.h"
#include "gateway/telemetry/metrics.h"

namespace pai::gateway {

// MakeRouteStage(): 404 unknown_url when ctx.route is kOther, 405 method_not_allowed (with an
// `Allow` header) when ctx.wrong_method_allowed is set, 503 audit_unavailable while `chain`
// (null: --no-audit) is stopped — except GET /v1/models, which makes no call.
std::unique_ptr<Stage> MakeRouteStage(const audit::Chain* chain);

// MakeReplyStage(): on the way out, a non-OK ctx.outcome becomes ctx.reply.error_body (OpenAI's
// error shape, Anthropic's on the Anthropic routes) and ctx.reply.status, unless the response
// had started (then the connection is closed: the response was cut short). A request that got
// no status at all (the client left first) is 499.
std::unique_ptr<Stage> MakeReplyStage();

// EmitCallRecords() emits the LLM_CALL record of ctx's admitted call with HTTP status `status`
// (after it, one TOOL_CALL per tool call the answer made) to `events`, once: ctx.call_recorded
// is set. Returns the sequence number of the last record (0: none emitted, or the sink has no
// sequence). `buffered`: through EmitBuffered(), for a caller that flushes the sink itself.
// Record fields: docs/audit.md, "Records".
uint64_t EmitCallRecords(audit::EventSink& events, RequestContext& ctx, int status,
                         bool buffered = false);

// MakeAuditStage(): on the way out, the call's records (EmitCallRecords(), when `events` is
// not null and the success path did not write them already) and the Session's totals.
std::unique_ptr<Stage> MakeAuditStage(audit::EventSink* events, SessionTotals& sessions);

// MakeMetricsStage(): on the way out, pai_gateway_requests_total{route,code} and
// pai_gateway_request_duration_seconds{route} (docs/metrics.md).
std::unique_ptr<Stage> MakeMetricsStage(Metrics& metrics);

// MakeAccessLogStage(): on the way out, the request's access log line (docs/configuration.md,
// "Logs"): ids, route, agent, model, status, latencies, tokens and cost.
std::unique_ptr<Stage> MakeAccessLogStage();

}  // namespace pai::gateway
