// The gateway's Prometheus metrics (prometheus-cpp). Names and labels: docs/metrics.md.
//
// Families are created once; metric handles that a request touches are resolved when the
// configuration loads (ModelMetrics) or at construction (route × status class), never per
// request, because prometheus-cpp's Family::Add takes a lock. Labels are bounded: route, status
// class, namespace, agent, model, provider, type — never a token, prompt or request id.
//
// Thread safety: all methods are safe from any thread; handles are lock-free atomics.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "budget/budget_store.h"
#include "gateway/relay/stream_limits.h"

namespace pai::gateway {

// Route: the agent-facing routes, as metric label values.
enum class Route {
  kChatCompletions = 0,
  kModels,
  kEmbeddings,
  kMessages,
  kCountTokens,
  kResponses,
  kOther,
  kCount
};
// AnthropicRoute() is true for the routes that speak Anthropic's API (errors in its shape).
inline bool AnthropicRoute(Route r) { return r == Route::kMessages || r == Route::kCountTokens; }
std::string_view RouteLabel(Route route);

// ModelMetrics: handles for one (agent, model) pair and its provider.
struct ModelMetrics {
  prometheus::Counter* calls = nullptr;  // pai_gateway_model_calls_total
  prometheus::Counter* input_tokens = nullptr;
  prometheus::Counter* output_tokens = nullptr;
  prometheus::Histogram* upstream_duration = nullptr;  // gen_ai_server_request_duration_seconds
  prometheus::Histogram* time_to_first_token = nullptr;
  prometheus::Counter* upstream_errors = nullptr;  // pai_gateway_upstream_errors_total
  prometheus::Counter* cost_usd = nullptr;         // pai_gateway_cost_usd_total
};

// AgentMetrics: an agent's remaining-budget gauges (null when that budget is unlimited).
struct AgentMetrics {
  prometheus::Gauge* tokens_remaining = nullptr;
  prometheus::Gauge* usd_remaining = nullptr;
};

// GuardMetrics: handles for one GuardBinding (docs/metrics.md, "Guards").
struct GuardMetrics {
  // checks[(target * 3 + verdict) * 2 + enforce]: pai_gateway_guard_checks_total with
  // target prompt | tool_result | response, verdict pass | violation | error, enforcement
  // audit | enforce.
  std::array<prometheus::Counter*, 18> checks{};
  prometheus::Histogram* duration = nullptr;  // pai_gateway_guard_classifier_duration_seconds
  prometheus::Counter& check(int target, int verdict, bool enforce) const {
    return *checks[(target * 3 + verdict) * 2 + (enforce ? 1 : 0)];
  }
};

class Metrics {
 public:
  Metrics();

  // Serialize() renders every family in the Prometheus text exposition format 0.0.4.
  std::string Serialize() const;

  // ModelMetricsFor() resolves (and creates) the handles of one agent/model pair. Locks: call
  // when a configuration loads, not per request.
  ModelMetrics ModelMetricsFor(std::string_view ns, std::string_view agent, std::string_view model,
                               std::string_view provider);

  prometheus::Counter& requests(Route route, int http_status);
  prometheus::Histogram& duration(Route route) { return *duration_[static_cast<size_t>(route)]; }
  prometheus::Gauge& in_flight() { return *in_flight_; }
  prometheus::Counter& stage_rejections(size_t stage_index);
  // StageRejectionsFor() registers the rejection counter of a pipeline stage; returns its index.
  size_t RegisterStage(std::string_view stage);
  prometheus::Counter& config_reloads(bool success) {
    return success ? *reload_ok_ : *reload_fail_;
  }
  prometheus::Counter& upstream_connections(bool reused) {
    return reused ? *conn_reused_ : *conn_new_;
  }
  prometheus::Counter& stream_usage_missing() { return *usage_missing_; }
  // stream_limit_exceeded(): streams the gateway ended at one of its bounds (stream_limits.h).
  prometheus::Counter& stream_limit_exceeded(StreamLimit limit) {
    return *stream_limits_[static_cast<int>(limit)];
  }

  // GuardMetricsFor() resolves a GuardBinding's handles (locks: at configuration load).
  GuardMetrics GuardMetricsFor(std::string_view binding, std::string_view classifier);

  // AgentMetricsFor() resolves an agent's budget gauges and sets pai_gateway_budget_limit to
  // its daily limits (tokens; nano-USD, exported in USD; 0 = none). Locks: at configuration
  // load.
  AgentMetrics AgentMetricsFor(std::string_view ns, std::string_view agent, int64_t tokens_per_day,
                               int64_t nano_usd_per_day);
  // budget_rejections() by budget::Limit index (LimitName() is the `reason` label).
  prometheus::Counter& budget_rejections(int limit) { return *rejections_[limit]; }
  prometheus::Gauge& reservations_outstanding() { return *reservations_; }
  // usage_invalid() by budget::UsageCheck index (UsageCheckName() is the `reason` label; index
  // 0, "ok", is not counted).
  prometheus::Counter& usage_invalid(int check) { return *usage_invalid_[check]; }
  // input_counts(): provider token counts asked by admission (result "ok" / "error").
  prometheus::Counter& input_counts(bool ok) { return *input_counts_[ok ? 0 : 1]; }
  // Audit chain: how long requests waited for their record to be durable; chain state.
  prometheus::Histogram& audit_wait() { return *audit_wait_; }
  prometheus::Gauge& audit_records() { return *audit_records_; }
  prometheus::Gauge& audit_healthy() { return *audit_healthy_; }
  prometheus::Gauge& audit_synced() { return *audit_synced_; }
  // budget_store_up(): 1 while the budget store can be reached (always, embedded; Redis).
  prometheus::Gauge& budget_store_up() { return *budget_store_up_; }
  // fallbacks(): why a request moved to the next model of its chain.
  enum class FallbackReason {
    kOverBudget = 0,
    kUpstream429,
    kUpstream5xx,
    kUpstreamTimeout,
    kUpstreamError,
    kCount
  };
  prometheus::Counter& fallbacks(FallbackReason r) { return *fallbacks_[static_cast<int>(r)]; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_family_;
  prometheus::Family<prometheus::Counter>* tokens_family_;
  prometheus::Family<prometheus::Counter>* calls_family_;
  prometheus::Family<prometheus::Histogram>* upstream_duration_family_;
  prometheus::Family<prometheus::Histogram>* ttft_family_;
  prometheus::Family<prometheus::Counter>* upstream_errors_family_;
  prometheus::Family<prometheus::Counter>* stage_family_;
  static constexpr size_t kClasses = 5;  // 1xx..5xx
  std::array<prometheus::Counter*, static_cast<size_t>(Route::kCount) * kClasses> requests_{};
  std::array<prometheus::Histogram*, static_cast<size_t>(Route::kCount)> duration_{};
  std::vector<prometheus::Counter*> stages_;
  prometheus::Gauge* in_flight_;
  prometheus::Counter* reload_ok_;
  prometheus::Counter* reload_fail_;
  prometheus::Counter* conn_new_;
  prometheus::Counter* conn_reused_;
  prometheus::Counter* usage_missing_;
  std::array<prometheus::Counter*, static_cast<int>(StreamLimit::kCount)> stream_limits_{};
  prometheus::Family<prometheus::Counter>* cost_family_;
  prometheus::Family<prometheus::Gauge>* remaining_family_;
  prometheus::Family<prometheus::Gauge>* limit_family_;
  std::array<prometheus::Counter*, budget::kLimitCount> rejections_{};
  std::array<prometheus::Counter*, static_cast<int>(FallbackReason::kCount)> fallbacks_{};
  prometheus::Gauge* reservations_;
  std::array<prometheus::Counter*, 4> usage_invalid_{};
  std::array<prometheus::Counter*, 2> input_counts_{};
  prometheus::Family<prometheus::Counter>* guard_checks_family_;
  prometheus::Family<prometheus::Histogram>* guard_duration_family_;
  prometheus::Histogram* audit_wait_;
  prometheus::Gauge* audit_records_;
  prometheus::Gauge* budget_store_up_;
  prometheus::Gauge* audit_healthy_;
  prometheus::Gauge* audit_synced_;
};

}  // namespace pai::gateway
