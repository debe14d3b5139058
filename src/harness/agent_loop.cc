#include "harness/agent_loop.h"

#include "harness/util.h"

namespace pai::harness {

namespace json = boost::json;

namespace {

constexpr std::string_view kInterruptedText = "interrupted by the user before this tool ran";

json::object UsageJson(const Usage& u) {
  return json::object{{"prompt_tokens", u.prompt_tokens},
                      {"completion_tokens", u.completion_tokens},
                      {"total_tokens", u.total_tokens}};
}

}  // namespace

AgentLoop::AgentLoop(const SessionConfig& config, ModelClient& model, EventSink& events,
                     Inbox& inbox)
    : config_(config), model_(model), events_(events), inbox_(inbox), tools_(config) {
  tool_schema_ = tools_.OpenAISchema();
}

void AgentLoop::EmitIdle(std::string_view reason) {
  json::object e = Event("session.status_idle");
  e["stop_reason"] = json::object{{"type", json::string(reason)}};
  events_.Emit(e);
}

int AgentLoop::Run() {
  if (!config_.task.empty()) {
    auto cancel = inbox_.StartTurn();
    const TurnOutcome out = RunTurnAndReport(config_.task, *cancel);
    inbox_.EndTurn();
    if (out.end == TurnEnd::kFatal) return out.exit_code;
    if (config_.task_mode) return out.end == TurnEnd::kFailed ? kExitTaskFailed : 0;
  } else {
    EmitIdle("end_turn");
    if (config_.task_mode) {
      Log("mode \"task\" without a task: nothing to do");
      return 0;
    }
  }
  while (std::optional<UserMessage> msg = inbox_.NextMessage()) {
    const TurnOutcome out = RunTurnAndReport(msg->text, *msg->cancel);
    inbox_.EndTurn();
    if (out.end == TurnEnd::kFatal) return out.exit_code;
  }
  return 0;
}

AgentLoop::TurnOutcome AgentLoop::RunTurnAndReport(const std::string& user_text,
                                                   CancelToken& cancel) {
  events_.Emit(Event("session.status_running"));
  TurnOutcome out = RunTurn(user_text, cancel);
  switch (out.end) {
    case TurnEnd::kEndTurn:
    case TurnEnd::kFailed:
      EmitIdle("end_turn");
      break;
    case TurnEnd::kInterrupted:
      EmitIdle("interrupted");
      break;
    case TurnEnd::kFatal:
      break;
  }
  return out;
}

json::object AgentLoop::BuildRequest() const {
  json::array messages;
  if (!config_.system.empty()) {
    messages.push_back(json::object{{"role", "system"}, {"content", config_.system}});
  }
  for (const json::value& m : history_) messages.push_back(m);
  json::object req{{"model", config_.models[0]},
                   {"stream", true},
                   {"stream_options", json::object{{"include_usage", true}}}};
  req["messages"] = std::move(messages);
  if (!tool_schema_.empty()) req["tools"] = tool_schema_;
  return req;
}

void AgentLoop::AddToolMessage(const std::string& call_id, const std::string& text) {
  history_.push_back(json::object{{"role", "tool"}, {"tool_call_id", call_id}, {"content", text}});
}

AgentLoop::TurnOutcome AgentLoop::ReportModelError(const ModelError& e) {
  std::string type = "model_error";
  TurnOutcome out{TurnEnd::kFailed, 0};
  std::string message = e.message;
  switch (e.kind) {
    case ModelError::Kind::kBudget:
      type = "budget_exceeded";
      out = {TurnEnd::kFatal, kExitBudget};
      break;
    case ModelError::Kind::kAuth:
      message = "the model gateway refused the Session's credentials (HTTP " +
                std::to_string(e.http_status) + "): " + e.message;
      out = {TurnEnd::kFatal, kExitAuth};
      break;
    case ModelError::Kind::kRateLimited:
      type = "rate_limited";
      break;
    default:
      break;
  }
  Log("model call failed: " + message);
  json::object ev = Event("session.error");
  ev["error"] = json::object{{"type", type}, {"message", message}};
  events_.Emit(ev);
  return out;
}

AgentLoop::TurnOutcome AgentLoop::RunTurn(const std::string& user_text, CancelToken& cancel) {
  history_.push_back(json::object{{"role", "user"}, {"content", user_text}});
  const int64_t max_steps = config_.limits.max_steps_per_turn;
  for (int64_t step = 1; step <= max_steps; ++step) {
    if (cancel.cancelled()) return {TurnEnd::kInterrupted, 0};
    ModelOutcome outcome = model_.Complete(BuildRequest(), cancel);
    if (outcome.error.kind == ModelError::Kind::kCancelled || cancel.cancelled()) {
      return {TurnEnd::kInterrupted, 0};
    }
    if (!outcome.ok()) return ReportModelError(outcome.error);
    ModelReply& reply = outcome.reply;

    json::object span = Event("span.model_request_end");
    span["model"] = reply.model.empty() ? config_.models[0] : reply.model;
    span["usage"] = UsageJson(reply.usage);
    events_.Emit(span);

    json::object assistant{{"role", "assistant"}};
    assistant["content"] = reply.content.empty() && !reply.tool_calls.empty()
                               ? json::value(nullptr)
                               : json::value(json::string(reply.content));
    if (!reply.tool_calls.empty()) {
      json::array calls;
      for (const ToolCall& c : reply.tool_calls) {
        // Arguments that are not JSON would make the next request invalid: keep "{}" instead.
        const bool valid = DecodeArguments(c.arguments).ok();
        calls.push_back(json::object{
            {"id", c.id},
            {"type", "function"},
            {"function",
             json::object{{"name", c.name},
                          {"arguments", valid && !c.arguments.empty() ? c.arguments : "{}"}}}});
      }
      assistant["tool_calls"] = std::move(calls);
    }
    history_.push_back(std::move(assistant));
    if (!reply.content.empty()) {
      json::object msg = Event("agent.message");
      msg["content"] = TextParts(reply.content);
      events_.Emit(msg);
    }
    if (reply.tool_calls.empty()) return {TurnEnd::kEndTurn, 0};
    if (!RunToolCalls(reply.tool_calls, cancel)) return {TurnEnd::kInterrupted, 0};
  }
  const std::string note = "Stopped: this turn reached its limit of " + std::to_string(max_steps) +
                           " model steps (limits.max_steps_per_turn). Send a message to continue.";
  history_.push_back(json::object{{"role", "assistant"}, {"content", note}});
  json::object msg = Event("agent.message");
  msg["content"] = TextParts(note);
  events_.Emit(msg);
  return {TurnEnd::kEndTurn, 0};
}

bool AgentLoop::RunToolCalls(const std::vector<ToolCall>& calls, CancelToken& cancel) {
  ToolContext ctx;
  ctx.config = &config_;
  ctx.workspace = config_.workspace;
  ctx.cancel = &cancel;
  ctx.control = &inbox_;
  for (size_t i = 0; i < calls.size(); ++i) {
    const ToolCall& call = calls[i];
    if (cancel.cancelled()) {
      for (size_t k = i; k < calls.size(); ++k) {
        AddToolMessage(calls[k].id, std::string(kInterruptedText));
      }
      return false;
    }
    auto decoded = DecodeArguments(call.arguments);
    const json::object input = decoded.ok() ? *decoded : json::object();
    ToolResult result;
    if (tools_.IsCustom(call.name)) {
      result = RunCustomTool(call, input, cancel);
    } else {
      json::object use = Event("agent.tool_use");
      use["tool_use_id"] = call.id;
      use["name"] = call.name;
      use["input"] = input;
      events_.Emit(use);
      result = tools_.Execute(call.name, call.arguments, ctx);
      json::object res = Event("agent.tool_result");
      res["tool_use_id"] = call.id;
      res["content"] = TextParts(result.text);
      res["is_error"] = result.is_error;
      events_.Emit(res);
    }
    AddToolMessage(call.id, result.text);
  }
  return !cancel.cancelled();
}

ToolResult AgentLoop::RunCustomTool(const ToolCall& call, const json::object& input,
                                    CancelToken& cancel) {
  inbox_.ExpectCustomToolResult(call.id);
  json::object use = Event("agent.custom_tool_use");
  use["tool_use_id"] = call.id;
  use["name"] = call.name;
  use["input"] = input;
  events_.Emit(use);
  json::object idle = Event("session.status_idle");
  json::array ids;
  ids.emplace_back(json::string(call.id));
  idle["stop_reason"] = json::object{{"type", "requires_action"}, {"event_ids", std::move(ids)}};
  events_.Emit(idle);
  auto r = inbox_.WaitCustomToolResult(call.id, cancel);
  if (!r.ok()) {
    if (cancel.cancelled()) return ToolError("interrupted by the user");
    // stdin ended: nobody can answer; the model learns so and the turn finishes.
    return ToolError(call.name + ": no result: " + std::string(r.status().message()));
  }
  events_.Emit(Event("session.status_running"));
  return ToolResult{SanitizeUtf8(r->text), r->is_error};
}

}  // namespace pai::harness
