// AgentLoop: the turns of one Session (docs/sessions.md, "Harness protocol").
//
// Start: with a task, `session.status_running`, the task turn, `session.status_idle`; without
// one, `session.status_idle` at once. Then one turn per user.message until stdin ends. A turn
// calls the model (ModelClient), reports `span.model_request_end` and `agent.message`, runs the
// tool calls the answer asks for (`agent.tool_use` / `agent.tool_result`, or
// `agent.custom_tool_use` + idle `requires_action` for custom tools) and calls the model again,
// until an answer without tool calls or `limits.max_steps_per_turn` model calls. The
// conversation (system prompt, then every turn's messages in OpenAI's Chat Completions shape)
// is kept across turns.
//
// Exit codes of Run(): 0 (stdin ended, or the task turn of mode "task" ended well), 1 (mode
// "task" and the task turn ended with a session.error), 3 (budget exhausted), 4 (the gateway
// refused the Session's token).
//
// Thread safety: Run() owns the loop thread; interrupts arrive through the Inbox.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "harness/config.h"
#include "harness/model_client.h"
#include "harness/protocol.h"
#include "harness/tool.h"

namespace pai::harness {

inline constexpr int kExitTaskFailed = 1;
inline constexpr int kExitBudget = 3;
inline constexpr int kExitAuth = 4;

class AgentLoop {
 public:
  AgentLoop(const SessionConfig& config, ModelClient& model, EventSink& events, Inbox& inbox);

  int Run();

 private:
  enum class TurnEnd { kEndTurn, kInterrupted, kFailed, kFatal };
  struct TurnOutcome {
    TurnEnd end = TurnEnd::kEndTurn;
    int exit_code = 0;
  };

  // RunTurnAndReport() runs a turn and emits the idle event that ends it (none when fatal).
  TurnOutcome RunTurnAndReport(const std::string& user_text, CancelToken& cancel);
  TurnOutcome RunTurn(const std::string& user_text, CancelToken& cancel);
  // RunToolCalls() answers every call of the last assistant message; false when interrupted.
  bool RunToolCalls(const std::vector<ToolCall>& calls, CancelToken& cancel);
  ToolResult RunCustomTool(const ToolCall& call, const boost::json::object& input,
                           CancelToken& cancel);
  TurnOutcome ReportModelError(const ModelError& e);
  boost::json::object BuildRequest() const;
  void AddToolMessage(const std::string& call_id, const std::string& text);
  void EmitIdle(std::string_view reason);

  const SessionConfig& config_;
  ModelClient& model_;
  EventSink& events_;
  Inbox& inbox_;
  ToolBox tools_;
  boost::json::array tool_schema_;
  boost::json::array history_;
};

}  // namespace pai::harness
