#include "gateway/providers/translate_gemini.h"

#include <boost/json.hpp>
#include <cctype>

#include "absl/container/flat_hash_map.h"
#include "common/json_util.h"
#include "common/strings.h"
#include "gateway/providers/translate_common.h"

namespace pai::gateway::gemini {
namespace json = boost::json;
using translate::IntMember;
using translate::Member;
using translate::ObjectMember;
using translate::UsageJson;
namespace {

// A Gemini thoughtSignature rides in the OpenAI tool-call id after this mark.
constexpr std::string_view kSignatureMark = "#sig=";

absl::Status Unsupported(std::string_view param, std::string_view what) {
  return MakeError(absl::StatusCode::kInvalidArgument,
                   pai::StrCat(what, " (not translatable to Gemini's generateContent)"),
                   "unsupported_parameter", param);
}

absl::Status Invalid(std::string_view param, std::string_view what) {
  return MakeError(absl::StatusCode::kInvalidArgument, what, "invalid_request_error", param);
}

absl::StatusOr<json::array> Parts(const json::value& content, std::string_view param, bool images) {
  json::array parts;
  if (content.is_null()) return parts;
  if (content.is_string()) {
    if (!content.get_string().empty())
      parts.push_back(json::object{{"text", content.get_string()}});
    return parts;
  }
  if (!content.is_array()) return Invalid(param, "content must be a string or a list of parts");
  for (const json::value& p : content.get_array()) {
    const json::object* o = p.if_object();
    if (!o) return Invalid(param, "content parts must be objects");
    const std::string_view type = Member(*o, "type");
    if (type == "text") {
      if (Member(*o, "text").empty()) continue;  // Gemini refuses empty parts
      parts.push_back(json::object{{"text", Member(*o, "text")}});
    } else if (type == "image_url" && images) {
      const json::object* iu = ObjectMember(*o, "image_url");
      const std::string_view u = iu ? Member(*iu, "url") : std::string_view();
      if (u.substr(0, 5) == "data:") {
        auto d = translate::ParseDataUrl(u, param);
        if (!d.ok()) return d.status();
        parts.push_back(json::object{
            {"inlineData", json::object{{"mimeType", d->media_type}, {"data", d->data}}}});
      } else if (u.substr(0, 8) == "https://" || u.substr(0, 7) == "http://") {
        // fileData needs a MIME type; the URL's extension gives it for the common formats.
        std::string path(u.substr(0, u.find_first_of("?#")));
        for (char& ch : path) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        auto ends = [&](std::string_view ext) {
          return path.size() >= ext.size() &&
                 path.compare(path.size() - ext.size(), ext.size(), ext) == 0;
        };
        std::string_view mime = "image/jpeg";
        if (ends(".png")) mime = "image/png";
        if (ends(".webp")) mime = "image/webp";
        if (ends(".gif")) mime = "image/gif";
        if (ends(".heic")) mime = "image/heic";
        parts.push_back(
            json::object{{"fileData", json::object{{"mimeType", mime}, {"fileUri", u}}}});
      } else {
        return Invalid(param, "image_url.url must be an http(s) or data: URL");
      }
    } else {
      return Unsupported(param, pai::StrCat("content part type \"", type, "\""));
    }
  }
  return parts;
}

void AppendTurn(json::array& contents, std::string_view role, json::array parts) {
  if (parts.empty()) return;
  if (!contents.empty()) {
    json::object& last = contents.back().get_object();
    if (Member(last, "role") == role) {
      json::array& p = last.at("parts").get_array();
      for (json::value& v : parts) p.push_back(std::move(v));
      return;
    }
  }
  contents.push_back(json::object{{"role", role}, {"parts", std::move(parts)}});
}

std::string_view FinishReason(std::string_view r, bool called_function) {
  if (r == "MAX_TOKENS") return "length";
  if (r == "SAFETY" || r == "RECITATION" || r == "BLOCKLIST" || r == "PROHIBITED_CONTENT" ||
      r == "SPII" || r == "IMAGE_SAFETY") {
    return "content_filter";
  }
  return called_function ? "tool_calls" : "stop";
}

void ReadUsage(const json::object& u, Usage* usage) { ReadGeminiUsage(u, usage); }

}  // namespace

std::string Path(std::string_view model_id, bool stream) {
  return pai::StrCat("/models/", model_id,
                     stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
}

absl::StatusOr<std::string> ChatToGenerateContent(std::string_view chat_body,
                                                  const RequestOptions& opts) {
  boost::system::error_code ec;
  json::value doc = json::parse(json::string_view(chat_body.data(), chat_body.size()), ec);
  if (ec || !doc.is_object()) return Invalid("", "the request body must be a JSON object");
  const json::object& in = doc.get_object();
  const json::value* msgs = in.if_contains("messages");
  if (!msgs || !msgs->is_array()) return Invalid("messages", "messages must be a list");

  json::array system_parts;
  json::array contents;
  absl::flat_hash_map<std::string, std::string> call_names;  // tool_call id → function name
  const json::array& list = msgs->get_array();
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string param = pai::StrCat("messages[", i, "]");
    const json::object* m = list[i].if_object();
    if (!m) return Invalid(param, "messages must be objects");
    const std::string_view role = Member(*m, "role");
    const json::value* cv = m->if_contains("content");
    const json::value content = cv ? *cv : json::value();
    if (role == "system" || role == "developer") {
      auto parts = Parts(content, param + ".content", false);
      if (!parts.ok()) return parts.status();
      for (json::value& p : *parts) system_parts.push_back(std::move(p));
    } else if (role == "user") {
      auto parts = Parts(content, param + ".content", true);
      if (!parts.ok()) return parts.status();
      AppendTurn(contents, "user", std::move(*parts));
    } else if (role == "assistant") {
      auto parts = Parts(content, param + ".content", false);
      if (!parts.ok()) return parts.status();
      if (const json::value* calls = m->if_contains("tool_calls"); calls && calls->is_array()) {
        for (const json::value& c : calls->get_array()) {
          const json::object* co = c.if_object();
          const json::object* fn = co ? ObjectMember(*co, "function") : nullptr;
          if (!fn) return Invalid(param + ".tool_calls", "tool calls need a function");
          auto input = translate::ToolArguments(Member(*fn, "arguments"), param + ".tool_calls");
          if (!input.ok()) return input.status();
          const std::string_view full_id = Member(*co, "id");
          const size_t mark = full_id.find(kSignatureMark);
          const std::string_view id = full_id.substr(0, mark);
          json::object call{{"name", Member(*fn, "name")}, {"args", std::move(*input)}};
          if (!id.empty()) call["id"] = id;
          call_names[std::string(full_id)] = std::string(Member(*fn, "name"));
          json::object part{{"functionCall", std::move(call)}};
          if (mark != std::string_view::npos) {
            part["thoughtSignature"] = full_id.substr(mark + kSignatureMark.size());
          }
          parts->push_back(std::move(part));
        }
      }
      AppendTurn(contents, "model", std::move(*parts));
    } else if (role == "tool") {
      auto parts = Parts(content, param + ".content", false);
      if (!parts.ok()) return parts.status();
      std::string text;
      for (const json::value& p : *parts) text += Member(p.get_object(), "text");
      const std::string id(Member(*m, "tool_call_id"));
      auto it = call_names.find(id);
      if (it == call_names.end()) {
        return Invalid(param + ".tool_call_id", "no assistant tool call has this id");
      }
      json::object response{{"name", it->second}, {"response", json::object{{"content", text}}}};
      if (!id.empty()) response["id"] = std::string_view(id).substr(0, id.find(kSignatureMark));
      json::array fr;
      fr.push_back(json::object{{"functionResponse", std::move(response)}});
      AppendTurn(contents, "user", std::move(fr));
    } else {
      return Unsupported(param + ".role", pai::StrCat("message role \"", role, "\""));
    }
  }

  json::object out;
  if (!system_parts.empty())
    out["systemInstruction"] = json::object{{"parts", std::move(system_parts)}};
  out["contents"] = std::move(contents);

  json::object gen;
  if (auto limit = translate::OutputLimit(in, opts.output_limit)) gen["maxOutputTokens"] = *limit;
  if (const json::value* v = in.if_contains("temperature"); v && v->is_number())
    gen["temperature"] = *v;
  if (const json::value* v = in.if_contains("top_p"); v && v->is_number()) gen["topP"] = *v;
  if (const json::value* v = in.if_contains("n"); v && v->is_int64() && v->get_int64() > 1) {
    const json::value* stream = in.if_contains("stream");
    if (stream && stream->is_bool() && stream->get_bool()) {
      return Unsupported("n", "n > 1 with stream");
    }
    gen["candidateCount"] = *v;
  }
  if (const json::value* v = in.if_contains("stop")) {
    if (v->is_string()) gen["stopSequences"] = json::array{*v};
    if (v->is_array()) gen["stopSequences"] = *v;
  }
  if (const json::value* v = in.if_contains("seed"); v && v->is_int64()) gen["seed"] = *v;
  if (const json::value* v = in.if_contains("presence_penalty"); v && v->is_number())
    gen["presencePenalty"] = *v;
  if (const json::value* v = in.if_contains("frequency_penalty"); v && v->is_number())
    gen["frequencyPenalty"] = *v;
  if (const json::value* v = in.if_contains("response_format"); v && v->is_object()) {
    const std::string_view type = Member(v->get_object(), "type");
    if (type == "json_object") {
      gen["responseMimeType"] = "application/json";
    } else if (type == "json_schema") {
      gen["responseMimeType"] = "application/json";
      const json::object* js = ObjectMember(v->get_object(), "json_schema");
      if (js && js->contains("schema")) gen["responseJsonSchema"] = js->at("schema");
    } else if (type != "text") {
      return Unsupported("response_format", pai::StrCat("response_format \"", type, "\""));
    }
  }
  if (const json::value* v = in.if_contains("logprobs"); v && v->is_bool() && v->get_bool()) {
    return Unsupported("logprobs", "logprobs");
  }
  if (!gen.empty()) out["generationConfig"] = std::move(gen);

  if (const json::value* v = in.if_contains("tools"); v && v->is_array()) {
    json::array decls;
    for (const json::value& t : v->get_array()) {
      const json::object* to = t.if_object();
      const json::object* fn = to ? ObjectMember(*to, "function") : nullptr;
      if (!fn) return Unsupported("tools", "tools other than functions");
      json::object d{{"name", Member(*fn, "name")}};
      if (fn->contains("description")) d["description"] = fn->at("description");
      if (fn->contains("parameters")) d["parametersJsonSchema"] = fn->at("parameters");
      decls.push_back(std::move(d));
    }
    out["tools"] = json::array{json::object{{"functionDeclarations", std::move(decls)}}};
  }
  if (const json::value* v = in.if_contains("tool_choice")) {
    json::object cfg;
    if (v->is_string()) {
      const std::string_view c = v->get_string();
      cfg["mode"] = c == "required" ? "ANY" : c == "none" ? "NONE" : "AUTO";
    } else if (const json::object* o = v->if_object()) {
      const json::object* fn = ObjectMember(*o, "function");
      if (!fn) return Invalid("tool_choice", "tool_choice must name a function");
      cfg["mode"] = "ANY";
      cfg["allowedFunctionNames"] = json::array{Member(*fn, "name")};
    }
    out["toolConfig"] = json::object{{"functionCallingConfig", std::move(cfg)}};
  }
  return json::serialize(out);
}

absl::StatusOr<std::string> GenerateContentToChatCompletion(std::string_view body,
                                                            std::string_view model,
                                                            int64_t created) {
  boost::system::error_code ec;
  json::value doc = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec || !doc.is_object() ||
      (!doc.get_object().contains("candidates") && !doc.get_object().contains("promptFeedback"))) {
    return absl::InvalidArgumentError("the provider's answer is not a GenerateContentResponse");
  }
  const json::object& r = doc.get_object();
  json::array choices;
  if (!r.contains("candidates")) {  // the prompt itself was blocked (promptFeedback.blockReason)
    choices.push_back(
        json::object{{"index", 0},
                     {"message", json::object{{"role", "assistant"}, {"content", ""}}},
                     {"logprobs", nullptr},
                     {"finish_reason", "content_filter"}});
  }
  static const json::value kNoCandidates = json::array{};
  const json::value& cands_ref = r.contains("candidates") ? r.at("candidates") : kNoCandidates;
  const json::value& cands = cands_ref;
  if (cands.is_array()) {
    for (size_t ci = 0; ci < cands.get_array().size(); ++ci) {
      const json::object* c = cands.get_array()[ci].if_object();
      if (!c) continue;
      std::string text;
      json::array calls;
      const json::object* content = ObjectMember(*c, "content");
      const json::value* parts = content ? content->if_contains("parts") : nullptr;
      if (parts && parts->is_array()) {
        for (const json::value& p : parts->get_array()) {
          const json::object* po = p.if_object();
          if (!po) continue;
          if (po->contains("thought") && po->at("thought").is_bool() &&
              po->at("thought").get_bool())
            continue;
          if (po->contains("text")) text += Member(*po, "text");
          if (const json::object* fc = ObjectMember(*po, "functionCall")) {
            std::string id(Member(*fc, "id"));
            if (id.empty()) id = pai::StrCat("call_", ci, "_", calls.size());
            if (!Member(*po, "thoughtSignature").empty()) {
              id = pai::StrCat(id, kSignatureMark, Member(*po, "thoughtSignature"));
            }
            calls.push_back(json::object{
                {"id", id},
                {"type", "function"},
                {"function", json::object{{"name", Member(*fc, "name")},
                                          {"arguments", json::serialize(fc->contains("args")
                                                                            ? fc->at("args")
                                                                            : json::object{})}}}});
          }
        }
      }
      const bool called = !calls.empty();
      json::object message{{"role", "assistant"}};
      message["content"] = text.empty() && called ? json::value(nullptr) : json::value(text);
      if (called) message["tool_calls"] = std::move(calls);
      const int64_t index =
          c->contains("index") ? IntMember(*c, "index") : static_cast<int64_t>(ci);
      choices.push_back(
          json::object{{"index", index},
                       {"message", std::move(message)},
                       {"logprobs", nullptr},
                       {"finish_reason", FinishReason(Member(*c, "finishReason"), called)}});
    }
  }
  Usage usage;
  if (const json::object* u = ObjectMember(r, "usageMetadata")) ReadUsage(*u, &usage);
  json::object out{{"id", Member(r, "responseId")},
                   {"object", "chat.completion"},
                   {"created", created},
                   {"model", model},
                   {"choices", std::move(choices)},
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
  const json::object& r = doc.get_object();
  if (const json::object* err = ObjectMember(r, "error")) {
    // A failure reported inside the stream (`{"error":{"code","message","status"}}`).
    failed_ = true;
    const int64_t code = IntMember(*err, "code");
    error_ = ErrorToOpenAI(code > 0 ? static_cast<int>(code) : 502, ev.data);
    return;
  }
  if (id_.empty()) id_ = std::string(Member(r, "responseId"));
  if (!started_) {
    started_ = true;
    Chunk(R"({"role":"assistant","content":""})", "", out);
  }
  if (const json::object* u = ObjectMember(r, "usageMetadata")) ReadUsage(*u, &usage_);
  const json::value* cands = r.if_contains("candidates");
  if ((!cands || !cands->is_array() || cands->get_array().empty()) && !finished_) {
    if (const json::object* fb = ObjectMember(r, "promptFeedback");
        fb && !Member(*fb, "blockReason").empty()) {
      finished_ = true;
      Chunk("{}", "content_filter", out);
    }
    return;
  }
  if (!cands || !cands->is_array() || cands->get_array().empty()) return;
  const json::object* c = cands->get_array()[0].if_object();  // n = 1 when streaming
  if (!c) return;
  const json::object* content = ObjectMember(*c, "content");
  const json::value* parts = content ? content->if_contains("parts") : nullptr;
  if (parts && parts->is_array()) {
    for (const json::value& p : parts->get_array()) {
      const json::object* po = p.if_object();
      if (!po) continue;
      if (po->contains("thought") && po->at("thought").is_bool() && po->at("thought").get_bool())
        continue;
      if (po->contains("text")) {
        json::object delta{{"content", Member(*po, "text")}};
        Chunk(json::serialize(delta), "", out);
      }
      if (const json::object* fc = ObjectMember(*po, "functionCall")) {
        // Gemini sends a function call whole: one delta with the complete arguments.
        ToolCall tc;
        tc.index = static_cast<int>(tool_calls_.size());
        tc.id = std::string(Member(*fc, "id"));
        if (tc.id.empty()) tc.id = pai::StrCat("call_0_", tc.index);
        if (!Member(*po, "thoughtSignature").empty()) {
          tc.id = pai::StrCat(tc.id, kSignatureMark, Member(*po, "thoughtSignature"));
        }
        tc.name = std::string(Member(*fc, "name"));
        json::object delta{
            {"tool_calls",
             json::array{json::object{
                 {"index", tc.index},
                 {"id", tc.id},
                 {"type", "function"},
                 {"function",
                  json::object{
                      {"name", tc.name},
                      {"arguments", json::serialize(fc->contains("args") ? fc->at("args")
                                                                         : json::object{})}}}}}}};
        tool_calls_.push_back(std::move(tc));
        Chunk(json::serialize(delta), "", out);
      }
    }
  }
  if (const std::string_view fr = Member(*c, "finishReason"); !fr.empty() && !finished_) {
    finished_ = true;
    Chunk("{}", FinishReason(fr, !tool_calls_.empty()), out);
  }
}

void StreamTranslator::Finish(std::string& out) {
  if (!finished_) {
    finished_ = true;
    Chunk("{}", tool_calls_.empty() ? "stop" : "tool_calls", out);
  }
  if (include_usage_) translate::AppendUsageChunk(out, id_, created_, model_, usage_);
  out += "data: [DONE]\n\n";
}

ApiError ErrorToOpenAI(int status, std::string_view body) {
  ApiError e;
  std::string google_status, message;
  boost::system::error_code ec;
  json::value doc = json::parse(json::string_view(body.data(), body.size()), ec);
  if (!ec && doc.is_object()) {
    if (const json::object* err = ObjectMember(doc.get_object(), "error")) {
      google_status = std::string(Member(*err, "status"));
      message = std::string(Member(*err, "message"));
    }
  }
  e.code = google_status.empty() ? "upstream_error" : google_status;
  e.message = message.empty() ? pai::StrCat("The model provider answered HTTP ", status) : message;
  e.type = "invalid_request_error";
  e.http_status = status;
  // An invalid key is a 400 with reason API_KEY_INVALID in the error details (Google API
  // error model): the gateway's credentials, like a 401/403.
  const bool bad_key = status == 400 && body.find("API_KEY_INVALID") != std::string_view::npos;
  if (status == 401 || status == 403 || bad_key) {
    e.http_status = 502;
    e.type = "api_error";
    e.code = "upstream_auth_error";
    e.message = "The model provider rejected the gateway's credentials";
  } else if (status == 429) {
    e.type = "rate_limit_error";
    e.code = "rate_limit_exceeded";
  } else if (status == 503) {
    e.type = "api_error";
    e.code = "upstream_overloaded";
  } else if (status == 504) {
    e.type = "api_error";
    e.code = "upstream_timeout";
  } else if (status >= 500) {
    e.http_status = 502;
    e.type = "api_error";
  }
  return e;
}

}  // namespace pai::gateway::gemini
