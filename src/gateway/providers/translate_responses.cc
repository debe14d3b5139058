#include "gateway/providers/translate_responses.h"

#include "absl/strings/ascii.h"
#include "common/strings.h"
#include "gateway/http/errors.h"
#include "gateway/providers/translate_common.h"

namespace pai::gateway::responses {
namespace json = boost::json;
using translate::Member;
using translate::ObjectMember;
namespace {

absl::Status Unsupported(std::string_view param, std::string_view what) {
  return MakeError(absl::StatusCode::kInvalidArgument, what, "unsupported_parameter", param);
}

absl::Status Invalid(std::string_view param, std::string_view what) {
  return MakeError(absl::StatusCode::kInvalidArgument, what, "invalid_request_error", param);
}

bool Present(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && !v->is_null();
}

// Stateful or server-side features a stateless translation cannot offer.
absl::Status CheckStateless(const json::object& r) {
  static constexpr std::string_view kStateful[] = {"previous_response_id", "conversation",
                                                   "prompt"};
  for (std::string_view key : kStateful) {
    if (Present(r, key)) {
      return Unsupported(key, pai::StrCat("`", key,
                                          "` needs state the gateway does not keep: it stores no "
                                          "responses. Send the whole conversation in `input`."));
    }
  }
  if (const json::value* b = r.if_contains("background"); b && b->is_bool() && b->get_bool()) {
    return Unsupported("background", "Background responses are not offered for this model.");
  }
  if (const json::value* t = r.if_contains("top_logprobs");
      t && t->is_int64() && t->get_int64() > 0) {
    return Unsupported("top_logprobs", "Log probabilities are not offered for this model.");
  }
  return absl::OkStatus();
}

// UserParts() converts the content of a user / system / developer message item into chat
// content (a string stays a string).
absl::StatusOr<json::value> UserParts(const json::value& content, std::string_view param) {
  if (content.is_string()) return content;
  if (!content.is_array()) return Invalid(param, "content must be a string or a list of parts");
  json::array parts;
  for (const json::value& p : content.get_array()) {
    if (!p.is_object()) return Invalid(param, "content parts must be objects");
    const json::object& o = p.get_object();
    const std::string_view type = Member(o, "type");
    if (type == "input_text" || type == "output_text" || type == "text") {
      parts.push_back(json::object{{"type", "text"}, {"text", Member(o, "text")}});
    } else if (type == "input_image") {
      const std::string_view url = Member(o, "image_url");
      if (url.empty()) {
        return Unsupported(param,
                           "Images given by file_id are not offered for this model: send "
                           "image_url (a data: or https: URL).");
      }
      json::object image{{"url", url}};
      if (const std::string_view d = Member(o, "detail"); !d.empty()) image["detail"] = d;
      parts.push_back(json::object{{"type", "image_url"}, {"image_url", std::move(image)}});
    } else {
      return Unsupported(param, pai::StrCat("Content parts of type \"", type,
                                            "\" are not offered for this model."));
    }
  }
  return parts;
}

// AssistantText() joins the output_text / refusal parts of an assistant message item.
absl::StatusOr<std::string> AssistantText(const json::value& content, std::string_view param) {
  if (content.is_string()) return std::string(content.get_string());
  if (!content.is_array()) return Invalid(param, "content must be a string or a list of parts");
  std::string text;
  for (const json::value& p : content.get_array()) {
    if (!p.is_object()) return Invalid(param, "content parts must be objects");
    const json::object& o = p.get_object();
    const std::string_view type = Member(o, "type");
    if (type == "output_text" || type == "input_text" || type == "text") {
      text += Member(o, "text");
    } else if (type == "refusal") {
      text += Member(o, "refusal");
    } else {
      return Unsupported(param, pai::StrCat("Assistant content parts of type \"", type,
                                            "\" are not offered for this model."));
    }
  }
  return text;
}

// OutputText() is a function_call_output's `output`: a string, or its text parts joined.
absl::StatusOr<std::string> OutputText(const json::value* output, std::string_view param) {
  if (!output) return Invalid(param, "function_call_output needs `output`");
  if (output->is_string()) return std::string(output->get_string());
  if (!output->is_array()) return Invalid(param, "output must be a string or a list of parts");
  std::string text;
  for (const json::value& p : output->get_array()) {
    if (!p.is_object() || (Member(p.get_object(), "type") != "input_text" &&
                           Member(p.get_object(), "type") != "output_text")) {
      return Unsupported(param, "Only text is offered in function_call_output for this model.");
    }
    text += Member(p.get_object(), "text");
  }
  return text;
}

// Messages: the chat messages being assembled from input items.
class Messages {
 public:
  json::array& array() { return messages_; }

  absl::Status AddItem(const json::object& item, std::string_view param) {
    const std::string_view type = Member(item, "type");
    if (type.empty() || type == "message") return AddMessage(item, param);
    if (type == "function_call") {
      const std::string_view call_id = Member(item, "call_id");
      const std::string_view name = Member(item, "name");
      if (call_id.empty() || name.empty()) {
        return Invalid(param, "a function_call item needs `call_id` and `name`");
      }
      const std::string_view args = Member(item, "arguments");
      json::object call{{"id", call_id},
                        {"type", "function"},
                        {"function", json::object{{"name", name}, {"arguments", args}}}};
      Assistant()["tool_calls"].as_array().push_back(std::move(call));
      return absl::OkStatus();
    }
    if (type == "function_call_output") {
      const std::string_view call_id = Member(item, "call_id");
      if (call_id.empty()) return Invalid(param, "a function_call_output item needs `call_id`");
      auto text = OutputText(item.if_contains("output"), pai::StrCat(param, ".output"));
      if (!text.ok()) return text.status();
      messages_.push_back(
          json::object{{"role", "tool"}, {"tool_call_id", call_id}, {"content", std::move(*text)}});
      return absl::OkStatus();
    }
    if (type == "reasoning") return absl::OkStatus();  // thinking is not carried across turns
    if (type == "item_reference") {
      return Unsupported(pai::StrCat(param, ".type"),
                         "item_reference needs state the gateway does not keep: send the item.");
    }
    return Unsupported(
        pai::StrCat(param, ".type"),
        pai::StrCat("Input items of type \"", type, "\" are not offered for this model."));
  }

 private:
  absl::Status AddMessage(const json::object& item, std::string_view param) {
    const std::string_view role = Member(item, "role");
    const json::value* content = item.if_contains("content");
    if (!content) return Invalid(pai::StrCat(param, ".content"), "a message item needs `content`");
    const std::string cparam = pai::StrCat(param, ".content");
    if (role == "assistant") {
      auto text = AssistantText(*content, cparam);
      if (!text.ok()) return text.status();
      json::object& m = Assistant(/*fresh=*/true);
      m["content"] = std::move(*text);
      return absl::OkStatus();
    }
    if (role != "user" && role != "system" && role != "developer") {
      return Invalid(pai::StrCat(param, ".role"),
                     "role must be user, system, developer or assistant");
    }
    auto parts = UserParts(*content, cparam);
    if (!parts.ok()) return parts.status();
    messages_.push_back(json::object{{"role", role}, {"content", std::move(*parts)}});
    return absl::OkStatus();
  }

  // Assistant() is the assistant message function calls join: the last message when it is an
  // assistant one (a fresh one when `fresh`, or when the last has no room).
  json::object& Assistant(bool fresh = false) {
    if (fresh || messages_.empty() || Member(messages_.back().as_object(), "role") != "assistant") {
      messages_.push_back(json::object{{"role", "assistant"}, {"content", nullptr}});
    }
    json::object& m = messages_.back().as_object();
    if (!fresh && !m.contains("tool_calls")) m["tool_calls"] = json::array();
    return m;
  }

  json::array messages_;
};

absl::Status AddTools(const json::object& r, json::object& chat) {
  const json::value* tools = r.if_contains("tools");
  if (!tools || tools->is_null()) return absl::OkStatus();
  if (!tools->is_array()) return Invalid("tools", "tools must be a list");
  json::array out;
  const json::array& list = tools->get_array();
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string param = pai::StrCat("tools[", i, "]");
    if (!list[i].is_object()) return Invalid(param, "tools must be objects");
    const json::object& t = list[i].get_object();
    if (Member(t, "type") != "function") {
      return Unsupported(pai::StrCat(param, ".type"),
                         pai::StrCat("Tools of type \"", Member(t, "type"),
                                     "\" are not offered for this model; only function tools "
                                     "are translated."));
    }
    if (Member(t, "name").empty())
      return Invalid(pai::StrCat(param, ".name"), "a function tool needs `name`");
    json::object fn{{"name", Member(t, "name")}};
    if (const json::value* d = t.if_contains("description"); d && d->is_string())
      fn["description"] = *d;
    if (const json::value* p = t.if_contains("parameters"); p && p->is_object())
      fn["parameters"] = *p;
    if (const json::value* s = t.if_contains("strict"); s && s->is_bool()) fn["strict"] = *s;
    out.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
  }
  if (!out.empty()) chat["tools"] = std::move(out);
  return absl::OkStatus();
}

absl::Status AddToolChoice(const json::object& r, json::object& chat) {
  const json::value* c = r.if_contains("tool_choice");
  if (!c || c->is_null()) return absl::OkStatus();
  if (c->is_string()) {
    const std::string_view s = c->get_string();
    if (s != "auto" && s != "none" && s != "required") {
      return Invalid("tool_choice", "tool_choice must be auto, none, required or a function");
    }
    chat["tool_choice"] = s;
    return absl::OkStatus();
  }
  if (c->is_object() && Member(c->get_object(), "type") == "function" &&
      !Member(c->get_object(), "name").empty()) {
    chat["tool_choice"] =
        json::object{{"type", "function"},
                     {"function", json::object{{"name", Member(c->get_object(), "name")}}}};
    return absl::OkStatus();
  }
  return Unsupported("tool_choice",
                     "Only auto, none, required and {type: function, name} are "
                     "offered as tool_choice for this model.");
}

absl::Status AddTextFormat(const json::object& r, json::object& chat) {
  const json::object* text = ObjectMember(r, "text");
  const json::object* format = text ? ObjectMember(*text, "format") : nullptr;
  if (!format) return absl::OkStatus();
  const std::string_view type = Member(*format, "type");
  if (type == "text" || type.empty()) return absl::OkStatus();
  if (type == "json_object") {
    chat["response_format"] = json::object{{"type", "json_object"}};
    return absl::OkStatus();
  }
  if (type == "json_schema") {
    json::object schema{{"name", Member(*format, "name")}};
    for (std::string_view key : {"schema", "strict", "description"}) {
      if (const json::value* v = format->if_contains(key)) schema[key] = *v;
    }
    chat["response_format"] =
        json::object{{"type", "json_schema"}, {"json_schema", std::move(schema)}};
    return absl::OkStatus();
  }
  return Unsupported("text.format.type", "Unknown text.format type.");
}

absl::Status AddInput(const json::object& r, Messages& messages) {
  if (const std::string_view instructions = Member(r, "instructions"); !instructions.empty()) {
    messages.array().push_back(json::object{{"role", "system"}, {"content", instructions}});
  }
  const json::value* input = r.if_contains("input");
  if (!input) return Invalid("input", "`input` is required");
  if (input->is_string()) {
    messages.array().push_back(json::object{{"role", "user"}, {"content", *input}});
    return absl::OkStatus();
  }
  if (!input->is_array()) return Invalid("input", "input must be a string or a list of items");
  const json::array& items = input->get_array();
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string param = pai::StrCat("input[", i, "]");
    if (!items[i].is_object()) return Invalid(param, "input items must be objects");
    if (absl::Status s = messages.AddItem(items[i].get_object(), param); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void CopyScalars(const json::object& r, json::object& chat) {
  for (std::string_view key : {"temperature", "top_p"}) {
    if (const json::value* v = r.if_contains(key); v && v->is_number()) chat[key] = *v;
  }
  for (std::string_view key : {"parallel_tool_calls", "stream"}) {
    if (const json::value* v = r.if_contains(key); v && v->is_bool()) chat[key] = *v;
  }
  if (const json::value* v = r.if_contains("max_output_tokens"); v && v->is_int64()) {
    chat["max_completion_tokens"] = *v;
  }
  std::string_view user = Member(r, "safety_identifier");
  if (user.empty()) user = Member(r, "user");
  if (!user.empty()) chat["user"] = user;
  if (const json::object* reasoning = ObjectMember(r, "reasoning")) {
    if (const std::string_view e = Member(*reasoning, "effort"); !e.empty())
      chat["reasoning_effort"] = e;
  }
}

}  // namespace

absl::StatusOr<std::string> ResponsesToChat(const json::object& request) {
  if (absl::Status s = CheckStateless(request); !s.ok()) return s;
  json::object chat;
  chat["model"] = Member(request, "model");
  Messages messages;
  if (absl::Status s = AddInput(request, messages); !s.ok()) return s;
  if (messages.array().empty()) return Invalid("input", "input has no items");
  chat["messages"] = std::move(messages.array());
  if (absl::Status s = AddTools(request, chat); !s.ok()) return s;
  if (absl::Status s = AddToolChoice(request, chat); !s.ok()) return s;
  if (absl::Status s = AddTextFormat(request, chat); !s.ok()) return s;
  CopyScalars(request, chat);
  return json::serialize(chat);
}

json::object ResponseShell(const json::object& request, std::string_view id, int64_t created_at,
                           std::string_view model, std::string_view status) {
  auto echo = [&](std::string_view key, json::value fallback) -> json::value {
    const json::value* v = request.if_contains(key);
    return v && !v->is_null() ? *v : fallback;
  };
  json::object r;
  r["id"] = pai::StrCat("resp_", id);
  r["object"] = "response";
  r["created_at"] = created_at;
  r["status"] = status;
  r["background"] = false;
  r["error"] = nullptr;
  r["incomplete_details"] = nullptr;
  r["instructions"] = echo("instructions", nullptr);
  r["max_output_tokens"] = echo("max_output_tokens", nullptr);
  r["metadata"] = echo("metadata", json::object());
  r["model"] = model;
  r["output"] = json::array();
  r["parallel_tool_calls"] = echo("parallel_tool_calls", true);
  r["previous_response_id"] = nullptr;
  r["reasoning"] = echo("reasoning", json::object{{"effort", nullptr}, {"summary", nullptr}});
  r["store"] = false;
  r["temperature"] = echo("temperature", nullptr);
  r["text"] = echo("text", json::object{{"format", json::object{{"type", "text"}}}});
  r["tool_choice"] = echo("tool_choice", "auto");
  r["tools"] = echo("tools", json::array());
  r["top_p"] = echo("top_p", nullptr);
  r["truncation"] = "disabled";
  r["usage"] = nullptr;
  r["user"] = echo("user", nullptr);
  return r;
}

json::object ResponseUsage(const json::object& u) {
  const int64_t input = translate::IntMember(u, "prompt_tokens");
  const int64_t output = translate::IntMember(u, "completion_tokens");
  const json::object* pd = ObjectMember(u, "prompt_tokens_details");
  const json::object* cd = ObjectMember(u, "completion_tokens_details");
  return json::object{
      {"input_tokens", input},
      {"input_tokens_details",
       json::object{{"cached_tokens", pd ? translate::IntMember(*pd, "cached_tokens") : 0}}},
      {"output_tokens", output},
      {"output_tokens_details",
       json::object{{"reasoning_tokens", cd ? translate::IntMember(*cd, "reasoning_tokens") : 0}}},
      {"total_tokens", input + output}};
}

void SetStatus(json::object& response, std::string_view finish_reason) {
  std::string_view reason;
  if (finish_reason == "length") reason = "max_output_tokens";
  if (finish_reason == "content_filter") reason = "content_filter";
  if (reason.empty()) {
    response["status"] = "completed";
    response["incomplete_details"] = nullptr;
  } else {
    response["status"] = "incomplete";
    response["incomplete_details"] = json::object{{"reason", reason}};
  }
}

std::string ItemId(std::string_view prefix, std::string_view base, size_t index) {
  return pai::StrCat(prefix, "_", base, "_", index);
}

std::string IdBase(std::string_view chat_id) {
  std::string base;
  for (char c : chat_id) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) base += c;
  }
  return base.empty() ? std::string("0") : base;
}

absl::StatusOr<std::string> ChatCompletionToResponse(std::string_view chat_completion,
                                                     const json::object& request) {
  boost::system::error_code ec;
  json::value v = json::parse(chat_completion, ec);
  const json::object* chat = !ec && v.is_object() ? &v.get_object() : nullptr;
  const json::value* choices = chat ? chat->if_contains("choices") : nullptr;
  if (!choices || !choices->is_array() || choices->get_array().empty() ||
      !choices->get_array()[0].is_object()) {
    return absl::InvalidArgumentError("not a chat.completion");
  }
  const json::object& choice = choices->get_array()[0].get_object();
  const json::object* message = ObjectMember(choice, "message");
  const std::string base = IdBase(Member(*chat, "id"));
  json::object r = ResponseShell(request, base, translate::IntMember(*chat, "created"),
                                 Member(*chat, "model"), "completed");
  json::array& output = r["output"].as_array();
  if (const std::string_view text = message ? Member(*message, "content") : ""; !text.empty()) {
    json::object part{{"type", "output_text"},
                      {"text", text},
                      {"annotations", json::array()},
                      {"logprobs", json::array()}};
    output.push_back(json::object{{"id", ItemId("msg", base, output.size())},
                                  {"type", "message"},
                                  {"status", "completed"},
                                  {"role", "assistant"},
                                  {"content", json::array{std::move(part)}}});
  }
  const json::value* calls = message ? message->if_contains("tool_calls") : nullptr;
  if (calls && calls->is_array()) {
    for (const json::value& c : calls->get_array()) {
      if (!c.is_object()) continue;
      const json::object* fn = ObjectMember(c.get_object(), "function");
      output.push_back(json::object{{"id", ItemId("fc", base, output.size())},
                                    {"type", "function_call"},
                                    {"status", "completed"},
                                    {"call_id", Member(c.get_object(), "id")},
                                    {"name", fn ? Member(*fn, "name") : ""},
                                    {"arguments", fn ? Member(*fn, "arguments") : ""}});
    }
  }
  SetStatus(r, Member(choice, "finish_reason"));
  if (const json::object* usage = ObjectMember(*chat, "usage")) r["usage"] = ResponseUsage(*usage);
  return json::serialize(r);
}

}  // namespace pai::gateway::responses
