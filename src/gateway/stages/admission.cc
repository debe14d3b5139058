#include "gateway/stages/admission.h"

#include "budget/saturating.h"
#include "common/log.h"
#include "common/strings.h"
#include "gateway/http/errors.h"
#include "gateway/providers/adapter.h"
#include "gateway/stages/input_tokens.h"

namespace pai::gateway {
namespace {

// Duration() formats seconds the way OpenAI's x-ratelimit-reset-* headers do: "1h2m3s", "6m0s",
// "12s".
std::string Duration(int64_t s) {
  if (s < 60) return pai::StrCat(s, "s");
  if (s < 3600) return pai::StrCat(s / 60, "m", s % 60, "s");
  return pai::StrCat(s / 3600, "h", (s % 3600) / 60, "m", s % 60, "s");
}

bool IsDaily(budget::Limit l) {
  return l == budget::Limit::kTokensPerDay || l == budget::Limit::kCostPerDay ||
         l == budget::Limit::kProviderTokensPerDay;
}

std::string Unit(budget::Limit l, int64_t v) {
  if (l == budget::Limit::kCostPerDay) return pai::StrCat("$", static_cast<double>(v) / 1e9);
  if (l == budget::Limit::kRequestsPerMinute || l == budget::Limit::kConcurrentRequests) {
    return pai::StrCat(v, " requests");
  }
  return pai::StrCat(v, " tokens");
}

}  // namespace

int64_t CountedInputBound(int64_t count, int margin_percent) {
  const int64_t n = std::max<int64_t>(0, count);
  const int64_t with_margin =
      budget::SatAdd(n, budget::SatAdd(budget::SatMul(n, std::max(0, margin_percent)), 99) / 100);
  return budget::SatAdd(with_margin, kCountSlack);
}

namespace {

// CanCount(): the provider of `route` has a token-counting endpoint the gateway speaks.
bool CanCount(const ModelRoute& route) { return AdapterOf(route).CountsTokens(); }

// CountCanHelp(): `r` refused the input bound of a daily budget that still has room for a
// counted bound (more than kMinCountRoom tokens), so it may fit.
bool CountCanHelp(const budget::Rejection& r) {
  if (r.per_choice) return false;
  const int64_t left = budget::SatSub(r.limit_value, r.used);
  switch (r.limit) {
    case budget::Limit::kTokensPerDay:
    case budget::Limit::kProviderTokensPerDay:
      return left > kMinCountRoom;
    case budget::Limit::kCostPerDay:
      return left > 0;
    default:
      return false;
  }
}

}  // namespace

budget::ReserveRequest Admission::RequestFor(const RequestContext& ctx, const ModelRoute& route,
                                             InputMethod* method) const {
  budget::ReserveRequest r;
  r.agent = ctx.agent->key;
  r.provider = route.provider->budget_scope;
  r.agent_limits = ctx.agent->limits;
  r.provider_tokens_per_day = route.provider->spec.max_tokens_day;
  InputBound input = InputBoundFor(ctx, route);  // input_tokens.h
  if (ctx.count_route == &route && ctx.counted_input > 0 && ctx.counted_input < input.upper) {
    input = {ctx.counted_input, std::min(input.estimate, ctx.counted_input),
             InputMethod::kProviderCount};
  }
  if (method) *method = input.method;
  r.input_upper = input.upper;
  r.input_estimate = input.estimate;
  if (ctx.native && ctx.native->max_output) r.requested_output = *ctx.native->max_output;
  if (ctx.chat) {
    if (ctx.chat->max_completion_tokens) {
      r.requested_output = *ctx.chat->max_completion_tokens;
    } else if (ctx.chat->max_tokens) {
      r.requested_output = *ctx.chat->max_tokens;
    }
  }
  if (ctx.chat) r.choices = ctx.chat->n;
  r.produces_output = ctx.route == Route::kChatCompletions || ctx.route == Route::kMessages ||
                      ctx.route == Route::kResponses;
  r.price = route.price;
  return r;
}

absl::Status Admission::Reject(RequestContext& ctx, const budget::Rejection& r,
                               const ModelRoute* route) const {
  const std::string_view name = budget::LimitName(r.limit);
  metrics_.budget_rejections(static_cast<int>(r.limit)).Increment();
  if (r.limit == budget::Limit::kStoreUnavailable) {
    // Not a budget decision (no BUDGET_EXCEEDED record): nothing could be checked.
    ctx.reply.headers.emplace_back("Retry-After", "1");
    return MakeError(absl::StatusCode::kUnavailable,
                     pai::StrCat("The budget store is unreachable, so the limits of Agent ",
                                 ctx.agent->key, " cannot be checked. Retry after 1 s."),
                     "budget_store_unavailable");
  }
  audit::Event ev;
  ev.type = audit::kBudgetExceeded;
  ev.ns = ctx.agent->spec.ns;
  ev.agent = ctx.agent->spec.name;
  ev.detail["limit"] = name;
  if (r.limit == budget::Limit::kCostPerDay) {
    ev.detail["limit_value_usd"] = static_cast<double>(r.limit_value) / 1e9;
    ev.detail["used_usd"] = static_cast<double>(r.used) / 1e9;
    ev.detail["requested_usd"] = static_cast<double>(r.requested) / 1e9;
  } else {
    ev.detail["limit_value"] = r.limit_value;
    ev.detail["used"] = r.used;
    ev.detail["requested"] = r.requested;
  }
  if (route) {
    ev.detail["model"] = route->ref;
    ev.detail["provider"] = route->provider ? route->provider->spec.name : "";
  }
  ev.detail["request_id"] = ctx.request_id;
  if (!ctx.session.empty()) ev.detail["session"] = ctx.session;
  events_.Emit(std::move(ev));

  const std::string who = pai::StrCat("Agent ", ctx.agent->key);
  if (r.per_choice) {
    // Some output fits, but not one token for each of the n choices: n is what to change.
    const int64_t n = ctx.chat ? ctx.chat->n : 1;
    return MakeError(
        absl::StatusCode::kInvalidArgument,
        pai::StrCat("n: ", n, " choices need at least one output token each; ", who, "'s ", name,
                    " limit leaves less than that (limit ", Unit(r.limit, r.limit_value),
                    ", in use ", Unit(r.limit, r.used), "). Ask for fewer choices."),
        "invalid_request_error", "n");
  }
  switch (r.limit) {
    case budget::Limit::kTokensPerRequest:
      return MakeError(absl::StatusCode::kInvalidArgument,
                       pai::StrCat("This request needs about ", r.requested,
                                   " tokens (input estimate + requested output), more than ", who,
                                   "'s spec.tokens.maxPerRequest of ", r.limit_value, "."),
                       "context_length_exceeded", "messages");
    case budget::Limit::kPriceUnknown:
      return MakeError(
          absl::StatusCode::kInvalidArgument,
          pai::StrCat(who, " has a USD budget but model ", route ? route->ref : std::string("?"),
                      " has no price: add it to its ModelProvider's spec.pricing."),
          "model_price_unknown", "model");
    default:
      break;
  }
  ctx.reply.headers.emplace_back("Retry-After", pai::StrCat(std::max<int64_t>(1, r.retry_after_s)));
  return MakeError(
      absl::StatusCode::kResourceExhausted,
      pai::StrCat(who, " exceeded its ", name, " limit (limit ", Unit(r.limit, r.limit_value),
                  ", in use ", Unit(r.limit, r.used), ", this request needs at least ",
                  Unit(r.limit, r.requested), "). Retry after ",
                  Duration(std::max<int64_t>(1, r.retry_after_s)), "."),
      IsDaily(r.limit) ? "insufficient_quota" : "rate_limit_exceeded");
}

absl::Status Admission::ReserveFrom(RequestContext& ctx, size_t from,
                                    std::optional<Metrics::FallbackReason> moved_for) const {
  absl::Status first_refusal;
  const ModelRoute* first_route = nullptr;
  for (size_t i = from; i < ctx.agent->models.size(); ++i) {
    const ModelRoute& route = ctx.agent->models[i];
    if (!route.provider) continue;
    // A fallback must speak the route's API (Messages → anthropic, Responses → openai).
    if (!AdapterOf(route).Serves(ctx.route)) continue;
    InputMethod method = InputMethod::kBodyBytes;
    auto result = store_.Reserve(RequestFor(ctx, route, &method));
    if (auto* reservation = std::get_if<budget::Reservation>(&result)) {
      if (moved_for) {
        metrics_.fallbacks(*moved_for).Increment();
      } else if (i != from) {
        metrics_.fallbacks(Metrics::FallbackReason::kOverBudget).Increment();
      }
      if (ctx.first_model.empty()) ctx.first_model = ctx.model->ref;
      ctx.model = &route;
      ctx.reservation = std::move(*reservation);
      ctx.admitted = true;
      return absl::OkStatus();
    }
    const auto& rejection = std::get<budget::Rejection>(result);
    if (i == from && !moved_for && !ctx.count_done && ctx.input_counter &&
        method == InputMethod::kBodyBytes && CanCount(route) && CountCanHelp(rejection)) {
      // The byte bound does not fit: ask the provider before refusing (AdmitCounted()).
      ctx.count_route = &route;
      return absl::OkStatus();
    }
    absl::Status s = Reject(ctx, rejection, &route);
    if (!first_route) {
      first_refusal = s;
      first_route = &route;
    }
    // Limits that are the same for every model end the walk.
    if (rejection.limit == budget::Limit::kTokensPerDay ||
        rejection.limit == budget::Limit::kTokensPerRequest ||
        rejection.limit == budget::Limit::kStoreUnavailable) {
      break;
    }
  }
  if (first_route) return first_refusal;
  return MakeError(absl::StatusCode::kNotFound, "no further model to fall back to",
                   "model_not_found");
}

absl::Status Admission::Admit(RequestContext& ctx) const {
  const budget::AgentLimits& lim = ctx.agent->limits;
  if (lim.requests_per_minute > 0 || lim.concurrent_requests > 0) {
    if (auto r = store_.AcquireSlot(ctx.agent->key, lim)) {
      absl::Status refused = Reject(ctx, *r, ctx.model);
      SetRateHeaders(ctx);
      return refused;
    }
    ctx.slot_held = true;
  }
  ctx.attempts = 1;
  absl::Status s = ReserveFrom(ctx, ctx.model->index, std::nullopt);
  if (ctx.count_route && !ctx.count_done) return s;  // the caller asks the provider first
  SetRateHeaders(ctx);
  return s;
}

absl::Status Admission::AdmitCounted(RequestContext& ctx,
                                     const absl::StatusOr<int64_t>& count) const {
  ctx.count_done = true;
  const ModelRoute& route = *ctx.count_route;
  if (count.ok()) {
    ctx.counted_input = CountedInputBound(*count, count_margin_percent_);
    metrics_.input_counts(true).Increment();
  } else {
    metrics_.input_counts(false).Increment();
    log::Warn("provider input count failed; the byte bound stands",
              {{"request_id", ctx.request_id},
               {"model", route.ref},
               {"error", std::string(count.status().message())}});
  }
  absl::Status s = ReserveFrom(ctx, route.index, std::nullopt);
  SetRateHeaders(ctx);
  return s;
}

absl::Status Admission::Fallback(RequestContext& ctx, Metrics::FallbackReason reason) const {
  if (ctx.attempts >= kMaxProviderAttempts) {
    return MakeError(absl::StatusCode::kNotFound, "attempt limit reached", "");
  }
  if (ctx.reservation) {
    // A provider error or a request that never left costs nothing; a call the provider may have
    // billed (timed out after it was sent, a 2xx answer refused) is charged (UsageOf).
    store_.Settle(*ctx.reservation, UsageOf(ctx));
    ctx.reservation.reset();
  }
  absl::Status s = ReserveFrom(ctx, ctx.model->index + 1, reason);
  if (s.ok()) ++ctx.attempts;
  return s;
}

budget::Usage UsageOf(const RequestContext& ctx) {
  budget::Usage u;
  u.reported = ctx.usage.present;
  u.input = ctx.usage.prompt_tokens;
  u.cached_input = ctx.usage.cached_tokens;
  u.output = ctx.usage.completion_tokens;
  u.cache_write = ctx.usage.cache_creation_tokens;
  u.cache_write_1h = ctx.usage.cache_creation_1h_tokens;
  u.reasoning = ctx.usage.reasoning_tokens;
  u.response_bytes = ctx.response_bytes;
  // Without usage, a call used nothing only when nothing was relayed and its request never
  // reached a provider, or the provider answered an error status (providers do not bill those).
  // A call the provider may have billed — the client left before the answer, the answer timed
  // out, or a 2xx answer was refused as unreadable — falls under the no-usage rule (charged its
  // reservation), never zero.
  const bool provider_error = ctx.upstream_status >= 300;
  if (!u.reported && ctx.response_bytes == 0 && (!ctx.upstream_sent || provider_error)) {
    u.reported = true;
  }
  return u;
}

void Admission::Finish(RequestContext& ctx) const {
  if (ctx.reservation) {
    const budget::Usage u = UsageOf(ctx);
    ctx.charge = store_.Settle(*ctx.reservation, u);
    if (ctx.charge.check != budget::UsageCheck::kOk) NoteInvalidUsage(ctx, u);
    ctx.reservation.reset();
    if (ctx.model && ctx.charge.nano_usd > 0) {
      ctx.model->metrics.cost_usd->Increment(static_cast<double>(ctx.charge.nano_usd) / 1e9);
    }
    // The remaining-budget and outstanding-reservation gauges are read from the store when
    // /metrics is scraped (server.cc), not kept here on every call.
  }
  if (ctx.slot_held) {
    store_.ReleaseSlot(ctx.agent->key);
    ctx.slot_held = false;
  }
}

void Admission::NoteInvalidUsage(const RequestContext& ctx, const budget::Usage& u) const {
  const std::string_view reason = budget::UsageCheckName(ctx.charge.check);
  metrics_.usage_invalid(static_cast<int>(ctx.charge.check)).Increment();
  boost::json::object line;
  line["request_id"] = ctx.request_id;
  line["reason"] = reason;
  if (ctx.model) line["model"] = ctx.model->ref;
  line["input_tokens"] = u.input;
  line["output_tokens"] = u.output;
  line["reserved_tokens"] = ctx.reservation ? ctx.reservation->tokens : 0;
  line["charged_tokens"] = ctx.charge.tokens;
  log::Warn("provider usage not charged as reported", std::move(line));
}

void Admission::SetRateHeaders(RequestContext& ctx) const {
  const budget::AgentLimits& lim = ctx.agent->limits;
  if (lim.requests_per_minute <= 0 && lim.tokens_per_day <= 0) return;
  const budget::Remaining rem = store_.RemainingFor(ctx.agent->key, lim);
  // OpenAI's header names (API reference, "Rate limits"): requests per minute and tokens per
  // day here, reset as a duration.
  if (rem.requests_limit >= 0) {
    ctx.reply.headers.emplace_back("x-ratelimit-limit-requests", pai::StrCat(rem.requests_limit));
    ctx.reply.headers.emplace_back("x-ratelimit-remaining-requests",
                                   pai::StrCat(rem.requests_remaining));
    ctx.reply.headers.emplace_back("x-ratelimit-reset-requests", Duration(rem.requests_reset_s));
  }
  if (rem.tokens_limit >= 0) {
    // What remained when this request was admitted: its own reservation is added back (it
    // may hold everything left as its output limit, yet will be settled at its actual usage).
    const int64_t own = ctx.reservation ? ctx.reservation->tokens : 0;
    ctx.reply.headers.emplace_back("x-ratelimit-limit-tokens", pai::StrCat(rem.tokens_limit));
    ctx.reply.headers.emplace_back(
        "x-ratelimit-remaining-tokens",
        pai::StrCat(std::min(rem.tokens_limit, budget::SatAdd(rem.tokens_remaining, own))));
    ctx.reply.headers.emplace_back("x-ratelimit-reset-tokens", Duration(rem.day_reset_s));
  }
}

}  // namespace pai::gateway
