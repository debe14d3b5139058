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
#include "absl/status/statusor.h"
#include "audit/event_sink.h"
#include "budget/budget_store.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/stages/input_tokens.h"
#include "gateway/telemetry/metrics.h"

namespace pai::gateway {

inline constexpr int kMaxProviderAttempts = 3;  // primary + 2 fallbacks

// A provider's input count (InputCounter) becomes an input bound of
// ceil(count × (100 + margin) / 100) + kCountSlack tokens: the providers document their counts
// as estimates (docs/budgets.md, "Provider counts"). The margin is --count-margin-percent.
inline constexpr int kDefaultCountMarginPercent = 2;
inline constexpr int64_t kCountSlack = 4;
int64_t CountedInputBound(int64_t count, int margin_percent);
// A budget with less room than this (tokens) is not worth a count: a prompt that small would
// have fit its byte bound, or nearly (saves a provider round trip per refused request).
inline constexpr int64_t kMinCountRoom = 32;

// UsageOf() is what the current provider attempt used, as settlement charges it: the provider's
// usage, else zero (nothing sent, or a provider error status) or the no-usage rule.
budget::Usage UsageOf(const RequestContext& ctx);

class Admission {
 public:
  Admission(budget::BudgetStore& store, audit::EventSink& events, Metrics& metrics,
            int count_margin_percent = kDefaultCountMarginPercent)
      : store_(store),
        events_(events),
        metrics_(metrics),
        count_margin_percent_(count_margin_percent) {}

  // Admit() takes the request's slot and reserves the budget for ctx.model; when a budget
  // refuses that model, the next models of the agent's chain are tried in order (ctx.model
  // changes). Errors: ResourceExhausted (429, with Retry-After in ctx.reply.headers) or
  // InvalidArgument (400: per-request limit, unknown price) for the first refusal.
  //
  // Provider counts: when ctx.model's input bound is its byte size (no public tokenizer), its
  // provider can count (anthropic, gemini), ctx.input_counter is set, and a daily token or USD
  // budget or its provider's daily cap refuses that bound while something remains, Admit()
  // refuses nothing yet: it sets ctx.count_route to ctx.model and returns OK with nothing
  // reserved (the slot is held). The caller asks the provider, then calls AdmitCounted().
  absl::Status Admit(RequestContext& ctx) const;

  // AdmitCounted() records the provider's answer for ctx.count_route (a count, or the error
  // that leaves the byte bound standing) and resumes admission there with the counted bound.
  // Errors as Admit().
  absl::Status AdmitCounted(RequestContext& ctx, const absl::StatusOr<int64_t>& count) const;

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
  // RequestFor() is the reservation asked for ctx's request on `route`; `method` (optional)
  // receives how its input bound was obtained.
  budget::ReserveRequest RequestFor(const RequestContext& ctx, const ModelRoute& route,
                                    InputMethod* method = nullptr) const;
  absl::Status Reject(RequestContext& ctx, const budget::Rejection& r,
                      const ModelRoute* route) const;
  void SetRateHeaders(RequestContext& ctx) const;
  // NoteInvalidUsage(): counts and logs a charge whose usage check was not OK.
  void NoteInvalidUsage(const RequestContext& ctx, const budget::Usage& u) const;

  budget::BudgetStore& store_;
  audit::EventSink& events_;
  Metrics& metrics_;
  int count_margin_percent_;
};

}  // namespace pai::gateway
