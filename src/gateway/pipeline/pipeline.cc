#include "gateway/pipeline/pipeline.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "gateway/http/errors.h"
#include "gateway/providers/adapter.h"
#include "gateway/stages/admission.h"
#include "gateway/stages/outcome.h"

namespace pai::gateway {
namespace {

// Authenticate: `Authorization: Bearer <agent token>` → the Agent of the current config.
class AuthenticateStage final : public Stage {
 public:
  explicit AuthenticateStage(const Snapshot<auth::TokenStore>& tokens) : tokens_(tokens) {}
  std::string_view name() const override { return "authenticate"; }

  std::optional<absl::Status> Decide(RequestContext& ctx) override {
    std::string agent_key = ctx.preauthenticated_agent;
    ctx.session = ctx.preauthenticated_session;
    if (ctx.preauthenticated_agent.empty()) {
      const auto store = tokens_.Get();
      auto who = AuthenticateBearerIdentity(ctx.authorization, store.get());
      if (!who.ok()) return who.status();
      agent_key = std::move(who->agent);
      ctx.session = std::move(who->session);
    }
    ctx.agent = ctx.runtime->FindAgent(agent_key);
    if (!ctx.agent) {
      return MakeError(absl::StatusCode::kUnauthenticated,
                       "The agent this token belongs to is not configured.", "invalid_api_key");
    }
    return absl::OkStatus();
  }

 private:
  const Snapshot<auth::TokenStore>& tokens_;
};

// Parse: validate the body of routes that take one and extract the fields later stages use.
class ParseStage final : public Stage {
 public:
  std::string_view name() const override { return "parse"; }

  std::optional<absl::Status> Decide(RequestContext& ctx) override {
    if (ctx.route == Route::kChatCompletions) {
      auto req = ParseChatCompletionRequest(*ctx.body);
      if (!req.ok()) return req.status();
      ctx.stream = req->stream;
      ctx.chat = std::move(*req);
    } else if (ctx.route == Route::kEmbeddings) {
      auto req = ParseEmbeddingsRequest(*ctx.body);
      if (!req.ok()) return req.status();
      ctx.embeddings = std::move(*req);
    } else if (ctx.route == Route::kMessages || ctx.route == Route::kCountTokens) {
      auto req = ParseAnthropicMessagesRequest(*ctx.body, ctx.route == Route::kMessages);
      if (!req.ok()) return req.status();
      ctx.stream = req->stream && ctx.route == Route::kMessages;
      ctx.native = std::move(*req);
    } else if (ctx.route == Route::kResponses) {
      auto req = ParseResponsesRequest(*ctx.body);
      if (!req.ok()) return req.status();
      ctx.stream = req->stream;
      ctx.native = std::move(*req);
    }
    return absl::OkStatus();
  }
};

// ResolveModel: the requested model → one of the agent's routes (403 / 404 otherwise).
class ResolveModelStage final : public Stage {
 public:
  std::string_view name() const override { return "resolve_model"; }

  std::optional<absl::Status> Decide(RequestContext& ctx) override {
    const std::string* requested = ctx.chat         ? &ctx.chat->model
                                   : ctx.embeddings ? &ctx.embeddings->model
                                   : ctx.native     ? &ctx.native->model
                                                    : nullptr;
    if (!requested) return absl::OkStatus();
    auto route = ctx.runtime->ResolveModel(*ctx.agent, *requested);
    if (!route.ok()) return route.status();
    const config::ProviderKind kind = (*route)->provider->spec.kind;
    if (!AdapterOf(**route).Serves(ctx.route)) {
      return MakeError(
          absl::StatusCode::kInvalidArgument,
          pai::StrCat("The model \"", *requested, "\" is served by ModelProvider ",
                      (*route)->provider->spec.name, " (provider ", config::ProviderKindName(kind),
                      "), which does not offer ", RouteLabel(ctx.route)),
          "unsupported_model", "model");
    }
    ctx.model = *route;
    return absl::OkStatus();
  }
};

}  // namespace

absl::StatusOr<std::string> AuthenticateBearer(std::string_view authorization,
                                               const auth::TokenStore* tokens) {
  auto who = AuthenticateBearerIdentity(authorization, tokens);
  if (!who.ok()) return who.status();
  return std::move(who->agent);
}

absl::StatusOr<auth::Identity> AuthenticateBearerIdentity(std::string_view authorization,
                                                          const auth::TokenStore* tokens) {
  std::string_view header = SV(absl::StripAsciiWhitespace(AV(authorization)));
  if (header.empty()) {
    return MakeError(absl::StatusCode::kUnauthenticated,
                     "You didn't provide an API key. Send your agent token as "
                     "'Authorization: Bearer <token>'.",
                     "invalid_api_key");
  }
  if (header.size() < 7 || !absl::EqualsIgnoreCase(AV(header.substr(0, 7)), "bearer ")) {
    return MakeError(absl::StatusCode::kUnauthenticated,
                     "Unsupported authorization scheme: use 'Authorization: Bearer <token>'.",
                     "invalid_api_key");
  }
  const std::string_view token = SV(absl::StripAsciiWhitespace(AV(header.substr(7))));
  auto who = tokens ? tokens->AuthenticateIdentity(token)
                    : absl::StatusOr<auth::Identity>(absl::UnauthenticatedError(""));
  if (!who.ok()) {
    return MakeError(absl::StatusCode::kUnauthenticated,
                     "Incorrect or revoked agent token provided.", "invalid_api_key");
  }
  return who;
}

Task<absl::Status> Stage::OnRequest(RequestContext& /*ctx*/) { co_return absl::OkStatus(); }

Pipeline::Pipeline(std::vector<std::unique_ptr<Stage>> stages, Metrics& metrics)
    : stages_(std::move(stages)), metrics_(metrics) {
  for (const auto& s : stages_) {
    metric_index_.push_back(metrics_.RegisterStage(s->name()));
    request_side_.push_back(s->request_side());
  }
}

Task<absl::Status> Pipeline::RunRequest(RequestContext& ctx, size_t* ran) const {
  *ran = 0;
  for (size_t i = 0; i < stages_.size(); ++i) {
    ++*ran;
    if (!request_side_[i]) continue;
    absl::Status s;
    if (std::optional<absl::Status> now = stages_[i]->Decide(ctx)) {
      s = std::move(*now);
    } else {
      s = co_await stages_[i]->OnRequest(ctx);
    }
    if (!s.ok()) {
      metrics_.stage_rejections(metric_index_[i]).Increment();
      co_return s;
    }
  }
  co_return absl::OkStatus();
}

void Pipeline::RunResponse(RequestContext& ctx, size_t ran) const {
  for (size_t i = ran; i-- > 0;) stages_[i]->OnResponse(ctx);
}

std::vector<std::string_view> Pipeline::stage_names() const {
  std::vector<std::string_view> names;
  for (const auto& s : stages_) names.push_back(s->name());
  return names;
}

// Admit: request-window and concurrency slots, then a budget reservation for the model (or
// the first model of its fallback chain that fits). Settles on the response side.
class AdmitStage final : public Stage {
 public:
  explicit AdmitStage(const Admission& admission) : admission_(admission) {}
  std::string_view name() const override { return "admit"; }
  std::optional<absl::Status> Decide(RequestContext& ctx) override {
    // GET /v1/models; counting tokens is not a model call (no budget, no LLM_CALL).
    if (!ctx.model || ctx.route == Route::kCountTokens) return absl::OkStatus();
    absl::Status s = admission_.Admit(ctx);
    if (ctx.count_route && !ctx.count_done) return std::nullopt;  // OnRequest() asks
    return s;
  }
  Task<absl::Status> OnRequest(RequestContext& ctx) override {
    // The byte bound did not fit a budget: the provider counts the input (one call).
    absl::StatusOr<int64_t> count = co_await ctx.input_counter->CountInput(ctx, *ctx.count_route);
    co_return admission_.AdmitCounted(ctx, count);
  }
  void OnResponse(RequestContext& ctx) override { admission_.Finish(ctx); }

 private:
  const Admission& admission_;
};

// Guard: prompt-injection classification of prompts and tool results (guard.h).
class GuardStage final : public Stage {
 public:
  explicit GuardStage(const Guards& guards) : guards_(guards) {}
  std::string_view name() const override { return "guard"; }
  std::optional<absl::Status> Decide(RequestContext& ctx) override {
    if (!ctx.agent || ctx.agent->guards.empty()) return absl::OkStatus();
    return std::nullopt;  // OnRequest() scans
  }
  Task<absl::Status> OnRequest(RequestContext& ctx) override {
    absl::Status s = co_await guards_.ScanRequest(ctx);
    co_return s;  // g++ 12: no `co_return co_await`
  }

 private:
  const Guards& guards_;
};

std::unique_ptr<Pipeline> BuildPipeline(const Snapshot<auth::TokenStore>& tokens,
                                        const Admission& admission, const Guards& guards,
                                        Metrics& metrics, const PipelineSinks& sinks) {
  // The stages run in this order on the way in and in the reverse order on the way out (each
  // whose way in ran, also after a rejection, an upstream failure or a client abort). The
  // first four act only on the way out, so they see every request and run last.
  std::vector<std::unique_ptr<Stage>> stages;
  // Out, last: the access log line, once everything about the request is known.
  if (sinks.access_log) stages.push_back(MakeAccessLogStage());
  // Out: request count and duration by route and status — after the reply stage set the
  // status.
  stages.push_back(MakeMetricsStage(metrics));
  // Out: the LLM_CALL record with the status the client gets, after settlement (admit) fixed
  // the charge, and the Session's totals. A success wrote it before its last bytes already
  // (durable before visible, server/agent_request.cc); this stage writes it for every other
  // outcome.
  stages.push_back(MakeAuditStage(sinks.call_records, *sinks.sessions));
  // Out: a rejection or failure becomes the error answer in the client's API — after every
  // later stage unwound, so settlement freed the budget and the concurrency slot before the
  // client can see the answer and retry.
  stages.push_back(MakeReplyStage());
  // In: what is not an agent call (unknown path, wrong method, audit chain stopped) costs
  // nothing more.
  stages.push_back(MakeRouteStage(sinks.chain));
  // Authenticate first of the agent's stages: an unauthenticated caller costs no body parsing
  // and learns nothing about models (401 before 400/403/404).
  stages.push_back(std::make_unique<AuthenticateStage>(tokens));
  // Parse the body: everything after needs the model and the stream flag.
  stages.push_back(std::make_unique<ParseStage>());
  // Resolve the model against the agent's allow-list (403 / 404).
  stages.push_back(std::make_unique<ResolveModelStage>());
  // Admit: rate, concurrency and budget reservation — after resolution because budgets depend
  // on the model (price) and provider (daily cap); before the upstream call because the
  // reservation sets the output limit the provider is held to. Out: settlement.
  stages.push_back(std::make_unique<AdmitStage>(admission));
  // Guard: classify prompts and tool results — after admission, so that a rate-limited or
  // over-budget caller costs no classification (an http classifier call is not free), and
  // the concurrency slot covers the classifier's time too. A refusal here settles at zero.
  stages.push_back(std::make_unique<GuardStage>(guards));
  return std::make_unique<Pipeline>(std::move(stages), metrics);
}

}  // namespace pai::gateway
