#include "gateway/providers/native_request.h"

#include <algorithm>
#include <boost/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "common/strings.h"
#include "gateway/http/errors.h"

namespace pai::gateway {
namespace json = boost::json;
namespace {

absl::Status Invalid(std::string_view param, std::string_view what) {
  return MakeError(absl::StatusCode::kInvalidArgument, what, "invalid_request_error", param);
}

std::string_view Member(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

int64_t IntOf(const json::value* v) {
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return 0;
}

absl::StatusOr<json::object> ParseObject(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec) {
    return MakeError(absl::StatusCode::kInvalidArgument,
                     "We could not parse the JSON body of your request.", "invalid_json");
  }
  if (!v.is_object()) return Invalid("", "The request body must be a JSON object.");
  return std::move(v.get_object());
}

// BlocksText() joins the text of an Anthropic content (string or blocks of type text).
std::string BlocksText(const json::value& content) {
  if (content.is_string()) return std::string(content.get_string());
  std::string out;
  if (!content.is_array()) return out;
  for (const json::value& b : content.get_array()) {
    const json::object* o = b.if_object();
    if (!o) continue;
    if (Member(*o, "type") == "text") {
      if (!out.empty()) out += '\n';
      out += Member(*o, "text");
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<NativeRequest> ParseAnthropicMessagesRequest(std::string_view body,
                                                            bool require_max_tokens) {
  auto o = ParseObject(body);
  if (!o.ok()) return o.status();
  NativeRequest r;
  const json::value* model = o->if_contains("model");
  if (!model || !model->is_string() || model->get_string().empty()) {
    return Invalid("model", "model: Field required");
  }
  r.model = std::string(model->get_string());
  const json::value* messages = o->if_contains("messages");
  if (!messages || !messages->is_array()) return Invalid("messages", "messages: Field required");
  if (const json::value* s = o->if_contains("stream"); s && s->is_bool()) r.stream = s->get_bool();
  const json::value* mt = o->if_contains("max_tokens");
  if (mt) {
    if (!(mt->is_int64() || mt->is_uint64()) || IntOf(mt) < 1) {
      return Invalid("max_tokens", "max_tokens: Input should be a valid integer >= 1");
    }
    r.max_output = IntOf(mt);
  } else if (require_max_tokens) {
    return Invalid("max_tokens", "max_tokens: Field required");
  }
  r.doc = std::make_shared<const json::object>(std::move(*o));
  return r;
}

absl::StatusOr<NativeRequest> ParseResponsesRequest(std::string_view body) {
  auto o = ParseObject(body);
  if (!o.ok()) return o.status();
  NativeRequest r;
  const json::value* model = o->if_contains("model");
  if (!model || !model->is_string() || model->get_string().empty()) {
    return Invalid("model", "Missing required parameter: 'model'.");
  }
  r.model = std::string(model->get_string());
  const json::value* input = o->if_contains("input");
  if (!input || !(input->is_string() || input->is_array())) {
    return Invalid("input", "Missing required parameter: 'input'.");
  }
  if (const json::value* s = o->if_contains("stream"); s && s->is_bool()) r.stream = s->get_bool();
  if (const json::value* m = o->if_contains("max_output_tokens"); m && !m->is_null()) {
    if (!(m->is_int64() || m->is_uint64()) || IntOf(m) < 1) {
      return Invalid("max_output_tokens", "Invalid 'max_output_tokens': expected an integer >= 1.");
    }
    r.max_output = IntOf(m);
  }
  r.doc = std::make_shared<const json::object>(std::move(*o));
  return r;
}

absl::StatusOr<std::string> RewriteNativeBody(const json::object& body, std::string_view model_id,
                                              std::string_view output_field,
                                              std::optional<int64_t> cap) {
  json::object o = body;  // a copy per attempt: a fallback rewrites it again
  o["model"] = model_id;
  if (cap && !output_field.empty()) {
    const json::string_view f(output_field.data(), output_field.size());
    const json::value* v = o.if_contains(f);
    const int64_t sent = v ? IntOf(v) : 0;
    const int64_t max_tokens = sent > 0 ? std::min(sent, *cap) : *cap;
    o[f] = max_tokens;
    if (output_field == "max_tokens") {
      json::value* thinking = o.if_contains("thinking");
      json::object* t = thinking ? thinking->if_object() : nullptr;
      if (t && Member(*t, "type") == "enabled" && t->contains("budget_tokens") &&
          IntOf(t->if_contains("budget_tokens")) >= max_tokens) {
        if (max_tokens <= 1024) {
          return MakeHttpError(429,
                               pai::StrCat("The remaining budget allows ", max_tokens,
                                           " output tokens; extended thinking needs more than "
                                           "1024."),
                               "insufficient_quota");
        }
        (*t)["budget_tokens"] = max_tokens - 1;
      }
    }
  }
  return json::serialize(o);
}

absl::Status AnthropicRequestGuardTexts(const json::object& body, std::vector<GuardText>* out) {
  const json::value* messages = body.if_contains("messages");
  if (!messages || !messages->is_array()) return absl::InvalidArgumentError("no messages list");
  absl::flat_hash_map<std::string, std::string> tool_names;  // tool_use id → name
  const json::array& list = messages->get_array();
  for (size_t i = 0; i < list.size(); ++i) {
    const json::object* m = list[i].if_object();
    if (!m) return absl::InvalidArgumentError("message not an object");
    const std::string_view role = Member(*m, "role");
    const json::value* content = m->if_contains("content");
    if (!content) continue;
    const std::string param = pai::StrCat("messages[", i, "].content");
    if (role == "assistant") {
      if (!content->is_array()) continue;
      for (const json::value& b : content->get_array()) {
        const json::object* bo = b.if_object();
        if (bo && Member(*bo, "type") == "tool_use") {
          tool_names[std::string(Member(*bo, "id"))] = std::string(Member(*bo, "name"));
        }
      }
      continue;
    }
    if (role != "user") continue;
    if (content->is_string()) {
      out->push_back({GuardTarget::kPrompt, param, "", "user", std::string(content->get_string())});
      continue;
    }
    if (!content->is_array()) return absl::InvalidArgumentError("content neither string nor list");
    std::string text;
    for (const json::value& b : content->get_array()) {
      const json::object* bo = b.if_object();
      if (!bo) return absl::InvalidArgumentError("content block not an object");
      const std::string_view type = Member(*bo, "type");
      if (type == "tool_result") {
        const json::value* rc = bo->if_contains("content");
        std::string result = rc ? BlocksText(*rc) : std::string();
        if (result.empty()) continue;
        auto it = tool_names.find(std::string(Member(*bo, "tool_use_id")));
        out->push_back({GuardTarget::kToolResult, param,
                        it == tool_names.end() ? std::string() : it->second, "tool",
                        std::move(result)});
      } else if (bo->contains("text")) {
        if (!text.empty()) text += '\n';
        text += Member(*bo, "text");
      }
    }
    if (!text.empty()) out->push_back({GuardTarget::kPrompt, param, "", "user", std::move(text)});
  }
  return absl::OkStatus();
}

absl::Status ResponsesRequestGuardTexts(const json::object& body, std::vector<GuardText>* out) {
  const json::value* input = body.if_contains("input");
  if (!input) return absl::InvalidArgumentError("no input");
  if (input->is_string()) {
    out->push_back({GuardTarget::kPrompt, "input", "", "user", std::string(input->get_string())});
    return absl::OkStatus();
  }
  if (!input->is_array()) return absl::InvalidArgumentError("input neither string nor list");
  absl::flat_hash_map<std::string, std::string> tool_names;  // call_id → name
  const json::array& items = input->get_array();
  for (size_t i = 0; i < items.size(); ++i) {
    const json::object* it = items[i].if_object();
    if (!it) return absl::InvalidArgumentError("input item not an object");
    const std::string_view type = Member(*it, "type");
    if (type == "function_call") {
      tool_names[std::string(Member(*it, "call_id"))] = std::string(Member(*it, "name"));
    } else if (type == "function_call_output") {
      auto n = tool_names.find(std::string(Member(*it, "call_id")));
      const json::value* outv = it->if_contains("output");
      std::string text = outv && outv->is_string() ? std::string(outv->get_string())
                         : outv                    ? BlocksText(*outv)
                                                   : std::string();
      // output parts use type "input_text"
      if (outv && outv->is_array()) {
        text.clear();
        for (const json::value& p : outv->get_array()) {
          if (const json::object* po = p.if_object()) text += Member(*po, "text");
        }
      }
      if (!text.empty()) {
        out->push_back({GuardTarget::kToolResult, pai::StrCat("input[", i, "].output"),
                        n == tool_names.end() ? std::string() : n->second, "tool", text});
      }
    } else if (Member(*it, "role") == "user") {
      const json::value* c = it->if_contains("content");
      std::string text;
      if (c && c->is_string()) {
        text = std::string(c->get_string());
      } else if (c && c->is_array()) {
        for (const json::value& p : c->get_array()) {
          const json::object* po = p.if_object();
          if (po && po->contains("text")) {
            if (!text.empty()) text += '\n';
            text += Member(*po, "text");
          }
        }
      }
      if (!text.empty()) {
        out->push_back({GuardTarget::kPrompt, pai::StrCat("input[", i, "].content"), "", "user",
                        std::move(text)});
      }
    }
  }
  return absl::OkStatus();
}

NativeResult AnthropicMessageResult(std::string_view body) {
  NativeResult r;
  auto o = ParseObject(body);
  if (!o.ok()) return r;
  r.json = true;
  if (const json::value* u = o->if_contains("usage"); u && u->is_object()) {
    ReadAnthropicUsage(u->get_object(), &r.usage, true, true);
  }
  std::string text;
  if (const json::value* c = o->if_contains("content"); c && c->is_array()) {
    int index = 0;
    for (const json::value& b : c->get_array()) {
      const json::object* bo = b.if_object();
      if (!bo) continue;
      if (Member(*bo, "type") == "tool_use") {
        ToolCall tc;
        tc.index = index++;
        tc.id = std::string(Member(*bo, "id"));
        tc.name = std::string(Member(*bo, "name"));
        r.tool_calls.push_back(std::move(tc));
      } else if (Member(*bo, "type") == "text") {
        text += Member(*bo, "text");
      }
    }
  }
  if (!text.empty()) r.texts.push_back({GuardTarget::kResponse, "content", "", "assistant", text});
  return r;
}

NativeResult ResponsesResult(std::string_view body) {
  NativeResult r;
  auto o = ParseObject(body);
  if (!o.ok()) return r;
  r.json = true;
  const json::object* resp = &*o;
  if (const json::value* inner = o->if_contains("response"); inner && inner->is_object()) {
    resp = &inner->get_object();  // a response.completed event
  }
  if (const json::value* u = resp->if_contains("usage"); u && u->is_object()) {
    ReadResponsesUsage(u->get_object(), &r.usage);
  }
  std::string text;
  if (const json::value* output = resp->if_contains("output"); output && output->is_array()) {
    int index = 0;
    for (const json::value& item : output->get_array()) {
      const json::object* io = item.if_object();
      if (!io) continue;
      if (Member(*io, "type") == "function_call") {
        ToolCall tc;
        tc.index = index++;
        tc.id = std::string(Member(*io, "call_id"));
        tc.name = std::string(Member(*io, "name"));
        r.tool_calls.push_back(std::move(tc));
      } else if (Member(*io, "type") == "message") {
        const json::value* c = io->if_contains("content");
        if (c && c->is_array()) {
          for (const json::value& p : c->get_array()) {
            const json::object* po = p.if_object();
            if (po && Member(*po, "type") == "output_text") text += Member(*po, "text");
          }
        }
      }
    }
  }
  if (!text.empty()) r.texts.push_back({GuardTarget::kResponse, "output", "", "assistant", text});
  return r;
}

NativeStreamRelay::NativeStreamRelay(bool anthropic, size_t max_event_bytes)
    : anthropic_(anthropic), parser_(max_event_bytes), translator_("", true, 0), view_(true) {
  view_.CollectContent();
}

void NativeStreamRelay::Process(std::string_view bytes, std::string& out) {
  parser_.Feed(bytes, [&](const SseEvent& ev) {
    if (anthropic_) {
      std::string chunks, ignored;
      translator_.Process(ev, chunks);
      if (translator_.failed() && !failed_) {
        failed_ = true;
        error_ = translator_.error();
        error_.http_status = translator_.error().code == "upstream_overloaded" ? 529 : 500;
      }
      if (translator_.stopped() && !completed_) chunks.clear();  // Finish() is not called here
      view_.Process(chunks, ignored);
      if (translator_.stopped() && !completed_) {
        completed_ = true;
        held_.append(ev.raw);
        return;
      }
    } else {
      std::string_view type = ev.event;
      if (type.empty()) {  // the event name is also the data's "type"
        const size_t t = ev.data.find("\"type\":\"response.");
        if (t != std::string_view::npos) {
          const size_t start = t + 8;
          type = ev.data.substr(start, ev.data.find('"', start) - start);
        }
      }
      if ((type == "response.failed" || type == "error") && !failed_) {
        failed_ = true;
        error_.http_status = 502;
        error_.code = "upstream_error";
        error_.message = "The model provider reported an error in the stream";
      }
      if (type == "response.completed" || type == "response.incomplete") {
        responses_ = ResponsesResult(ev.data);
        completed_ = true;
        held_.append(ev.raw);
        return;
      }
    }
    out.append(ev.raw);
  });
}

void NativeStreamRelay::Finish(std::string& out) {
  out += held_;
  held_.clear();
  out += parser_.TakePending();
}

Usage NativeStreamRelay::usage() const {
  if (!anthropic_) return responses_.usage;
  Usage u = translator_.usage();
  if (!translator_.final_usage()) u.present = false;
  return u;
}

const std::vector<ToolCall>& NativeStreamRelay::tool_calls() const {
  return anthropic_ ? translator_.tool_calls() : responses_.tool_calls;
}

std::vector<GuardText> NativeStreamRelay::texts() const {
  return anthropic_ ? view_.ContentTexts() : responses_.texts;
}

}  // namespace pai::gateway
