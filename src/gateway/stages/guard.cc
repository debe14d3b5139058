#include "gateway/stages/guard.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_format.h"
#include "common/strings.h"
#include "gateway/http/errors.h"
#include "gateway/pipeline/pipeline.h"
#include "guard/builtin_classifier.h"
#include "guard/http_formats.h"
#include "guard/windows.h"

namespace pai::gateway {
namespace {

using Clock = std::chrono::steady_clock;

enum Verdict { kPass = 0, kViolation = 1, kError = 2 };

// Windows overlap by an eighth of their size, at most 256 bytes: longer than any phrase the
// rules look for.
size_t OverlapFor(int64_t max_chars) {
  return static_cast<size_t>(std::min<int64_t>(256, max_chars / 8));
}

std::string Score(double v) { return absl::StrFormat("%.2f", v); }

// An http classification of one text: at most this many windows, and this many timeoutMs in
// all (each call is also bounded by timeoutMs per phase).
constexpr size_t kMaxHttpWindows = 32;
constexpr int kHttpDeadlineFactor = 4;

}  // namespace

Task<absl::Status> Guards::ScanRequest(RequestContext& ctx) const {
  if (!ctx.agent || ctx.agent->guards.empty() || !ctx.model) co_return absl::OkStatus();
  bool any = false;
  for (const AgentGuardRuntime& g : ctx.agent->guards) {
    any = any || g.prompts || g.ScansToolResults();
  }
  if (!any) co_return absl::OkStatus();
  std::vector<GuardText> texts;
  absl::Status extracted = absl::OkStatus();
  if (ctx.chat) {
    extracted = ChatRequestGuardTexts(*ctx.body, &texts);
  } else if (ctx.embeddings) {
    extracted = EmbeddingsGuardTexts(*ctx.body, &texts);
  } else if (ctx.route == Route::kMessages) {
    extracted = AnthropicRequestGuardTexts(*ctx.native->doc, &texts);
  } else if (ctx.route == Route::kResponses) {
    extracted = ResponsesRequestGuardTexts(*ctx.native->doc, &texts);
  }
  if (!extracted.ok()) {
    // What cannot be read cannot be scanned: refused, never forwarded unscanned.
    co_return MakeError(absl::StatusCode::kInvalidArgument,
                        pai::StrCat("The request could not be scanned by the prompt-injection "
                                    "guard: ",
                                    extracted.message(), "."),
                        "invalid_request_error");
  }
  for (const AgentGuardRuntime& g : ctx.agent->guards) {
    for (const GuardText& t : texts) {
      const bool scan = t.target == GuardTarget::kPrompt ? g.prompts : g.ScansTool(t.tool);
      if (!scan) continue;
      absl::Status s = co_await Check(ctx, g, t, /*streamed=*/false);
      if (!s.ok()) co_return s;
    }
  }
  co_return absl::OkStatus();
}

Task<absl::Status> Guards::ScanResponse(RequestContext& ctx, std::vector<GuardText> texts,
                                        bool streamed) const {
  if (!ctx.agent || !ctx.agent->scans_responses) co_return absl::OkStatus();
  for (const AgentGuardRuntime& g : ctx.agent->guards) {
    if (!g.responses) continue;
    for (const GuardText& t : texts) {
      absl::Status s = co_await Check(ctx, g, t, streamed);
      if (!s.ok() && !streamed) co_return s;
    }
  }
  co_return absl::OkStatus();
}

Task<absl::Status> Guards::Check(RequestContext& ctx, const AgentGuardRuntime& guard,
                                 const GuardText& text, bool streamed) const {
  const GuardBindingRuntime& b = *guard.binding;
  const config::GuardClassifier& c = b.spec.classifier;
  const auto t0 = Clock::now();
  double score = 0;
  std::vector<std::string_view> rules;
  std::string label;
  absl::Status error;
  const auto windows =
      guard::SplitWindows(text.text, static_cast<size_t>(c.max_chars), OverlapFor(c.max_chars));
  if (c.type == config::GuardClassifier::Type::kBuiltin) {
    const guard::BuiltinClassifier& clf = guard::BuiltinClassifier::Shared();
    for (std::string_view w : windows) {
      guard::Verdict v = clf.Classify(w);
      if (v.score > score) {
        score = v.score;
        rules.clear();
        for (const guard::Evidence& e : v.evidence) rules.push_back(e.rule);
      }
    }
  } else if (!ctx.classifier) {
    error = absl::UnavailableError("no http client for classifiers");
  } else if (windows.size() > kMaxHttpWindows) {
    // Hundreds of sequential calls would hold the request for minutes: a text this long is a
    // classifier failure (the binding's failureMode decides), not a partial scan.
    error = absl::ResourceExhaustedError(pai::StrCat(
        "text of ", text.text.size(), " bytes needs ", windows.size(), " windows of maxChars ",
        c.max_chars, " (at most ", kMaxHttpWindows, " are classified)"));
  } else {
    const auto deadline = t0 + kHttpDeadlineFactor * std::chrono::milliseconds(c.timeout_ms);
    for (std::string_view w : windows) {
      if (Clock::now() > deadline) {
        error = absl::DeadlineExceededError(
            pai::StrCat("classification took longer than ", kHttpDeadlineFactor, " x timeoutMs"));
        break;
      }
      std::string request = guard::BuildClassifierRequest(c.format, w, text.role);
      auto body = co_await ctx.classifier->Post(b, std::move(request));
      if (!body.ok()) {
        error = body.status();
        break;
      }
      auto parsed = guard::ParseClassifierResponse(c.format, *body, c.positive_labels);
      if (!parsed.ok()) {
        error = parsed.status();
        break;
      }
      if (parsed->score >= score) {
        score = parsed->score;
        label = std::move(parsed->label);
      }
      if (score >= b.spec.threshold) break;  // a violation: the other windows cannot undo it
    }
  }
  b.metrics.duration->Observe(std::chrono::duration<double>(Clock::now() - t0).count());
  const int target = static_cast<int>(text.target);
  const Verdict verdict = !error.ok() ? kError : score >= b.spec.threshold ? kViolation : kPass;
  b.metrics.check(target, verdict, guard.enforce).Increment();
  if (verdict == kPass) co_return absl::OkStatus();

  audit::Event ev;
  ev.ns = ctx.agent->spec.ns;
  ev.agent = ctx.agent->spec.name;
  auto& d = ev.detail;
  d["request_id"] = ctx.request_id;
  if (!ctx.session.empty()) d["session"] = ctx.session;
  d["binding"] = b.spec.name;
  d["classifier"] = b.classifier_name();
  d["target"] = GuardTargetName(text.target);
  d["param"] = text.param;
  if (text.target == GuardTarget::kToolResult) d["tool"] = text.tool;
  d["enforcement"] = guard.enforce ? "enforce" : "audit";
  d["stream"] = ctx.stream;
  if (ctx.model) d["model"] = ctx.model->ref;

  if (verdict == kError) {
    const bool closed = b.spec.failure_mode == config::GuardFailureMode::kClosed;
    ev.type = "GUARD.UNAVAILABLE";
    d["error"] = std::string(error.message());
    d["failure_mode"] = closed ? "closed" : "open";
    d["action"] = closed && !streamed ? "refused" : "allowed";
    events_.Emit(std::move(ev));
    if (!closed || streamed) co_return absl::OkStatus();
    ctx.guard_refused = true;
    co_return MakeHttpError(
        503,
        pai::StrCat("The prompt-injection guard \"", b.spec.name,
                    "\" is unavailable and fails closed; ",
                    text.target == GuardTarget::kResponse ? "the model's response was withheld."
                                                          : "the request was not forwarded."),
        "guard_unavailable");
  }

  const bool block = guard.enforce && !streamed;
  ev.type = block ? "GUARD.VIOLATION_ENFORCE" : "GUARD.VIOLATION_AUDIT";
  d["score"] = score;
  d["threshold"] = b.spec.threshold;
  d["action"] = block ? "blocked" : "logged";
  if (c.type == config::GuardClassifier::Type::kBuiltin) {
    boost::json::array r;
    for (std::string_view id : rules) r.emplace_back(id);
    d["rules"] = std::move(r);
  } else if (!label.empty()) {
    d["label"] = label;
  }
  events_.Emit(std::move(ev));
  if (!block) co_return absl::OkStatus();
  ctx.guard_refused = true;
  const std::string what = text.target == GuardTarget::kResponse
                               ? "The model's response was blocked"
                               : "The request was blocked";
  co_return MakeError(absl::StatusCode::kInvalidArgument,
                      pai::StrCat(what, " by the prompt-injection guard \"", b.spec.name,
                                  "\": ", text.param, " was classified as prompt injection (score ",
                                  Score(score), " >= threshold ", Score(b.spec.threshold), ")."),
                      "prompt_injection_detected", text.param);
}

}  // namespace pai::gateway
