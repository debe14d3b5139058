#include "gateway/providers/mock_provider.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <ctime>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/json_util.h"
#include "common/strings.h"
#include "gateway/stages/input_tokens.h"

namespace pai::gateway {
namespace {

namespace json = boost::json;

constexpr std::string_view kReply =
    "Hello from the pai-gateway mock provider. Set OPENAI_API_KEY (or ANTHROPIC_API_KEY, "
    "GEMINI_API_KEY, OPENROUTER_API_KEY) to reach a real model.";

int64_t PromptTokens(size_t body_bytes) { return static_cast<int64_t>(body_bytes / 4 + 1); }

// ChatPromptTokens() is what OpenAI would bill for a chat request: its o200k_base tokens plus
// the message framing — the gateway's input bound for mock models (input_tokens.h), so a demo
// agent's spend is exact and within its budget.
int64_t ChatPromptTokens(std::string_view body) {
  auto n = ChatInputTokens(std::string(body),
                           tokenizer::Encoding::Get(tokenizer::EncodingId::kO200kBase));
  return n.ok() ? *n : PromptTokens(body.size());
}

std::string Id(std::string_view request_id) { return pai::StrCat("chatcmpl-mock-", request_id); }

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

std::string UsageJson(int64_t prompt, int64_t completion) {
  return pai::StrCat("{\"prompt_tokens\":", prompt, ",\"completion_tokens\":", completion,
                     ",\"total_tokens\":", prompt + completion, "}");
}

int64_t Created() { return static_cast<int64_t>(std::time(nullptr)); }

// Words() is `text`, one token per word, cut to `max_output` tokens.
std::vector<std::string> Words(std::string_view text, std::optional<int64_t> max_output) {
  std::vector<std::string> words = absl::StrSplit(AV(text), ' ');
  if (max_output && *max_output >= 0 && static_cast<size_t>(*max_output) < words.size()) {
    words.resize(static_cast<size_t>(*max_output));
  }
  return words;
}

// --- the tool script ---

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// ContentText() is a message's `content`: a string, or the `text` of its content parts.
std::string ContentText(const json::object& msg) {
  const json::value* c = msg.if_contains("content");
  if (!c) return "";
  if (c->is_string()) return std::string(c->as_string());
  std::string out;
  if (const json::array* parts = c->if_array()) {
    for (const json::value& p : *parts) {
      const json::object* po = p.if_object();
      if (!po) continue;
      if (const json::value* t = po->if_contains("text"); t && t->is_string()) {
        if (!out.empty()) out += "\n";
        out += std::string_view(t->as_string());
      }
    }
  }
  return out;
}

std::string_view StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

// FirstLine() is the first non-empty line of `text` ("(no output)" when there is none).
std::string FirstLine(std::string_view text) {
  for (absl::string_view line : absl::StrSplit(AV(text), '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!absl::StripAsciiWhitespace(line).empty()) return std::string(line);
  }
  return "(no output)";
}

// ToolNameOfCall() is the function name of the assistant tool call `id` in `messages`.
std::string ToolNameOfCall(const json::array& messages, std::string_view id) {
  if (id.empty()) return "";
  for (const json::value& m : messages) {
    const json::object* mo = m.if_object();
    if (!mo || StringField(*mo, "role") != "assistant") continue;
    const json::value* calls = mo->if_contains("tool_calls");
    if (!calls || !calls->is_array()) continue;
    for (const json::value& c : calls->as_array()) {
      const json::object* co = c.if_object();
      if (!co || StringField(*co, "id") != id) continue;
      if (const json::value* f = co->if_contains("function"); f && f->is_object()) {
        return std::string(StringField(f->as_object(), "name"));
      }
    }
  }
  return "";
}

MockPlan ToolCall(size_t message_count, std::string_view name, std::string arguments) {
  MockPlan p;
  p.tool_call = true;
  p.call_id = pai::StrCat("call_mock_", message_count);
  p.tool_name = std::string(name);
  p.arguments = std::move(arguments);
  return p;
}

// ToolTokens() estimates a tool call's output tokens: about 4 bytes of arguments per token,
// plus one for the name.
int64_t ToolTokens(const MockPlan& p) { return static_cast<int64_t>(p.arguments.size() / 4 + 1); }

// CappedToolTokens() is a tool call's output tokens, at most `max_output`. A scripted tool
// call is never cut (a loop driven by the script must end on a budget refusal, not on broken
// arguments); its reported usage stays within the output limit, so it is charged no more than
// the reservation held.
int64_t CappedToolTokens(const MockPlan& p, std::optional<int64_t> max_output) {
  const int64_t tokens = ToolTokens(p);
  return max_output && *max_output >= 0 ? std::min(tokens, *max_output) : tokens;
}

std::string TextFinish(bool truncated) { return truncated ? "\"length\"" : "\"stop\""; }

}  // namespace

MockPlan PlanMockReply(std::string_view body) {
  MockPlan text;
  text.text = std::string(kReply);
  if (body.find("\"tools\"") == std::string_view::npos) return text;  // no parse without tools
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object()) return text;
  const json::object& req = doc.as_object();
  std::set<std::string, std::less<>> offered;
  if (const json::value* tools = req.if_contains("tools"); tools && tools->is_array()) {
    for (const json::value& t : tools->as_array()) {
      const json::object* to = t.if_object();
      if (!to) continue;
      const json::value* f = to->if_contains("function");
      if (f && f->is_object()) offered.insert(std::string(StringField(f->as_object(), "name")));
    }
  }
  offered.erase("");
  const json::value* mv = req.if_contains("messages");
  if (offered.empty() || !mv || !mv->is_array()) return text;  // no tools: no script
  const json::array& messages = mv->as_array();

  const json::object* last_user = nullptr;
  const json::object* last_tool = nullptr;
  for (const json::value& m : messages) {
    const json::object* mo = m.if_object();
    if (!mo) continue;
    const std::string_view role = StringField(*mo, "role");
    if (role == "user") last_user = mo;
    if (role == "tool") last_tool = mo;
  }
  // 0. The looping script (budget tests): a bash call, every time.
  if (last_user && Lower(ContentText(*last_user)).find("loop forever") != std::string::npos) {
    return ToolCall(messages.size(), "bash", R"({"command":"echo still looping"})");
  }
  // 0b. "fetch <url>" (egress tests): one web_fetch of that URL, then the summary.
  if (last_user && offered.contains("web_fetch") && !last_tool) {
    const std::string said = ContentText(*last_user);
    const size_t at = Lower(said).find("fetch http");
    if (at != std::string::npos) {
      std::string url = said.substr(at + 6);
      url = url.substr(0, url.find_first_of(" \t\n\"'"));
      std::string args = "{\"url\":";
      AppendJsonString(args, url);
      args += "}";
      return ToolCall(messages.size(), "web_fetch", args);
    }
  }
  // 1. Write the file.
  if (offered.contains("write") && !last_tool) {
    return ToolCall(messages.size(), "write",
                    R"({"path":"hello.txt","content":"Hello from Pai!\n"})");
  }
  // What the last tool result answered: the call its tool_call_id names (or its legacy name).
  std::string answered;
  if (last_tool) {
    answered = ToolNameOfCall(messages, StringField(*last_tool, "tool_call_id"));
    if (answered.empty()) answered = std::string(StringField(*last_tool, "name"));
  }
  // 2. Show it.
  if (offered.contains("bash") && answered == "write") {
    return ToolCall(messages.size(), "bash", R"({"command":"cat hello.txt && ls -l"})");
  }
  // 3. Summarise.
  if (!last_tool) return text;
  const std::string first = FirstLine(ContentText(*last_tool));
  if (answered == "bash") {
    text.text =
        pai::StrCat("I wrote hello.txt in the workspace and ran `cat hello.txt`: \"", first, "\"");
  } else {
    text.text = pai::StrCat("The tool ", answered.empty() ? std::string("call") : answered,
                            " answered: \"", first, "\"");
  }
  return text;
}

std::string MockChatCompletion(const ChatCompletionRequest& /*req*/, std::string_view body,
                               std::string_view model_id, std::string_view request_id,
                               std::optional<int64_t> max_output) {
  MockPlan plan = PlanMockReply(body);
  const std::string head = pai::StrCat(
      "{\"id\":", Quoted(Id(request_id)), ",\"object\":\"chat.completion\",\"created\":", Created(),
      ",\"model\":", Quoted(model_id), ",\"choices\":[{\"index\":0,");
  const std::string tail = pai::StrCat(",\"system_fingerprint\":\"fp_pai_mock\"}");
  if (plan.tool_call) {
    const int64_t completion = CappedToolTokens(plan, max_output);
    return pai::StrCat(
        head, "\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":",
        Quoted(plan.call_id),
        ",\"type\":\"function\",\"function\":{\"name\":", Quoted(plan.tool_name),
        ",\"arguments\":", Quoted(plan.arguments),
        "}}],\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],"
        "\"usage\":",
        UsageJson(ChatPromptTokens(body), completion), tail);
  }
  const std::vector<std::string> words = Words(plan.text, max_output);
  const bool truncated = words.size() < Words(plan.text, {}).size();
  const int64_t completion = static_cast<int64_t>(words.size());
  return pai::StrCat(
      head, "\"message\":{\"role\":\"assistant\",\"content\":", Quoted(absl::StrJoin(words, " ")),
      ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":", TextFinish(truncated), "}],",
      "\"usage\":", UsageJson(ChatPromptTokens(body), completion), tail);
}

std::string MockChatStream(const ChatCompletionRequest& /*req*/, std::string_view body,
                           std::string_view model_id, std::string_view request_id,
                           bool include_usage, std::optional<int64_t> max_output) {
  MockPlan plan = PlanMockReply(body);
  const std::string head =
      pai::StrCat("data: {\"id\":", Quoted(Id(request_id)),
                  ",\"object\":\"chat.completion.chunk\",\"created\":", Created(),
                  ",\"model\":", Quoted(model_id), ",\"system_fingerprint\":\"fp_pai_mock\",");
  const std::string usage_null = include_usage ? ",\"usage\":null" : "";
  auto choice = [&](std::string_view delta, std::string_view finish) {
    return pai::StrCat(head, "\"choices\":[{\"index\":0,\"delta\":", delta,
                       ",\"logprobs\":null,\"finish_reason\":", finish, "}]", usage_null, "}\n\n");
  };
  std::string out;
  int64_t completion = 0;
  std::string finish;
  if (plan.tool_call) {
    completion = CappedToolTokens(plan, max_output);
    finish = "\"tool_calls\"";
    // OpenAI: the first delta names the call (id, type, function name, empty arguments) ...
    out += choice(pai::StrCat("{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{"
                              "\"index\":0,\"id\":",
                              Quoted(plan.call_id),
                              ",\"type\":\"function\",\"function\":{"
                              "\"name\":",
                              Quoted(plan.tool_name), ",\"arguments\":\"\"}}],\"refusal\":null}"),
                  "null");
    // ... then the arguments arrive in fragments (never splitting a UTF-8 sequence).
    constexpr size_t kFragment = 12;
    for (size_t at = 0; at < plan.arguments.size();) {
      size_t n = std::min(kFragment, plan.arguments.size() - at);
      while (at + n < plan.arguments.size() &&
             (static_cast<unsigned char>(plan.arguments[at + n]) & 0xC0) == 0x80) {
        ++n;
      }
      out += choice(pai::StrCat("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":",
                                Quoted(std::string_view(plan.arguments).substr(at, n)), "}}]}"),
                    "null");
      at += n;
    }
  } else {
    const std::vector<std::string> words = Words(plan.text, max_output);
    const bool truncated = words.size() < Words(plan.text, {}).size();
    completion = static_cast<int64_t>(words.size());
    finish = TextFinish(truncated);
    out += choice("{\"role\":\"assistant\",\"content\":\"\"}", "null");
    for (size_t i = 0; i < words.size(); ++i) {
      const std::string piece = i == 0 ? words[i] : pai::StrCat(" ", words[i]);
      out += choice(pai::StrCat("{\"content\":", Quoted(piece), "}"), "null");
    }
  }
  out += choice("{}", finish);
  if (include_usage) {
    pai::StrAppend(&out, head,
                   "\"choices\":[],\"usage\":", UsageJson(ChatPromptTokens(body), completion),
                   "}\n\n");
  }
  out += "data: [DONE]\n\n";
  return out;
}

std::string MockEmbeddings(std::string_view model_id, size_t body_bytes) {
  const int64_t prompt = PromptTokens(body_bytes);
  return pai::StrCat(
      "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":"
      "[0.125,-0.25,0.375,-0.5,0.625,-0.75,0.875,-1.0]}],\"model\":",
      Quoted(model_id), ",\"usage\":{\"prompt_tokens\":", prompt, ",\"total_tokens\":", prompt,
      "}}");
}

}  // namespace pai::gateway
