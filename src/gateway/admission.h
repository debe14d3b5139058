// Admission: how the gateway applies an Agent's and a ModelProvider's limits to one request
// (docs/budgets.md). Used by the admit stage (pipeline.cc) and by the terminal step for
// fallbacks after a provider failure.
//
// Input sizes: the reservation needs a strict upper bound of the input tokens before the call:
// the model's own tokenizer where it is public, else the body size (input_tokens.h).
//
// Thread safety: const methods, safe from any thread (the BudgetStore is thread-safe).
#pragma once

#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "audit/event_sink.h"
#include "budget/budget_store.h"
#include "gateway/metrics.h"
#include "gateway/pipeline.h"

namespace pai::gateway {

inline constexpr int kMaxProviderAttempts = 3;  // primary + 2 fallbacks

// UsageOf() is what the current provider attempt used, as settlement charges it: the provider's
// usage, else zero (nothing sent, or a provider error status) or the no-usage rule.
budget::Usage UsageOf(const RequestContext& ctx);

class Admission {
 public:
  Admission(budget::BudgetStore& store, audit::EventSink& events, Metrics& metrics)
      : store_(store), events_(events), metrics_(metrics) {}

  // Admit() takes the request's slot and reserves the budget for ctx.model; when a budget
  // refuses that model, the next models of the agent's chain are tried in order (ctx.model
  // changes). Errors: ResourceExhausted (429, with Retry-After in ctx.response_headers) or
  // InvalidArgument (400: per-request limit, unknown price) for the first refusal.
  absl::Status Admit(RequestContext& ctx) const;

  // Fallback() is called after a provider attempt failed before any byte reached the client:
  // it settles that attempt (no usage) and reserves the next model of the chain that fits.
  // NotFound when the chain is exhausted or the attempt limit is reached.
  absl::Status Fallback(RequestContext& ctx, Metrics::FallbackReason reason) const;

  // Finish() settles the current reservation with ctx.usage (or the no-usage rule), records
  // the cost, and releases the request slot. Idempotent.
  void Finish(RequestContext& ctx) const;

  budget::BudgetStore& store() const { return store_; }

 private:
  // ReserveFrom() walks ctx.agent's models from index `from`, reserving the first that fits.
  // `moved_for`: the reason a fallback after a provider failure moves on (counted on success);
  // without it, a model skipped for its budget counts as an over_budget fallback.
  absl::Status ReserveFrom(RequestContext& ctx, size_t from,
                           std::optional<Metrics::FallbackReason> moved_for) const;
  budget::ReserveRequest RequestFor(const RequestContext& ctx, const ModelRoute& route) const;
  absl::Status Reject(RequestContext& ctx, const budget::Rejection& r,
                      const ModelRoute* route) const;
  void SetRateHeaders(RequestContext& ctx) const;
  // NoteInvalidUsage(): counts and logs a charge whose usage check was not OK.
  void NoteInvalidUsage(const RequestContext& ctx, const budget::Usage& u) const;

  budget::BudgetStore& store_;
  audit::EventSink& events_;
  Metrics& metrics_;
};

}  // namespace pai::gateway
