// What `pai run`, `pai chat` and `pai get events` print for Session events (docs/sessions.md,
// "Events"): one readable terminal form per event, a one-line summary for the events table, and
// which events end a turn. Pure functions of the event JSON.
//
// Thread safety: every function is pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "boost/json/value.hpp"
#include "cli/pai/table.h"

namespace pai::cli {

enum class Colors { kOff, kOn };   // ANSI colours (only when stdout is a terminal)
enum class Style { kRun, kChat };  // pai run prints agent text bare; pai chat as "Agent <text>"

// EventText() joins the text blocks of `content` (an array of {"type":"text","text":..}
// blocks, or a plain string) with "\n".
std::string EventText(const boost::json::value& event);

// RenderEvent() is the terminal form of one event, every line ending in "\n"; "" for events
// that are not shown (model spans, status_running, and in chat the user's own messages).
//   agent.message      text (run) / "\nAgent <text>" (chat; later lines indented 6)
//   agent.tool_use     "→ bash: <command>" (other tools: their main argument, else the input
//                      JSON), one line cut at 120 columns
//   agent.tool_result  its first 3 lines, indented 2, each cut at 120 columns, dimmed (red when
//                      is_error), then "  … (N more lines)"
//   session.error      "error: <type>: <message>" (red)
//   session.status_terminated with phase Error: "Session failed: <reason>" (red)
//   session.status_idle interrupted: "(interrupted)"; requires_action: "(waiting for custom
//                      tool results)"
std::string RenderEvent(const boost::json::value& event, Style style, Colors colors);

// EventSummary() is the SUMMARY cell of `pai get events`: one line, at most `max_cols` columns.
std::string EventSummary(const boost::json::value& event, size_t max_cols = 80);

// EventsTable() is `pai get events NAME`: SEQ TIME TYPE SUMMARY (TIME in UTC,
// "2026-04-14 14:18:30").
Table EventsTable(const std::vector<boost::json::value>& events);

// EventSequence() is the event's `sequence`, else the number in its id ("sevt_000000000042"
// or a bare "42"); nullopt when it has neither.
std::optional<int64_t> EventSequence(const boost::json::value& event);
// SequenceOfId() reads an SSE `id:` ("42" or "sevt_000000000042").
std::optional<int64_t> SequenceOfId(const std::string& id);

// TurnEnd: what an event means for a client waiting for the agent's turn.
enum class TurnEnd {
  kNone,      // keep streaming
  kIdle,      // session.status_idle: the turn ended, the Session waits for a message
  kComplete,  // session.status_terminated with phase Complete
  kError,     // session.status_terminated with phase Error (or another phase)
};
TurnEnd TurnEndOf(const boost::json::value& event);

// TerminatedReason() is the `reason` of a session.status_terminated event ("" when none).
std::string TerminatedReason(const boost::json::value& event);

// UserMessage() is the body of POST .../events for one line typed in pai chat.
boost::json::value UserMessage(const std::string& text);
// UserInterrupt() is the body that posts a user.interrupt.
boost::json::value UserInterrupt();

}  // namespace pai::cli
