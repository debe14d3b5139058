#include "gateway/stages/outcome.h"

#include <boost/json/object.hpp>
#include <chrono>

#include "audit/canonical.h"
#include "common/log.h"
#include "common/strings.h"
#include "gateway/http/errors.h"
#include "gateway/stages/admission.h"
#include "gateway/telemetry/log_fields.h"

namespace pai::gateway {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

class RouteStage final : public Stage {
 public:
  explicit RouteStage(const audit::Chain* chain) : chain_(chain) {}
  std::string_view name() const override { return "route"; }

  std::optional<absl::Status> Decide(RequestContext& ctx) override {
    if (ctx.route == Route::kOther) {
      return MakeHttpError(404,
                           pai::StrCat("Invalid URL (", ctx.method, " ", LogPath(ctx.target), ")"),
                           "unknown_url");
    }
    if (!ctx.wrong_method_allowed.empty()) {
      ctx.reply.headers.emplace_back("Allow", ctx.wrong_method_allowed);
      return MakeHttpError(405,
                           pai::StrCat("Method ", ctx.method, " is not allowed on ",
                                       LogPath(ctx.target), "; use ", ctx.wrong_method_allowed),
                           "method_not_allowed");
    }
    if (chain_ && !chain_->healthy() && ctx.route != Route::kModels) {
      // No call the chain cannot record: an auditor must be able to trust it is complete.
      return MakeHttpError(503,
                           "The audit chain is stopped; calls are refused until it is "
                           "repaired (see the gateway log).",
                           "audit_unavailable");
    }
    return absl::OkStatus();
  }

 private:
  const audit::Chain* chain_;
};

class ReplyStage final : public Stage {
 public:
  std::string_view name() const override { return "reply"; }
  bool request_side() const override { return false; }

  void OnResponse(RequestContext& ctx) override {
    if (!ctx.outcome.ok()) {
      const ApiError e = ToApiError(ctx.outcome);
      ctx.error_code =
          e.code.empty() ? std::string(absl::StatusCodeToString(ctx.outcome.code())) : e.code;
      if (!ctx.reply.started) {
        ctx.reply.status = e.http_status;
        ctx.reply.error_body =
            AnthropicRoute(ctx.route) ? AnthropicErrorBody(e) : OpenAIErrorBody(e);
      } else {
        ctx.reply.close = true;  // the response was cut short: the connection cannot go on
      }
    }
    if (ctx.reply.status == 0) ctx.reply.status = 499;  // the client closed before any response
  }
};

class AuditStage final : public Stage {
 public:
  AuditStage(audit::EventSink* events, SessionTotals& sessions)
      : events_(events), sessions_(sessions) {}
  std::string_view name() const override { return "audit"; }
  bool request_side() const override { return false; }

  void OnResponse(RequestContext& ctx) override {
    // Every admitted call has its LLM_CALL record, failures and aborts included.
    if (events_) EmitCallRecords(*events_, ctx, ctx.reply.status);
    if (ctx.admitted && ctx.agent && !ctx.session.empty()) {
      SessionTotals::Totals t;
      t.calls = 1;
      t.tokens = ctx.charge.tokens;
      t.input_tokens = ctx.usage.prompt_tokens;
      t.output_tokens = ctx.usage.completion_tokens;
      t.nano_usd = ctx.charge.nano_usd;
      sessions_.Add(pai::StrCat(ctx.agent->spec.ns, "/", ctx.session), t);
    }
  }

 private:
  audit::EventSink* events_;
  SessionTotals& sessions_;
};

class MetricsStage final : public Stage {
 public:
  explicit MetricsStage(Metrics& metrics) : metrics_(metrics) {}
  std::string_view name() const override { return "metrics"; }
  bool request_side() const override { return false; }

  void OnResponse(RequestContext& ctx) override {
    metrics_.requests(ctx.route, ctx.reply.status).Increment();
    metrics_.duration(ctx.route).Observe(SecondsSince(ctx.start));
  }

 private:
  Metrics& metrics_;
};

class AccessLogStage final : public Stage {
 public:
  std::string_view name() const override { return "access_log"; }
  bool request_side() const override { return false; }

  void OnResponse(RequestContext& ctx) override {
    boost::json::object line;
    line["request_id"] = ctx.request_id;
    line["method"] = ctx.method;
    line["route"] = RouteLabel(ctx.route);
    if (ctx.agent) line["agent"] = ctx.agent->spec.Key();
    if (!ctx.session.empty()) line["session"] = ctx.session;
    if (ctx.model) {
      line["model"] = ctx.model->ref;
      if (ctx.model->provider) line["provider"] = ctx.model->provider->spec.name;
    } else if (const std::string_view m =
                   ctx.path_model.empty() ? RequestedModel(ctx) : ctx.path_model;
               !m.empty()) {
      line["requested_model"] = LogSafe(m);  // e.g. model_not_found: what was asked for
    }
    if (ctx.route == Route::kOther) line["path"] = LogPath(ctx.target);  // unknown paths
    line["status"] = ctx.reply.status;
    line["latency_ms"] = static_cast<int64_t>(SecondsSince(ctx.start) * 1000);
    if (ctx.upstream_seconds >= 0) {
      line["upstream_latency_ms"] = static_cast<int64_t>(ctx.upstream_seconds * 1000);
    }
    line["stream"] = ctx.stream;
    if (ctx.attempts > 1) line["attempts"] = ctx.attempts;
    if (ctx.charge.tokens > 0) {
      line["charged_tokens"] = ctx.charge.tokens;
      line["cost_usd"] = static_cast<double>(ctx.charge.nano_usd) / 1e9;
    }
    line["input_tokens"] = ctx.usage.prompt_tokens;
    line["output_tokens"] = ctx.usage.completion_tokens;
    if (!ctx.error_code.empty()) line["error_code"] = ctx.error_code;
    log::Info("access", std::move(line));
  }
};

}  // namespace

uint64_t EmitCallRecords(audit::EventSink& events, RequestContext& ctx, int status, bool buffered) {
  if (!ctx.admitted || ctx.call_recorded || !ctx.agent || !ctx.model) return 0;
  ctx.call_recorded = true;
  budget::Charge charge = ctx.charge;
  if (ctx.reservation) {  // before settlement: the same figure Settle() will charge
    charge = budget::ComputeCharge(*ctx.reservation, UsageOf(ctx));
  }
  // The detail is written in the chain's canonical encoding as it is built (no JSON object to
  // build, copy and sort on every call): members in ascending key order.
  audit::CanonicalDetail d;
  d.Int("cached_tokens", ctx.usage.cached_tokens)
      .Int("charged_tokens", charge.tokens)
      .Double("cost_usd", static_cast<double>(charge.nano_usd) / 1e9);
  if (!ctx.error_code.empty()) d.String("error_code", ctx.error_code);
  const bool fell_back = !ctx.first_model.empty() && ctx.first_model != ctx.model->ref;
  d.Bool("fallback_used", fell_back)
      .Int("input_tokens", ctx.usage.prompt_tokens)
      .Int("latency_ms", static_cast<int64_t>(SecondsSince(ctx.start) * 1000))
      .String("model", ctx.model->ref)
      .Int("output_tokens", ctx.usage.completion_tokens)
      .String("provider", ctx.model->provider ? ctx.model->provider->spec.name : "")
      .String("request_id", ctx.request_id);
  if (fell_back) d.String("requested_model", ctx.first_model);
  d.String("route", RouteLabel(ctx.route));
  if (!ctx.session.empty()) d.String("session", ctx.session);
  d.Int("status", status).Bool("stream", ctx.stream).Bool("usage_reported", ctx.usage.present);
  auto emit = [&events, buffered](audit::Event e) {
    return buffered ? events.EmitBuffered(std::move(e)) : events.EmitSeq(std::move(e));
  };
  uint64_t last =
      emit(audit::Event{"LLM_CALL", ctx.agent->spec.ns, ctx.agent->spec.name, {}, d.Take()});
  for (const ToolCall& tc : ctx.tool_calls) {
    audit::CanonicalDetail t;
    t.String("call_id", tc.id)
        .Int("choice", tc.choice)
        .Int("index", tc.index)
        .String("model", ctx.model->ref)
        .String("request_id", ctx.request_id);
    if (!ctx.session.empty()) t.String("session", ctx.session);
    t.String("tool_name", tc.name);
    last = emit(audit::Event{"TOOL_CALL", ctx.agent->spec.ns, ctx.agent->spec.name, {}, t.Take()});
  }
  return last;
}

std::unique_ptr<Stage> MakeRouteStage(const audit::Chain* chain) {
  return std::make_unique<RouteStage>(chain);
}
std::unique_ptr<Stage> MakeReplyStage() { return std::make_unique<ReplyStage>(); }
std::unique_ptr<Stage> MakeAuditStage(audit::EventSink* events, SessionTotals& sessions) {
  return std::make_unique<AuditStage>(events, sessions);
}
std::unique_ptr<Stage> MakeMetricsStage(Metrics& metrics) {
  return std::make_unique<MetricsStage>(metrics);
}
std::unique_ptr<Stage> MakeAccessLogStage() { return std::make_unique<AccessLogStage>(); }

}  // namespace pai::gateway
