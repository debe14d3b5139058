#include "gateway/providers/translate_anthropic.h"

#include <algorithm>
#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "common/json_util.h"
#include "common/strings.h"
#include "gateway/providers/translate_common.h"

namespace pai::gateway::anthropic {
namespace json = boost::json;
using translate::IntMember;
using translate::Member;
using translate::ObjectMember;
using translate::UsageJson;
namespace {

constexpr int64_t kMaxBlocks = 1024;  // content blocks of one message the translator tracks

absl::Status Unsupported(std::string_view param, std::string_view what) {
  return MakeError(absl::StatusCode::kInvalidArgument,
                   pai::StrCat(what, " (not translatable to Anthropic's Messages API)"),
                   "unsupported_parameter", param);
}

absl::Status Invalid(std::string_view param, std::string_view what) {
  return MakeError(absl::StatusCode::kInvalidArgument, what, "invalid_request_error", param);
}

std::string_view Str(const json::value& v) {
  return v.is_string() ? std::string_view(v.get_string()) : std::string_view();
}

// TextOf() joins the text of an OpenAI content (string or parts); other parts are an error.
absl::StatusOr<std::string> TextOf(const json::value& content, std::string_view param) {
  if (content.is_null()) return std::string();
  if (content.is_string()) return std::string(content.get_string());
  if (!content.is_array()) return Invalid(param, "content must be a string or a list of parts");
  std::string out;
  for (const json::value& p : content.get_array()) {
    if (!p.is_object()) return Invalid(param, "content parts must be objects");
    const json::object& o = p.get_object();
    if (Member(o, "type") != "text") {
      return Unsupported(param, "only text parts are accepted here");
    }
    if (!out.empty()) out += "\n";
    out += Member(o, "text");
  }
  return out;
}

// UserBlocks() converts an OpenAI user content into Anthropic content blocks.
absl::StatusOr<json::array> UserBlocks(const json::value& content, std::string_view param) {
  json::array blocks;
  if (content.is_string()) {
    if (!content.get_string().empty()) {
      blocks.push_back(json::object{{"type", "text"}, {"text", content.get_string()}});
    }
    return blocks;
  }
  if (!content.is_array()) return Invalid(param, "content must be a string or a list of parts");
  for (const json::value& p : content.get_array()) {
    if (!p.is_object()) return Invalid(param, "content parts must be objects");
    const json::object& o = p.get_object();
    const std::string_view type = Member(o, "type");
    if (type == "text") {
      if (Member(o, "text").empty()) continue;  // the Messages API refuses empty text blocks
      blocks.push_back(
          json::object{{"type", "text"}, {"text", o.contains("text") ? o.at("text") : ""}});
    } else if (type == "image_url") {
      const json::value* iu = o.if_contains("image_url");
      const json::value* url =
          iu && iu->is_object() ? iu->get_object().if_contains("url") : nullptr;
      const std::string_view u = url ? Str(*url) : std::string_view();
      if (u.substr(0, 5) == "data:") {
        auto d = translate::ParseDataUrl(u, param);
        if (!d.ok()) return d.status();
        blocks.push_back(json::object{
            {"type", "image"},
            {"source",
             json::object{{"type", "base64"}, {"media_type", d->media_type}, {"data", d->data}}}});
      } else if (u.substr(0, 8) == "https://" || u.substr(0, 7) == "http://") {
        blocks.push_back(
            json::object{{"type", "image"}, {"source", json::object{{"type", "url"}, {"url", u}}}});
      } else {
        return Invalid(param, "image_url.url must be an http(s) or data: URL");
      }
    } else {
      return Unsupported(param, pai::StrCat("content part type \"", type, "\""));
    }
  }
  return blocks;
}

// AppendTurn() adds blocks to the conversation, merging consecutive turns of one role (the
// Messages API alternates user and assistant turns).
void AppendTurn(json::array& messages, std::string_view role, json::array blocks) {
  if (blocks.empty()) return;
  if (!messages.empty()) {
    json::object& last = messages.back().get_object();
    if (Str(last.at("role")) == role) {
      json::array& content = last.at("content").get_array();
      for (json::value& b : blocks) content.push_back(std::move(b));
      return;
    }
  }
  messages.push_back(json::object{{"role", role}, {"content", std::move(blocks)}});
}

std::string_view FinishReason(std::string_view stop_reason) {
  if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded")
    return "length";
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "refusal") return "content_filter";
  return "stop";  // end_turn, stop_sequence, pause_turn
}

void ReadUsage(const json::object& u, Usage* usage, bool input, bool output) {
  ReadAnthropicUsage(u, usage, input, output);
}

}  // namespace

absl::StatusOr<std::string> ChatToMessages(std::string_view chat_body, const RequestOptions& opts) {
  boost::system::error_code ec;
  json::value doc = json::parse(json::string_view(chat_body.data(), chat_body.size()), ec);
  if (ec || !doc.is_object()) return Invalid("", "the request body must be a JSON object");
  const json::object& in = doc.get_object();
  json::object out;
  out["model"] = opts.model_id;

  std::string system;
  json::array messages;
  const json::value* msgs = in.if_contains("messages");
  if (!msgs || !msgs->is_array()) return Invalid("messages", "messages must be a list");
  const json::array& list = msgs->get_array();
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string param = pai::StrCat("messages[", i, "]");
    if (!list[i].is_object()) return Invalid(param, "messages must be objects");
    const json::object& m = list[i].get_object();
    const std::string_view role = Member(m, "role");
    const json::value content = m.contains("content") ? m.at("content") : json::value();
    if (role == "system" || role == "developer") {
      auto text = TextOf(content, param + ".content");
      if (!text.ok()) return text.status();
      if (!system.empty()) system += "\n\n";
      system += *text;
    } else if (role == "user") {
      auto blocks = UserBlocks(content, param + ".content");
      if (!blocks.ok()) return blocks.status();
      AppendTurn(messages, "user", std::move(*blocks));
    } else if (role == "assistant") {
      json::array blocks;
      auto text = TextOf(content, param + ".content");
      if (!text.ok()) return text.status();
      if (!text->empty()) blocks.push_back(json::object{{"type", "text"}, {"text", *text}});
      if (const json::value* calls = m.if_contains("tool_calls"); calls && calls->is_array()) {
        for (const json::value& c : calls->get_array()) {
          const json::object* co = c.if_object();
          const json::object* fn =
              co && co->contains("function") ? co->at("function").if_object() : nullptr;
          if (!co || !fn) return Invalid(param + ".tool_calls", "tool calls need a function");
          auto input = translate::ToolArguments(Member(*fn, "arguments"), param + ".tool_calls");
          if (!input.ok()) return input.status();
          blocks.push_back(json::object{{"type", "tool_use"},
                                        {"id", co->contains("id") ? co->at("id") : ""},
                                        {"name", fn->contains("name") ? fn->at("name") : ""},
                                        {"input", std::move(*input)}});
        }
      }
      if (blocks.empty()) continue;  // an empty assistant turn carries nothing
      AppendTurn(messages, "assistant", std::move(blocks));
    } else if (role == "tool") {
      auto text = TextOf(content, param + ".content");
      if (!text.ok()) return text.status();
      json::array blocks;
      blocks.push_back(
          json::object{{"type", "tool_result"},
                       {"tool_use_id", m.contains("tool_call_id") ? m.at("tool_call_id") : ""},
                       {"content", *text}});
      AppendTurn(messages, "user", std::move(blocks));
    } else {
      return Unsupported(param + ".role", pai::StrCat("message role \"", role, "\""));
    }
  }
  if (!system.empty()) out["system"] = system;
  out["messages"] = std::move(messages);

  // Output limit: the client's, capped by the budget's; Anthropic requires one.
  out["max_tokens"] = translate::OutputLimit(in, opts.output_limit).value_or(kDefaultMaxTokens);

  if (const json::value* v = in.if_contains("n");
      v && !(v->is_int64() && v->get_int64() == 1) && !v->is_null()) {
    return Unsupported("n", "n > 1");
  }
  if (const json::value* v = in.if_contains("logprobs"); v && v->is_bool() && v->get_bool()) {
    return Unsupported("logprobs", "logprobs");
  }
  if (const json::value* v = in.if_contains("response_format"); v && v->is_object()) {
    if (Member(v->get_object(), "type") != "text") {
      return Unsupported("response_format", "response_format other than text");
    }
  }
  if (const json::value* v = in.if_contains("temperature"); v && v->is_number()) {
    out["temperature"] = std::clamp(v->to_number<double>(), 0.0, 1.0);
  }
  // Recent Claude models refuse temperature and top_p together: temperature wins.
  if (const json::value* v = in.if_contains("top_p");
      v && v->is_number() && !out.contains("temperature")) {
    out["top_p"] = *v;
  }
  if (const json::value* v = in.if_contains("stream"); v && v->is_bool() && v->get_bool()) {
    out["stream"] = true;
  }
  if (const json::value* v = in.if_contains("stop")) {
    if (v->is_string()) {
      out["stop_sequences"] = json::array{*v};
    } else if (v->is_array()) {
      out["stop_sequences"] = *v;
    }
  }
  if (const json::value* v = in.if_contains("user"); v && v->is_string()) {
    out["metadata"] = json::object{{"user_id", *v}};
  }
  if (const json::value* v = in.if_contains("tools"); v && v->is_array()) {
    json::array tools;
    for (const json::value& t : v->get_array()) {
      const json::object* to = t.if_object();
      const json::object* fn =
          to && to->contains("function") ? to->at("function").if_object() : nullptr;
      if (!fn) return Unsupported("tools", "tools other than functions");
      json::object tool{{"name", fn->contains("name") ? fn->at("name") : ""}};
      if (fn->contains("description")) tool["description"] = fn->at("description");
      tool["input_schema"] = fn->contains("parameters")
                                 ? fn->at("parameters")
                                 : json::value(json::object{{"type", "object"}});
      tools.push_back(std::move(tool));
    }
    out["tools"] = std::move(tools);
  }
  const json::value* parallel = in.if_contains("parallel_tool_calls");
  const bool no_parallel = parallel && parallel->is_bool() && !parallel->get_bool();
  if (const json::value* v = in.if_contains("tool_choice")) {
    json::object choice;
    if (v->is_string()) {
      const std::string_view c = v->get_string();
      choice["type"] = c == "required" ? "any" : c == "none" ? "none" : "auto";
    } else if (const json::object* o = v->if_object()) {
      const json::object* fn = o->contains("function") ? o->at("function").if_object() : nullptr;
      if (!fn) return Invalid("tool_choice", "tool_choice must name a function");
      choice["type"] = "tool";
      choice["name"] = fn->contains("name") ? fn->at("name") : "";
    }
    if (no_parallel && Str(choice["type"]) != "none") choice["disable_parallel_tool_use"] = true;
    out["tool_choice"] = std::move(choice);
  } else if (no_parallel && out.contains("tools")) {
    out["tool_choice"] = json::object{{"type", "auto"}, {"disable_parallel_tool_use", true}};
  }
  return json::serialize(out);
}

absl::StatusOr<std::string> MessageToChatCompletion(std::string_view message_body,
                                                    std::string_view model, int64_t created) {
  boost::system::error_code ec;
  json::value doc = json::parse(json::string_view(message_body.data(), message_body.size()), ec);
  if (ec || !doc.is_object() || Member(doc.get_object(), "type") != "message") {
    return absl::InvalidArgumentError("the provider's answer is not an Anthropic Message");
  }
  const json::object& m = doc.get_object();
  std::string text;
  json::array calls;
  if (const json::value* content = m.if_contains("content"); content && content->is_array()) {
    for (const json::value& b : content->get_array()) {
      const json::object* bo = b.if_object();
      if (!bo) continue;
      const std::string_view type = Member(*bo, "type");
      if (type == "text") {
        text += Member(*bo, "text");
      } else if (type == "tool_use") {
        calls.push_back(json::object{
            {"id", bo->contains("id") ? bo->at("id") : ""},
            {"type", "function"},
            {"function", json::object{{"name", bo->contains("name") ? bo->at("name") : ""},
                                      {"arguments",
                                       json::serialize(bo->contains("input") ? bo->at("input")
                                                                             : json::object{})}}}});
      }
    }
  }
  json::object message{{"role", "assistant"}};
  message["content"] = text.empty() && !calls.empty() ? json::value(nullptr) : json::value(text);
  if (!calls.empty()) message["tool_calls"] = std::move(calls);
  Usage usage;
  if (const json::value* u = m.if_contains("usage"); u && u->is_object()) {
    ReadUsage(u->get_object(), &usage, true, true);
  }
  json::object out{{"id", m.contains("id") ? m.at("id") : ""},
                   {"object", "chat.completion"},
                   {"created", created},
                   {"model", model},
                   {"choices", json::array{json::object{
                                   {"index", 0},
                                   {"message", std::move(message)},
                                   {"logprobs", nullptr},
                                   {"finish_reason", FinishReason(Member(m, "stop_reason"))}}}},
                   {"usage", UsageJson(usage)}};
  return json::serialize(out);
}

StreamTranslator::StreamTranslator(std::string model, bool include_usage, int64_t created)
    : model_(std::move(model)), include_usage_(include_usage), created_(created) {}

void StreamTranslator::Chunk(std::string_view delta_json, std::string_view finish_reason,
                             std::string& out) {
  translate::AppendChunk(out, id_, created_, model_, delta_json, finish_reason);
}

void StreamTranslator::Process(const SseEvent& ev, std::string& out) {
  if (ev.data.empty()) return;
  boost::system::error_code ec;
  json::value doc = json::parse(json::string_view(ev.data.data(), ev.data.size()), ec);
  if (ec || !doc.is_object()) return;
  const json::object& o = doc.get_object();
  const std::string_view type = Member(o, "type");
  if (type == "message_start") {
    const json::object* m = o.contains("message") ? o.at("message").if_object() : nullptr;
    if (m) {
      id_ = std::string(Member(*m, "id"));
      if (const json::value* u = m->if_contains("usage"); u && u->is_object()) {
        ReadUsage(u->get_object(), &usage_, true, true);
      }
    }
    Chunk(R"({"role":"assistant","content":""})", "", out);
  } else if (type == "content_block_start") {
    const json::object* b =
        o.contains("content_block") ? o.at("content_block").if_object() : nullptr;
    const int64_t index =
        o.contains("index") && o.at("index").is_int64() ? o.at("index").get_int64() : 0;
    if (index < 0 || index > kMaxBlocks) return;  // not a block index Anthropic sends
    if (b && Member(*b, "type") == "tool_use") {
      const int tool = static_cast<int>(tool_calls_.size());
      if (tool_index_.size() <= static_cast<size_t>(index)) tool_index_.resize(index + 1, -1);
      tool_index_[index] = tool;
      ToolCall tc;
      tc.index = tool;
      tc.id = std::string(Member(*b, "id"));
      tc.name = std::string(Member(*b, "name"));
      tool_args_seen_.push_back(false);
      json::object delta{
          {"tool_calls", json::array{json::object{
                             {"index", tool},
                             {"id", tc.id},
                             {"type", "function"},
                             {"function", json::object{{"name", tc.name}, {"arguments", ""}}}}}}};
      tool_calls_.push_back(std::move(tc));
      Chunk(json::serialize(delta), "", out);
    }
  } else if (type == "content_block_delta") {
    const json::object* d = o.contains("delta") ? o.at("delta").if_object() : nullptr;
    if (!d) return;
    const std::string_view dtype = Member(*d, "type");
    if (dtype == "text_delta") {
      json::object delta{{"content", d->contains("text") ? d->at("text") : ""}};
      Chunk(json::serialize(delta), "", out);
    } else if (dtype == "input_json_delta") {
      const int64_t index =
          o.contains("index") && o.at("index").is_int64() ? o.at("index").get_int64() : 0;
      const int tool =
          index >= 0 && static_cast<size_t>(index) < tool_index_.size() ? tool_index_[index] : -1;
      if (tool < 0) return;
      if (static_cast<size_t>(tool) < tool_args_seen_.size()) tool_args_seen_[tool] = true;
      json::object delta{
          {"tool_calls", json::array{json::object{
                             {"index", tool},
                             {"function", json::object{{"arguments", d->contains("partial_json")
                                                                         ? d->at("partial_json")
                                                                         : ""}}}}}}};
      Chunk(json::serialize(delta), "", out);
    }
    // thinking_delta, signature_delta, citations_delta: no chat.completion equivalent
  } else if (type == "message_delta") {
    if (const json::value* d = o.if_contains("delta"); d && d->is_object()) {
      if (const json::value* r = d->get_object().if_contains("stop_reason"); r && r->is_string()) {
        finish_reason_ = std::string(FinishReason(r->get_string()));
      }
    }
    // message_delta usage is cumulative; it may restate input and cache tokens.
    if (const json::value* u = o.if_contains("usage"); u && u->is_object()) {
      ReadUsage(u->get_object(), &usage_, true, true);
      final_usage_ = true;
    }
  } else if (type == "content_block_stop") {
    // A tool call without input deltas has empty arguments: "{}" as in a non-streamed answer.
    const int64_t index =
        o.contains("index") && o.at("index").is_int64() ? o.at("index").get_int64() : -1;
    const int tool =
        index >= 0 && static_cast<size_t>(index) < tool_index_.size() ? tool_index_[index] : -1;
    if (tool >= 0 && !tool_args_seen_[tool]) {
      tool_args_seen_[tool] = true;
      json::object delta{
          {"tool_calls", json::array{json::object{
                             {"index", tool}, {"function", json::object{{"arguments", "{}"}}}}}}};
      Chunk(json::serialize(delta), "", out);
    }
  } else if (type == "message_stop") {
    stopped_ = true;
    Chunk("{}", finish_reason_.empty() ? "stop" : finish_reason_, out);
  } else if (type == "error") {
    failed_ = true;
    const json::object* e = o.contains("error") ? o.at("error").if_object() : nullptr;
    const std::string_view etype = e ? Member(*e, "type") : "";
    error_.http_status = etype == "overloaded_error" ? 503 : 502;
    error_.type = "api_error";
    error_.code = etype == "overloaded_error" ? "upstream_overloaded"
                  : etype.empty()             ? "upstream_error"
                                              : std::string(etype);
    error_.message = e && !Member(*e, "message").empty() ? std::string(Member(*e, "message"))
                                                         : "The model provider reported an error";
  }
  // ping: keep-alive only
}

void StreamTranslator::Finish(std::string& out) {
  if (include_usage_) translate::AppendUsageChunk(out, id_, created_, model_, usage_);
  out += "data: [DONE]\n\n";
}

ApiError ErrorToOpenAI(int status, std::string_view body) {
  ApiError e;
  std::string type, message;
  boost::system::error_code ec;
  json::value doc = json::parse(json::string_view(body.data(), body.size()), ec);
  if (!ec && doc.is_object()) {
    if (const json::value* err = doc.get_object().if_contains("error"); err && err->is_object()) {
      type = std::string(Member(err->get_object(), "type"));
      message = std::string(Member(err->get_object(), "message"));
    }
  }
  e.code = type.empty() ? "upstream_error" : type;
  e.message = message.empty() ? pai::StrCat("The model provider answered HTTP ", status) : message;
  e.type = "invalid_request_error";
  e.http_status = status;
  if (status == 401 || status == 403) {
    e.http_status = 502;
    e.type = "api_error";
    e.code = "upstream_auth_error";
    e.message = "The model provider rejected the gateway's credentials";
  } else if (status == 429) {
    e.type =
        "rate_limit_error";  // OpenAI's 429 type is "requests"/"tokens"; code carries the cause
    e.code = "rate_limit_exceeded";
  } else if (status == 529 || type == "overloaded_error") {
    e.http_status = 503;
    e.type = "api_error";
    e.code = "upstream_overloaded";
  } else if (status >= 500) {
    e.http_status = 502;
    e.type = "api_error";
  }
  return e;
}

}  // namespace pai::gateway::anthropic
