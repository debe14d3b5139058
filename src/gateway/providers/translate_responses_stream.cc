#include "gateway/providers/translate_responses_stream.h"

#include "common/strings.h"
#include "gateway/providers/translate_common.h"
#include "gateway/providers/translate_responses.h"

namespace pai::gateway::responses {
namespace json = boost::json;
using translate::Member;
using translate::ObjectMember;

StreamTranslator::StreamTranslator(const json::object& request, int64_t created_at)
    : response_(ResponseShell(request, "0", created_at, Member(request, "model"), "in_progress")) {}

void StreamTranslator::Emit(std::string_view type, json::object event, std::string& out) {
  event["type"] = type;
  event["sequence_number"] = sequence_++;
  pai::StrAppend(&out, "event: ", type, "\ndata: ", json::serialize(event), "\n\n");
}

void StreamTranslator::Process(std::string_view chat_events, std::string& out) {
  parser_.Feed(chat_events, [&](const SseEvent& ev) {
    if (completed_) return;
    if (ev.data == "[DONE]") {
      Finish(out);
      return;
    }
    boost::system::error_code ec;
    json::value v = json::parse(ev.data, ec);
    if (!ec && v.is_object()) OnChunk(v.get_object(), out);
  });
}

void StreamTranslator::Start(const json::object& chunk, std::string& out) {
  started_ = true;
  base_ = IdBase(Member(chunk, "id"));
  response_["id"] = pai::StrCat("resp_", base_);
  if (const std::string_view model = Member(chunk, "model"); !model.empty())
    response_["model"] = model;
  Emit("response.created", json::object{{"response", response_}}, out);
  Emit("response.in_progress", json::object{{"response", response_}}, out);
}

void StreamTranslator::OnChunk(const json::object& chunk, std::string& out) {
  if (!started_) Start(chunk, out);
  if (const json::object* usage = ObjectMember(chunk, "usage")) {
    response_["usage"] = ResponseUsage(*usage);
  }
  const json::value* choices = chunk.if_contains("choices");
  if (!choices || !choices->is_array()) return;
  for (const json::value& c : choices->get_array()) {
    if (!c.is_object() || translate::IntMember(c.get_object(), "index") != 0) continue;
    const json::object& choice = c.get_object();
    if (const json::object* delta = ObjectMember(choice, "delta")) {
      if (const std::string_view text = Member(*delta, "content"); !text.empty()) Text(text, out);
      ToolCall(*delta, out);
    }
    if (const std::string_view f = Member(choice, "finish_reason"); !f.empty()) finish_reason_ = f;
  }
}

void StreamTranslator::Text(std::string_view delta, std::string& out) {
  json::array& output = response_["output"].as_array();
  if (open_message_ < 0 || open_message_ + 1 != static_cast<long>(output.size()) ||
      closed_[open_message_]) {
    CloseAll(out);
    const size_t index = output.size();
    const std::string id = ItemId("msg", base_, index);
    json::object part{{"type", "output_text"},
                      {"text", ""},
                      {"annotations", json::array()},
                      {"logprobs", json::array()}};
    json::object item{{"id", id},
                      {"type", "message"},
                      {"status", "in_progress"},
                      {"role", "assistant"},
                      {"content", json::array()}};
    Emit("response.output_item.added", json::object{{"output_index", index}, {"item", item}}, out);
    Emit("response.content_part.added",
         json::object{
             {"item_id", id}, {"output_index", index}, {"content_index", 0}, {"part", part}},
         out);
    item["content"].as_array().push_back(std::move(part));
    output.push_back(std::move(item));
    closed_.push_back(false);
    content_.emplace_back();
    open_message_ = static_cast<long>(index);
  }
  const json::object& item = output[open_message_].as_object();
  content_[open_message_] += delta;  // written into the item when it closes
  Emit("response.output_text.delta",
       json::object{{"item_id", item.at("id")},
                    {"output_index", open_message_},
                    {"content_index", 0},
                    {"delta", delta},
                    {"logprobs", json::array()}},
       out);
}

void StreamTranslator::ToolCall(const json::object& delta, std::string& out) {
  const json::value* calls = delta.if_contains("tool_calls");
  if (!calls || !calls->is_array()) return;
  json::array& output = response_["output"].as_array();
  for (const json::value& c : calls->get_array()) {
    if (!c.is_object()) continue;
    const json::object& call = c.get_object();
    const int64_t tool_index = translate::IntMember(call, "index");
    if (tool_index < 0 || tool_index > 1024) continue;
    const json::object* fn = ObjectMember(call, "function");
    if (static_cast<size_t>(tool_index) >= tool_item_.size()) {
      CloseAll(out);
      const size_t index = output.size();
      json::object item{{"id", ItemId("fc", base_, index)},
                        {"type", "function_call"},
                        {"status", "in_progress"},
                        {"call_id", Member(call, "id")},
                        {"name", fn ? Member(*fn, "name") : ""},
                        {"arguments", ""}};
      Emit("response.output_item.added", json::object{{"output_index", index}, {"item", item}},
           out);
      output.push_back(std::move(item));
      closed_.push_back(false);
      content_.emplace_back();
      tool_item_.resize(static_cast<size_t>(tool_index) + 1, index);
    }
    const size_t index = tool_item_[static_cast<size_t>(tool_index)];
    const std::string_view args = fn ? Member(*fn, "arguments") : "";
    if (args.empty() || closed_[index]) continue;
    const json::object& item = output[index].as_object();
    content_[index] += args;  // written into the item when it closes
    Emit("response.function_call_arguments.delta",
         json::object{{"item_id", item.at("id")}, {"output_index", index}, {"delta", args}}, out);
  }
}

void StreamTranslator::Close(size_t index, std::string& out) {
  if (closed_[index]) return;
  closed_[index] = true;
  json::object& item = Sync(index);
  item["status"] = "completed";
  const json::value id = item["id"];
  if (Member(item, "type") == "message") {
    const json::value part = item["content"].as_array()[0];
    Emit("response.output_text.done",
         json::object{{"item_id", id},
                      {"output_index", index},
                      {"content_index", 0},
                      {"text", part.as_object().at("text")},
                      {"logprobs", json::array()}},
         out);
    Emit("response.content_part.done",
         json::object{
             {"item_id", id}, {"output_index", index}, {"content_index", 0}, {"part", part}},
         out);
  } else {
    Emit("response.function_call_arguments.done",
         json::object{{"item_id", id},
                      {"output_index", index},
                      {"name", item["name"]},
                      {"arguments", item["arguments"]}},
         out);
  }
  Emit("response.output_item.done", json::object{{"output_index", index}, {"item", item}}, out);
}

json::object& StreamTranslator::Sync(size_t index) {
  json::object& item = response_["output"].as_array()[index].as_object();
  if (Member(item, "type") == "message") {
    item["content"].as_array()[0].as_object()["text"] = content_[index];
  } else {
    item["arguments"] = content_[index];
  }
  return item;
}

void StreamTranslator::CloseAll(std::string& out) {
  for (size_t i = 0; i < closed_.size(); ++i) Close(i, out);
}

void StreamTranslator::Finish(std::string& out) {
  if (!started_) Start(json::object{}, out);
  CloseAll(out);
  SetStatus(response_, finish_reason_);
  const bool complete = response_["status"].as_string() == "completed";
  Emit(complete ? "response.completed" : "response.incomplete",
       json::object{{"response", response_}}, out);
  completed_ = true;
}

void StreamTranslator::Fail(const ApiError& e, std::string& out) {
  if (completed_) return;
  if (!started_) Start(json::object{}, out);
  json::value code = e.code.empty() ? json::value(nullptr) : json::value(e.code);
  Emit("error",
       json::object{{"code", code},
                    {"message", e.message},
                    {"param", e.param.empty() ? json::value(nullptr) : json::value(e.param)}},
       out);
  for (size_t i = 0; i < content_.size(); ++i) Sync(i);  // what was streamed so far
  response_["status"] = "failed";
  response_["error"] = json::object{{"code", code}, {"message", e.message}};
  Emit("response.failed", json::object{{"response", response_}}, out);
  completed_ = true;
}

}  // namespace pai::gateway::responses
