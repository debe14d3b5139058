#include "cli/pai/events.h"

#include <cctype>

#include "boost/json/serialize.hpp"
#include "cli/pai/text.h"
#include "cli/pai/views.h"

namespace pai::cli {

namespace json = boost::json;

namespace {

constexpr size_t kLineCols = 120;
constexpr size_t kResultLines = 3;
constexpr char kDim[] = "\x1b[2m";
constexpr char kRed[] = "\x1b[31m";
constexpr char kReset[] = "\x1b[0m";

// Clean() drops what a terminal would interpret (escape sequences from model output or tool
// output must not move the cursor or retitle the window): control characters other than
// newline and tab become '?', carriage returns vanish.
std::string Clean(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r') continue;
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

// OneLine() puts a text on one line ("↵" for line ends) and cuts it at `max_cols`.
std::string OneLine(std::string_view s, size_t max_cols) {
  std::string flat;
  for (char c : Clean(s)) {
    if (c == '\n') {
      flat += " \u21b5 ";
    } else if (c == '\t') {
      flat += ' ';
    } else {
      flat += c;
    }
  }
  while (!flat.empty() && flat.back() == ' ') flat.pop_back();
  return Truncate(flat, max_cols);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t nl = text.find('\n', start);
    if (nl == std::string::npos) {
      out.push_back(text.substr(start));
      break;
    }
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  while (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

std::string Paint(const std::string& line, const char* color, Colors colors) {
  if (colors == Colors::kOff) return line;
  return color + line + kReset;
}

bool IsError(const json::value& e) {
  const json::value* v = At(e, {"is_error"});
  return v != nullptr && v->is_bool() && v->get_bool();
}

// ToolArgument() is the part of a tool call a reader wants: the command, the path, the URL.
std::string ToolArgument(const json::value& e) {
  const json::value* input = At(e, {"input"});
  if (input == nullptr || input->is_null()) return "";
  if (input->is_string()) return std::string(input->get_string());
  for (std::string_view key :
       {"command", "cmd", "file_path", "path", "pattern", "url", "query", "to", "file"}) {
    const json::value* v = At(*input, {key});
    if (v != nullptr && v->is_string()) return std::string(v->get_string());
  }
  if (input->is_object() && input->get_object().empty()) return "";
  return json::serialize(*input);
}

std::string ToolLine(const json::value& e) {
  const std::string name = StrAt(e, {"name"});
  const std::string arg = ToolArgument(e);
  std::string line = "\u2192 " + (name.empty() ? std::string("tool") : Clean(name));
  if (StrAt(e, {"type"}) == "agent.custom_tool_use") line += " (custom)";
  if (!arg.empty()) line += ": " + arg;
  return OneLine(line, kLineCols);
}

std::string Indent(const std::string& text, const std::string& first, const std::string& rest) {
  std::string out;
  const std::vector<std::string> lines = Lines(text);
  for (size_t i = 0; i < lines.size(); ++i) out += (i == 0 ? first : rest) + lines[i] + "\n";
  if (lines.empty()) out = first + "\n";
  return out;
}

std::string ErrorText(const json::value& e) {
  const std::string type = StrAt(e, {"error", "type"});
  std::string message = StrAt(e, {"error", "message"});
  if (message.empty()) message = StrAt(e, {"message"});
  if (type.empty()) return message;
  return message.empty() ? type : type + ": " + message;
}

}  // namespace

std::string EventText(const json::value& event) {
  const json::value* content = At(event, {"content"});
  if (content == nullptr) return "";
  if (content->is_string()) return std::string(content->get_string());
  std::string out;
  if (!content->is_array()) return out;
  for (const auto& block : content->get_array()) {
    std::string text;
    if (block.is_string()) {
      text = std::string(block.get_string());
    } else if (StrAt(block, {"type"}) == "text" || At(block, {"text"}) != nullptr) {
      text = StrAt(block, {"text"});
    }
    if (text.empty()) continue;
    if (!out.empty()) out += "\n";
    out += text;
  }
  return out;
}

std::string RenderEvent(const json::value& event, Style style, Colors colors) {
  const std::string type = StrAt(event, {"type"});
  if (type == "agent.message") {
    const std::string text = Clean(EventText(event));
    if (style == Style::kChat) return "\n" + Indent(text, "Agent ", "      ");
    return Indent(text, "", "");
  }
  if (type == "agent.tool_use" || type == "agent.custom_tool_use") {
    return ToolLine(event) + "\n";
  }
  if (type == "agent.tool_result") {
    const std::vector<std::string> lines = Lines(Clean(EventText(event)));
    const char* color = IsError(event) ? kRed : kDim;
    std::string out;
    for (size_t i = 0; i < lines.size() && i < kResultLines; ++i) {
      out += Paint("  " + OneLine(lines[i], kLineCols - 2), color, colors) + "\n";
    }
    if (lines.size() > kResultLines) {
      const size_t more = lines.size() - kResultLines;
      out +=
          Paint("  \u2026 (" + std::to_string(more) + (more == 1 ? " more line)" : " more lines)"),
                color, colors) +
          "\n";
    }
    if (lines.empty() && IsError(event)) out += Paint("  (error)", color, colors) + "\n";
    return out;
  }
  if (type == "user.message") {
    if (style == Style::kChat) return "";
    return Indent(Clean(EventText(event)), "\u276f ", "  ");
  }
  if (type == "user.interrupt") return style == Style::kChat ? "" : "(interrupt sent)\n";
  if (type == "session.error") {
    return Paint("error: " + OneLine(ErrorText(event), 1000), kRed, colors) + "\n";
  }
  if (type == "session.status_terminated") {
    if (TurnEndOf(event) == TurnEnd::kComplete) return "";
    std::string reason = TerminatedReason(event);
    return Paint("Session failed" + (reason.empty() ? std::string() : ": " + OneLine(reason, 1000)),
                 kRed, colors) +
           "\n";
  }
  if (type == "session.status_idle") {
    const std::string stop = StrAt(event, {"stop_reason", "type"});
    if (stop == "interrupted") return "(interrupted)\n";
    if (stop == "requires_action") return "(waiting for custom tool results)\n";
    return "";
  }
  return "";  // span.*, session.status_running, user.custom_tool_result, unknown types
}

std::string EventSummary(const json::value& event, size_t max_cols) {
  const std::string type = StrAt(event, {"type"});
  std::string s;
  if (type == "agent.message" || type == "user.message" || type == "agent.tool_result" ||
      type == "user.custom_tool_result") {
    s = EventText(event);
    if (IsError(event)) s = "error: " + s;
  } else if (type == "agent.tool_use" || type == "agent.custom_tool_use") {
    s = StrAt(event, {"name"});
    if (const std::string arg = ToolArgument(event); !arg.empty()) s += ": " + arg;
  } else if (type == "span.model_request_end") {
    s = StrAt(event, {"model"});
    if (auto total = IntAt(event, {"usage", "total_tokens"})) {
      s += (s.empty() ? "" : " ") + FormatThousands(*total) + " tokens";
    }
  } else if (type == "session.status_idle") {
    s = StrAt(event, {"stop_reason", "type"});
  } else if (type == "session.status_terminated") {
    s = StrAt(event, {"phase"});
    if (const std::string reason = TerminatedReason(event); !reason.empty()) s += ": " + reason;
  } else if (type == "session.error") {
    s = ErrorText(event);
  }
  return s.empty() ? std::string(kNone) : OneLine(s, max_cols);
}

Table EventsTable(const std::vector<json::value>& events) {
  Table table({"SEQ", "TIME", "TYPE", "SUMMARY"});
  for (const auto& e : events) {
    const auto seq = EventSequence(e);
    const std::string at = StrAt(e, {"created_at"});
    const auto t = ParseRfc3339(at);
    table.AddRow({seq ? std::to_string(*seq) : std::string(kNone),
                  t ? FormatUtc(*t) : (at.empty() ? std::string(kNone) : at),
                  OneLine(StrAt(e, {"type"}), 40), EventSummary(e)});
  }
  return table;
}

std::optional<int64_t> SequenceOfId(const std::string& id) {
  size_t i = id.size();
  while (i > 0 && std::isdigit(static_cast<unsigned char>(id[i - 1]))) --i;
  if (i == id.size() || id.size() - i > 18) return std::nullopt;
  // "42" or "sevt_000000000042"; anything else before the digits is not a sequence.
  if (i != 0 && id.compare(0, i, "sevt_") != 0) return std::nullopt;
  return std::stoll(id.substr(i));
}

std::optional<int64_t> EventSequence(const json::value& event) {
  if (auto n = IntAt(event, {"sequence"})) return n;
  return SequenceOfId(StrAt(event, {"id"}));
}

TurnEnd TurnEndOf(const json::value& event) {
  const std::string type = StrAt(event, {"type"});
  if (type == "session.status_idle") return TurnEnd::kIdle;
  if (type == "session.status_terminated") {
    return StrAt(event, {"phase"}) == "Complete" ? TurnEnd::kComplete : TurnEnd::kError;
  }
  return TurnEnd::kNone;
}

std::string TerminatedReason(const json::value& event) {
  std::string reason = StrAt(event, {"reason"});
  if (reason.empty()) reason = StrAt(event, {"message"});
  return reason;
}

json::value UserMessage(const std::string& text) {
  return json::object{
      {"events", json::array{json::object{
                     {"type", "user.message"},
                     {"content", json::array{json::object{{"type", "text"}, {"text", text}}}}}}}};
}

json::value UserInterrupt() {
  return json::object{{"events", json::array{json::object{{"type", "user.interrupt"}}}}};
}

}  // namespace pai::cli
