// The request pipeline: one ordered list of stages that every agent request passes through
// (shared/design/ARCHITECTURE.md, "Request pipeline"). A stage `co_await`s what it needs and
// returns OK to continue or a status that becomes the reply (errors.h maps it to HTTP). After
// the terminal step (the upstream call and relay), the response side of every stage that ran
// is invoked in reverse order — also after a rejection, an upstream failure or a client abort —
// so that settlement, audit and metrics always see the request.
//
// The order and the reason for each position is in BuildPipeline() (pipeline.cc).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/event_sink.h"
#include "auth/token_store.h"
#include "budget/budget_store.h"
#include "common/snapshot.h"
#include "gateway/config/runtime.h"
#include "gateway/pipeline/task.h"
#include "gateway/providers/native_request.h"
#include "gateway/providers/openai_request.h"
#include "gateway/providers/usage.h"
#include "gateway/stages/guard.h"
#include "gateway/telemetry/metrics.h"

namespace pai::audit {
class Chain;  // audit/chain.h
}  // namespace pai::audit

namespace pai::gateway {

struct RequestContext;

// InputCounter: asks a model provider how many input tokens a request has, where the model's
// tokenizer is not public: Anthropic's `POST /v1/messages/count_tokens` (Anthropic API
// reference, "Count tokens in a Message") and Gemini's `POST models/{model}:countTokens`
// (Gemini API reference, "models.countTokens"). The admit stage asks only when the request's
// byte bound does not fit what remains of a budget (docs/budgets.md, "Provider counts").
// One per shard; calls run on that shard's thread.
class InputCounter {
 public:
  virtual ~InputCounter() = default;
  // CountInput() is the provider's count of the input tokens of ctx's request sent to `route`
  // (whose provider is anthropic or gemini). Errors: InvalidArgument (the request cannot be
  // put in that provider's API), Unavailable (unreachable, an error status, an unreadable
  // answer), DeadlineExceeded (no answer within the counter's timeout).
  virtual Task<absl::StatusOr<int64_t>> CountInput(const RequestContext& ctx,
                                                   const ModelRoute& route) = 0;
};

// Reply: the response to the agent, owned here and nowhere else. Stages add its headers; the
// terminal step and the reply stage write it through server/agent_request.cc (which builds
// every HTTP response from it); audit, metrics and the access log read its status.
struct Reply {
  int status = 0;  // the HTTP status the client got (or is getting); 0: none yet
  // Headers every answer to this request carries: x-ratelimit-*, Retry-After, Allow. Names are
  // string literals (static storage); up to 6 are held without an allocation.
  absl::InlinedVector<std::pair<std::string_view, std::string>, 6> headers;
  // The connection closes after this response (a cut or close-delimited response, a client
  // that left). The connection's own state (drain, eviction) may close it too.
  bool close = false;
  bool started = false;  // bytes of this response were written: nothing else can be sent
  // An error answer composed by the reply stage, written once the pipeline has unwound (so
  // that settlement has freed the budget and slot before the client sees it); empty: none.
  std::string error_body;
};

// RequestContext: one agent request as it moves through the pipeline. Owned by the connection
// coroutine; stages read and fill it. Not thread-safe (a request lives on one shard thread).
struct RequestContext {
  // Set by the HTTP layer before the pipeline runs.
  Route route = Route::kOther;  // kOther: no agent route has this path
  std::string_view method;      // the request's method and target, as received
  std::string_view target;
  // The method `route` takes ("GET" / "POST") when the request used another one, else "".
  std::string_view wrong_method_allowed;
  std::string_view path_model;  // GET /v1/models/{model}: the model id in the path
  std::string request_id;
  std::string_view authorization;  // raw `Authorization` header value (never logged)
  // Set when the HTTP layer already checked the token on the headers (AuthenticateBearer):
  // the agent key, so the authenticate stage does not hash the token a second time.
  std::string preauthenticated_agent;
  std::string preauthenticated_session;
  std::string* body = nullptr;                // request body; stages may parse it in place
  ClassifierTransport* classifier = nullptr;  // the shard's client for http guard classifiers
  InputCounter* input_counter = nullptr;      // the shard's provider token counter (or none)
  std::string_view anthropic_version;         // the client's anthropic-version / anthropic-beta
  std::string_view anthropic_beta;            // headers (forwarded on the Anthropic routes)
  std::chrono::steady_clock::time_point start;
  std::shared_ptr<const RuntimeConfig> runtime;  // the configuration this request runs on

  // Filled by stages.
  const AgentRuntime* agent = nullptr;
  // The Session the token belongs to (its name, in the agent's namespace); empty for an
  // Agent's own token. Attribution only (audit records, access log, /usage): budgets are the
  // agent's.
  std::string session;
  std::optional<ChatCompletionRequest> chat;
  std::optional<EmbeddingsRequest> embeddings;
  std::optional<NativeRequest> native;  // /v1/messages, /v1/messages/count_tokens, /v1/responses
  const ModelRoute* model = nullptr;

  // Filled by the admit stage (admission.h).
  std::optional<budget::Reservation> reservation;  // of the current provider attempt
  bool slot_held = false;                          // a request-window + concurrency slot
  int attempts = 0;                                // provider attempts (fallbacks + 1)
  bool admitted = false;                           // a reservation was made (LLM_CALL due)
  std::string first_model;                         // the model admission started from
  // The provider count of the input: `count_route` is the route whose byte bound did not fit
  // (Admit() stops there and the admit stage asks its provider); `counted_input` the bound
  // from the answer (0: the count failed, the byte bound stands).
  const ModelRoute* count_route = nullptr;
  bool count_done = false;
  int64_t counted_input = 0;
  budget::Charge charge;  // what the final attempt was charged

  // Filled by the terminal step.
  int64_t response_bytes = 0;  // body bytes relayed (the no-usage charging rule)
  // The current provider attempt: its request was (at least partly) written to the provider,
  // and the provider's HTTP status once its response header arrived (0: none). A sent call
  // without usage is charged by the no-usage rule unless the provider answered an error.
  bool upstream_sent = false;
  int upstream_status = 0;
  bool stream = false;
  Usage usage;
  double upstream_seconds = -1;      // provider time, -1 when no provider call was made
  std::string error_code;            // OpenAI error code of a failed request
  std::vector<ToolCall> tool_calls;  // from the response (TOOL_CALL records)
  bool call_recorded = false;        // the LLM_CALL record was emitted
  bool guard_refused = false;        // a guard refused the request or its response

  // The request's result: the first rejection, or the terminal step's status (OK when the
  // provider's answer — success or its own error — was relayed).
  absl::Status outcome;
  Reply reply;
};

// Stage: one step of the pipeline.
class Stage {
 public:
  virtual ~Stage() = default;
  // name() is the stage's metric label value.
  virtual std::string_view name() const = 0;
  // request_side(): false for a stage that only acts on the way out (its OnRequest() is not
  // called: no coroutine frame is spent on it).
  virtual bool request_side() const { return true; }
  // Decide() is the request side of a stage that can give its verdict without waiting: OK to
  // continue, a status that rejects the request, or nullopt when it must wait (a remote
  // classifier, a provider's token count) — then OnRequest() runs. A stage that never waits
  // overrides only Decide(): no coroutine frame per request. The default: nullopt.
  virtual std::optional<absl::Status> Decide(RequestContext& /*ctx*/) { return std::nullopt; }
  // OnRequest() runs before the upstream call when Decide() gave no verdict; a non-OK status
  // rejects the request. The default (for stages without a request side) accepts.
  virtual Task<absl::Status> OnRequest(RequestContext& ctx);
  // OnResponse() runs after the request ended, whatever the outcome, if OnRequest() ran.
  virtual void OnResponse(RequestContext& /*ctx*/) {}
};

// Pipeline: the ordered stages. Immutable after construction; shared by all shards.
class Pipeline {
 public:
  Pipeline(std::vector<std::unique_ptr<Stage>> stages, Metrics& metrics);

  // RunRequest() runs the request side (Decide(), else OnRequest()) of each stage in order until
  // one rejects; `*ran` is the number of stages whose request side ran (pass it to
  // RunResponse()).
  Task<absl::Status> RunRequest(RequestContext& ctx, size_t* ran) const;

  // RunResponse() runs OnResponse() of the first `ran` stages in reverse order.
  void RunResponse(RequestContext& ctx, size_t ran) const;

  // stage_names() are the stages' names (their metric labels) in order.
  std::vector<std::string_view> stage_names() const;

 private:
  std::vector<std::unique_ptr<Stage>> stages_;
  std::vector<size_t> metric_index_;
  std::vector<bool> request_side_;
  Metrics& metrics_;
};

// AuthenticateBearer() checks an `Authorization` header value ("Bearer <agent token>") against
// `tokens` and returns the agent key ("namespace/name"). Errors: Unauthenticated (401,
// code invalid_api_key) with a message that never echoes the token. Needs headers only, so the
// HTTP layer also calls it before reading a body.
absl::StatusOr<std::string> AuthenticateBearer(std::string_view authorization,
                                               const auth::TokenStore* tokens);
// AuthenticateBearerIdentity() is AuthenticateBearer() answering the whole identity (agent,
// session, token id). Same errors.
absl::StatusOr<auth::Identity> AuthenticateBearerIdentity(std::string_view authorization,
                                                          const auth::TokenStore* tokens);

class Admission;

// PipelineSinks: what the pipeline's way out writes to.
struct PipelineSinks {
  const audit::Chain* chain = nullptr;       // the audit chain; null with --no-audit
  audit::EventSink* call_records = nullptr;  // LLM_CALL / TOOL_CALL records; null: none
  SessionTotals* sessions = nullptr;         // per-Session totals (GET /usage); required
  bool access_log = true;                    // one access log line per request
};

// BuildPipeline() assembles the gateway's stages in their fixed order, both directions: the
// order and the reason for each position are in pipeline.cc.
std::unique_ptr<Pipeline> BuildPipeline(const Snapshot<auth::TokenStore>& tokens,
                                        const Admission& admission, const Guards& guards,
                                        Metrics& metrics, const PipelineSinks& sinks);

}  // namespace pai::gateway
