#include "harness/sse.h"

#include <boost/json/parse.hpp>

#include "harness/util.h"

namespace pai::harness {

namespace json = boost::json;

void SseParser::Feed(std::string_view bytes) {
  pending_.append(bytes);
  size_t start = 0;
  for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view line = std::string_view(pending_).substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    Line(line);
  }
  pending_.erase(0, start);
}

void SseParser::Finish() {
  if (!pending_.empty()) {
    std::string rest = std::move(pending_);
    pending_.clear();
    Line(rest);
  }
  Line("");
}

void SseParser::Line(std::string_view line) {
  if (line.empty()) {
    if (has_data_) on_data_(data_);
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;
  const size_t colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field != "data") return;
  if (has_data_) data_.push_back('\n');
  data_.append(value);
  has_data_ = true;
}

namespace {

std::string StringAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

int64_t IntAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return 0;
}

void ReadUsage(const json::value* u, Usage& out) {
  if (u == nullptr || !u->is_object()) return;
  const json::object& o = u->get_object();
  out.prompt_tokens = IntAt(o, "prompt_tokens");
  out.completion_tokens = IntAt(o, "completion_tokens");
  out.total_tokens = IntAt(o, "total_tokens");
  if (out.total_tokens == 0) out.total_tokens = out.prompt_tokens + out.completion_tokens;
}

std::string ErrorMessage(const json::value& err) {
  if (err.is_object()) {
    std::string m = StringAt(err.get_object(), "message");
    if (!m.empty()) return m;
  }
  return "the model stream reported an error";
}

}  // namespace

absl::Status ChatStreamAssembler::AddChunk(std::string_view data) {
  if (data == "[DONE]") {
    done_ = true;
    return absl::OkStatus();
  }
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(data.data(), data.size()), ec);
  if (ec || !v.is_object()) return absl::InvalidArgumentError("a stream chunk is not JSON");
  const json::object& chunk = v.get_object();
  if (const json::value* err = chunk.if_contains("error"); err != nullptr && !err->is_null()) {
    return absl::UnavailableError(ErrorMessage(*err));
  }
  if (std::string model = StringAt(chunk, "model"); !model.empty()) reply_.model = model;
  ReadUsage(chunk.if_contains("usage"), reply_.usage);
  const json::value* choices = chunk.if_contains("choices");
  if (choices == nullptr || !choices->is_array()) return absl::OkStatus();
  for (const json::value& c : choices->get_array()) {
    if (!c.is_object() || IntAt(c.get_object(), "index") != 0) continue;
    const json::object& choice = c.get_object();
    if (std::string fr = StringAt(choice, "finish_reason"); !fr.empty()) reply_.finish_reason = fr;
    const json::value* delta = choice.if_contains("delta");
    if (delta == nullptr || !delta->is_object()) continue;
    const json::object& d = delta->get_object();
    if (const json::value* text = d.if_contains("content"); text != nullptr && text->is_string()) {
      reply_.content.append(text->get_string());
    }
    const json::value* calls = d.if_contains("tool_calls");
    if (calls == nullptr || !calls->is_array()) continue;
    for (const json::value& tc : calls->get_array()) {
      if (!tc.is_object()) continue;
      const json::object& t = tc.get_object();
      ToolCall& call = calls_[IntAt(t, "index")];
      if (std::string id = StringAt(t, "id"); !id.empty()) call.id = id;
      const json::value* fn = t.if_contains("function");
      if (fn == nullptr || !fn->is_object()) continue;
      call.name += StringAt(fn->get_object(), "name");
      call.arguments += StringAt(fn->get_object(), "arguments");
    }
  }
  return absl::OkStatus();
}

ModelReply ChatStreamAssembler::Take() {
  for (auto& [index, call] : calls_) {
    if (call.id.empty()) call.id = "call_" + std::to_string(index);
    reply_.tool_calls.push_back(std::move(call));
  }
  calls_.clear();
  return std::move(reply_);
}

absl::Status ParseCompletion(std::string_view body, ModelReply& out) {
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec || !v.is_object()) return absl::InvalidArgumentError("the model's answer is not JSON");
  const json::object& o = v.get_object();
  if (const json::value* err = o.if_contains("error"); err != nullptr && !err->is_null()) {
    return absl::UnavailableError(ErrorMessage(*err));
  }
  out.model = StringAt(o, "model");
  ReadUsage(o.if_contains("usage"), out.usage);
  const json::value* choices = o.if_contains("choices");
  if (choices == nullptr || !choices->is_array() || choices->get_array().empty() ||
      !choices->get_array()[0].is_object()) {
    return absl::InvalidArgumentError("the model's answer has no choices");
  }
  const json::object& choice = choices->get_array()[0].get_object();
  out.finish_reason = StringAt(choice, "finish_reason");
  const json::value* msg = choice.if_contains("message");
  if (msg == nullptr || !msg->is_object()) return absl::OkStatus();
  out.content = StringAt(msg->get_object(), "content");
  if (const json::value* calls = msg->get_object().if_contains("tool_calls");
      calls != nullptr && calls->is_array()) {
    int i = 0;
    for (const json::value& tc : calls->get_array()) {
      if (!tc.is_object()) continue;
      ToolCall call;
      call.id = StringAt(tc.get_object(), "id");
      if (call.id.empty()) call.id = "call_" + std::to_string(i);
      if (const json::value* fn = tc.get_object().if_contains("function");
          fn != nullptr && fn->is_object()) {
        call.name = StringAt(fn->get_object(), "name");
        call.arguments = StringAt(fn->get_object(), "arguments");
      }
      out.tool_calls.push_back(std::move(call));
      ++i;
    }
  }
  return absl::OkStatus();
}

}  // namespace pai::harness
