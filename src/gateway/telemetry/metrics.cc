#include "gateway/telemetry/metrics.h"

#include <prometheus/text_serializer.h>

namespace pai::gateway {
namespace {

// LLM calls range from milliseconds (embeddings, cached) to minutes (long generations).
const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

}  // namespace

std::string_view RouteLabel(Route route) {
  switch (route) {
    case Route::kChatCompletions:
      return "/v1/chat/completions";
    case Route::kModels:
      return "/v1/models";
    case Route::kEmbeddings:
      return "/v1/embeddings";
    case Route::kMessages:
      return "/v1/messages";
    case Route::kCountTokens:
      return "/v1/messages/count_tokens";
    case Route::kResponses:
      return "/v1/responses";
    default:
      return "other";
  }
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  requests_family_ = &prometheus::BuildCounter()
                          .Name("pai_gateway_requests_total")
                          .Help("Agent-facing HTTP requests by route and status class.")
                          .Register(*registry_);
  auto& duration = prometheus::BuildHistogram()
                       .Name("pai_gateway_request_duration_seconds")
                       .Help("Agent-facing request duration, from request read to response end.")
                       .Register(*registry_);
  static constexpr std::string_view kClassNames[kClasses] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  for (size_t r = 0; r < static_cast<size_t>(Route::kCount); ++r) {
    const std::string route(RouteLabel(static_cast<Route>(r)));
    for (size_t c = 0; c < kClasses; ++c) {
      requests_[r * kClasses + c] =
          &requests_family_->Add({{"route", route}, {"status_class", std::string(kClassNames[c])}});
    }
    duration_[r] = &duration.Add({{"route", route}}, kLatencyBuckets);
  }
  in_flight_ = &prometheus::BuildGauge()
                    .Name("pai_gateway_requests_in_flight")
                    .Help("Agent-facing requests being served (streams count until they end).")
                    .Register(*registry_)
                    .Add({});
  calls_family_ = &prometheus::BuildCounter()
                       .Name("pai_gateway_model_calls_total")
                       .Help(
                           "Provider calls (mock included) by agent and model, whatever their "
                           "outcome.")
                       .Register(*registry_);
  tokens_family_ = &prometheus::BuildCounter()
                        .Name("pai_gateway_tokens_total")
                        .Help(
                            "LLM tokens by agent, model and type (input | output), as reported "
                            "by the provider's usage.")
                        .Register(*registry_);
  upstream_duration_family_ = &prometheus::BuildHistogram()
                                   .Name("gen_ai_server_request_duration_seconds")
                                   .Help(
                                       "Provider request duration, from sending the request "
                                       "to the last response byte (OpenTelemetry GenAI).")
                                   .Register(*registry_);
  ttft_family_ = &prometheus::BuildHistogram()
                      .Name("gen_ai_server_time_to_first_token_seconds")
                      .Help(
                          "Time from sending a streaming request to its first event "
                          "(OpenTelemetry GenAI).")
                      .Register(*registry_);
  upstream_errors_family_ = &prometheus::BuildCounter()
                                 .Name("pai_gateway_upstream_errors_total")
                                 .Help(
                                     "Provider calls that failed: connect, timeout, protocol "
                                     "errors and HTTP 5xx answers.")
                                 .Register(*registry_);
  stage_family_ = &prometheus::BuildCounter()
                       .Name("pai_gateway_stage_rejections_total")
                       .Help("Requests a pipeline stage rejected, by stage.")
                       .Register(*registry_);
  auto& reloads = prometheus::BuildCounter()
                      .Name("pai_gateway_config_reloads_total")
                      .Help("Configuration reloads by result (success | failure).")
                      .Register(*registry_);
  reload_ok_ = &reloads.Add({{"result", "success"}});
  reload_fail_ = &reloads.Add({{"result", "failure"}});
  auto& conns = prometheus::BuildCounter()
                    .Name("pai_gateway_upstream_connections_total")
                    .Help(
                        "Provider connections used, by whether the keep-alive pool supplied "
                        "them (reused | new).")
                    .Register(*registry_);
  conn_new_ = &conns.Add({{"pool", "new"}});
  conn_reused_ = &conns.Add({{"pool", "reused"}});
  cost_family_ = &prometheus::BuildCounter()
                      .Name("pai_gateway_cost_usd_total")
                      .Help("Cost of LLM calls in USD, from actual usage and the price table.")
                      .Register(*registry_);
  remaining_family_ = &prometheus::BuildGauge()
                           .Name("pai_gateway_budget_remaining")
                           .Help(
                               "What remains of an agent's daily budget (budget: tokens | "
                               "usd), reservations included.")
                           .Register(*registry_);
  limit_family_ = &prometheus::BuildGauge()
                       .Name("pai_gateway_budget_limit")
                       .Help(
                           "An agent's daily budget (budget: tokens | usd), as configured; with "
                           "pai_gateway_budget_remaining, the share left.")
                       .Register(*registry_);
  auto& rejections = prometheus::BuildCounter()
                         .Name("pai_gateway_budget_rejections_total")
                         .Help("Requests (or fallback attempts) refused by a limit, by reason.")
                         .Register(*registry_);
  for (int i = 0; i < budget::kLimitCount; ++i) {
    const std::string reason(budget::LimitName(static_cast<budget::Limit>(i)));
    rejections_[i] = &rejections.Add({{"reason", reason}});
  }
  auto& fallbacks = prometheus::BuildCounter()
                        .Name("pai_gateway_fallbacks_total")
                        .Help("Requests moved to the next model of their chain, by reason.")
                        .Register(*registry_);
  static constexpr const char* kFallbackReasons[] = {"over_budget", "upstream_429", "upstream_5xx",
                                                     "upstream_timeout", "upstream_error"};
  for (int i = 0; i < static_cast<int>(FallbackReason::kCount); ++i) {
    fallbacks_[i] = &fallbacks.Add({{"reason", kFallbackReasons[i]}});
  }
  auto& usage_invalid = prometheus::BuildCounter()
                            .Name("pai_gateway_usage_invalid_total")
                            .Help(
                                "Provider usage not charged as reported, by reason: negative "
                                "(charged as missing usage), above_reservation (charged as "
                                "reported), above_ceiling (charged up to the model's context "
                                "window + output cap).")
                            .Register(*registry_);
  static constexpr const char* kUsageReasons[] = {"negative", "above_reservation", "above_ceiling"};
  for (int i = 1; i < 4; ++i)
    usage_invalid_[i] = &usage_invalid.Add({{"reason", kUsageReasons[i - 1]}});
  usage_invalid_[0] = usage_invalid_[1];  // never incremented for kOk
  auto& input_counts = prometheus::BuildCounter()
                           .Name("pai_gateway_input_counts_total")
                           .Help(
                               "Provider token counts (Anthropic count_tokens, Gemini "
                               "countTokens) asked because a request's byte bound did not fit "
                               "a budget, by result: ok, or error (the byte bound stood).")
                           .Register(*registry_);
  input_counts_[0] = &input_counts.Add({{"result", "ok"}});
  input_counts_[1] = &input_counts.Add({{"result", "error"}});
  reservations_ = &prometheus::BuildGauge()
                       .Name("pai_gateway_budget_reservations_outstanding")
                       .Help("Budget reservations of calls in progress.")
                       .Register(*registry_)
                       .Add({});
  audit_wait_ = &prometheus::BuildHistogram()
                     .Name("pai_gateway_audit_wait_seconds")
                     .Help(
                         "Time a request waited for its audit records to be acknowledged "
                         "(written; synced with --audit-sync strict) before its response "
                         "completed.")
                     .Register(*registry_)
                     .Add({}, prometheus::Histogram::BucketBoundaries{
                                  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1});
  audit_records_ = &prometheus::BuildGauge()
                        .Name("pai_gateway_audit_durable_seq")
                        .Help(
                            "Sequence number of the newest acknowledged audit record "
                            "(written; synced with --audit-sync strict).")
                        .Register(*registry_)
                        .Add({});
  audit_synced_ = &prometheus::BuildGauge()
                       .Name("pai_gateway_audit_synced_seq")
                       .Help(
                           "Sequence number of the newest audit record synced to disk "
                           "(fdatasync).")
                       .Register(*registry_)
                       .Add({});
  audit_healthy_ = &prometheus::BuildGauge()
                        .Name("pai_gateway_audit_healthy")
                        .Help(
                            "1 while the audit chain accepts records, 0 after a write or "
                            "fsync failure stopped it.")
                        .Register(*registry_)
                        .Add({});
  budget_store_up_ = &prometheus::BuildGauge()
                          .Name("pai_gateway_budget_store_up")
                          .Help(
                              "1 while the budget store can be reached (the embedded store "
                              "always; Redis with --redis), 0 while budgeted calls are refused "
                              "with 503 for want of it.")
                          .Register(*registry_)
                          .Add({});
  budget_store_up_->Set(1);
  guard_checks_family_ = &prometheus::BuildCounter()
                              .Name("pai_gateway_guard_checks_total")
                              .Help(
                                  "Guard classifications by binding, scan target (prompt | "
                                  "tool_result | response), verdict (pass | violation | error) "
                                  "and effective enforcement (audit | enforce).")
                              .Register(*registry_);
  guard_duration_family_ = &prometheus::BuildHistogram()
                                .Name("pai_gateway_guard_classifier_duration_seconds")
                                .Help(
                                    "Time to classify one text (all its windows), by binding "
                                    "and classifier (builtin | http).")
                                .Register(*registry_);
  usage_missing_ = &prometheus::BuildCounter()
                        .Name("pai_gateway_usage_missing_total")
                        .Help("Provider responses that reported no token usage.")
                        .Register(*registry_)
                        .Add({});
  auto& stream_limits = prometheus::BuildCounter()
                            .Name("pai_gateway_stream_limit_exceeded_total")
                            .Help(
                                "Provider streams ended by the gateway at a stream limit, by "
                                "limit (event_bytes | stream_bytes | duration).")
                            .Register(*registry_);
  for (int i = 0; i < static_cast<int>(StreamLimit::kCount); ++i) {
    stream_limits_[i] =
        &stream_limits.Add({{"limit", std::string(StreamLimitLabel(static_cast<StreamLimit>(i)))}});
  }
}

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

prometheus::Counter& Metrics::requests(Route route, int http_status) {
  size_t c = static_cast<size_t>(http_status / 100);
  c = c < 1 ? 0 : (c > kClasses ? kClasses - 1 : c - 1);
  return *requests_[static_cast<size_t>(route) * kClasses + c];
}

size_t Metrics::RegisterStage(std::string_view stage) {
  stages_.push_back(&stage_family_->Add({{"stage", std::string(stage)}}));
  return stages_.size() - 1;
}

prometheus::Counter& Metrics::stage_rejections(size_t stage_index) { return *stages_[stage_index]; }

ModelMetrics Metrics::ModelMetricsFor(std::string_view ns, std::string_view agent,
                                      std::string_view model, std::string_view provider) {
  ModelMetrics m;
  const std::map<std::string, std::string> base = {{"namespace", std::string(ns)},
                                                   {"agent", std::string(agent)},
                                                   {"model", std::string(model)},
                                                   {"provider", std::string(provider)}};
  auto with = [&](const char* k, const char* v) {
    auto labels = base;
    labels[k] = v;
    return labels;
  };
  m.calls = &calls_family_->Add(base);
  m.input_tokens = &tokens_family_->Add(with("type", "input"));
  m.output_tokens = &tokens_family_->Add(with("type", "output"));
  const std::map<std::string, std::string> upstream = {{"model", std::string(model)},
                                                       {"provider", std::string(provider)}};
  m.upstream_duration = &upstream_duration_family_->Add(upstream, kLatencyBuckets);
  m.time_to_first_token = &ttft_family_->Add(upstream, kLatencyBuckets);
  m.upstream_errors = &upstream_errors_family_->Add(upstream);
  m.cost_usd = &cost_family_->Add(base);
  return m;
}

GuardMetrics Metrics::GuardMetricsFor(std::string_view binding, std::string_view classifier) {
  static constexpr const char* kTargets[] = {"prompt", "tool_result", "response"};
  static constexpr const char* kVerdicts[] = {"pass", "violation", "error"};
  static constexpr const char* kEnforcement[] = {"audit", "enforce"};
  GuardMetrics m;
  for (int t = 0; t < 3; ++t) {
    for (int v = 0; v < 3; ++v) {
      for (int e = 0; e < 2; ++e) {
        m.checks[(t * 3 + v) * 2 + e] =
            &guard_checks_family_->Add({{"binding", std::string(binding)},
                                        {"target", kTargets[t]},
                                        {"verdict", kVerdicts[v]},
                                        {"enforcement", kEnforcement[e]}});
      }
    }
  }
  // Builtin classification takes microseconds; http classifiers milliseconds.
  m.duration = &guard_duration_family_->Add(
      {{"binding", std::string(binding)}, {"classifier", std::string(classifier)}},
      prometheus::Histogram::BucketBoundaries{0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01,
                                              0.05, 0.1, 0.25, 0.5, 1, 5});
  return m;
}

AgentMetrics Metrics::AgentMetricsFor(std::string_view ns, std::string_view agent,
                                      int64_t tokens_per_day, int64_t nano_usd_per_day) {
  AgentMetrics m;
  auto labels = [&](const char* budget) {
    return std::map<std::string, std::string>{
        {"namespace", std::string(ns)}, {"agent", std::string(agent)}, {"budget", budget}};
  };
  if (tokens_per_day > 0) {
    m.tokens_remaining = &remaining_family_->Add(labels("tokens"));
    limit_family_->Add(labels("tokens")).Set(static_cast<double>(tokens_per_day));
  }
  if (nano_usd_per_day > 0) {
    m.usd_remaining = &remaining_family_->Add(labels("usd"));
    limit_family_->Add(labels("usd")).Set(static_cast<double>(nano_usd_per_day) / 1e9);
  }
  return m;
}

}  // namespace pai::gateway
