#include "gateway/usage.h"

#include <simdjson.h>

namespace pai::gateway {
namespace od = simdjson::ondemand;
namespace {

od::parser& ThreadParser() {
  thread_local od::parser parser;
  return parser;
}

int64_t IntOr0(od::object& o, std::string_view key) {
  int64_t v = 0;
  if (o.find_field_unordered(key).get_int64().get(v) != simdjson::SUCCESS) return 0;
  return v;
}

void ReadUsage(od::value usage_value, Usage* out) {
  od::object u;
  if (usage_value.get_object().get(u) != simdjson::SUCCESS) return;
  int64_t prompt = -1;
  if (u.find_field_unordered("prompt_tokens").get_int64().get(prompt) != simdjson::SUCCESS) {
    // Some OpenAI-compatible servers use input_tokens/output_tokens.
    if (u.find_field_unordered("input_tokens").get_int64().get(prompt) != simdjson::SUCCESS) {
      return;
    }
    out->completion_tokens = IntOr0(u, "output_tokens");
  } else {
    out->completion_tokens = IntOr0(u, "completion_tokens");
  }
  out->present = true;
  out->prompt_tokens = prompt;
  out->total_tokens = IntOr0(u, "total_tokens");
  if (out->total_tokens == 0) out->total_tokens = out->prompt_tokens + out->completion_tokens;
  od::object details;
  if (u.find_field_unordered("prompt_tokens_details").get_object().get(details) ==
      simdjson::SUCCESS) {
    out->cached_tokens = IntOr0(details, "cached_tokens");
  }
}

void Inspect(simdjson::padded_string_view view, ChunkInfo* info) {
  od::document doc;
  if (ThreadParser().iterate(view).get(doc) != simdjson::SUCCESS) return;
  od::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return;
  info->json = true;
  for (auto field_result : obj) {
    od::field field;
    if (std::move(field_result).get(field) != simdjson::SUCCESS) return;
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return;
    if (key == "usage") {
      ReadUsage(field.value(), &info->usage);
    } else if (key == "choices") {
      od::array arr;
      if (field.value().get_array().get(arr) == simdjson::SUCCESS) {
        bool empty = false;
        if (arr.is_empty().get(empty) == simdjson::SUCCESS) info->choices_empty = empty;
      }
    }
  }
}

// ReadToolCalls() appends the entries of a `tool_calls` array.
void ReadToolCalls(od::value v, int choice, std::vector<ToolCall>* out) {
  od::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) return;
  int position = 0;
  for (auto item : arr) {
    od::object call;
    if (item.get_object().get(call) != simdjson::SUCCESS) return;
    ToolCall tc;
    tc.choice = choice;
    tc.index = position++;
    for (auto f : call) {
      std::string_view key;
      if (f.unescaped_key().get(key) != simdjson::SUCCESS) return;
      if (key == "index") {
        int64_t i = 0;
        if (f.value().get_int64().get(i) == simdjson::SUCCESS) tc.index = static_cast<int>(i);
      } else if (key == "id") {
        std::string_view id;
        if (f.value().get_string().get(id) == simdjson::SUCCESS) tc.id = std::string(id);
      } else if (key == "function") {
        od::object fn;
        if (f.value().get_object().get(fn) != simdjson::SUCCESS) continue;
        std::string_view name;
        if (fn.find_field_unordered("name").get_string().get(name) == simdjson::SUCCESS) {
          tc.name = std::string(name);
        }
      }
    }
    out->push_back(std::move(tc));
  }
}

// ToolCallsOf() walks `choices[].<member>.tool_calls` (member: "message" or "delta").
std::vector<ToolCall> ToolCallsOf(simdjson::padded_string_view view, std::string_view member) {
  std::vector<ToolCall> out;
  od::document doc;
  if (ThreadParser().iterate(view).get(doc) != simdjson::SUCCESS) return out;
  od::array choices;
  if (doc.find_field_unordered("choices").get_array().get(choices) != simdjson::SUCCESS) {
    return out;
  }
  int position = 0;
  for (auto item : choices) {
    od::object choice;
    if (item.get_object().get(choice) != simdjson::SUCCESS) return out;
    int index = position++;
    for (auto f : choice) {
      std::string_view key;
      if (f.unescaped_key().get(key) != simdjson::SUCCESS) return out;
      if (key == "index") {
        int64_t i = 0;
        if (f.value().get_int64().get(i) == simdjson::SUCCESS) index = static_cast<int>(i);
      } else if (key == member) {
        od::object m;
        if (f.value().get_object().get(m) != simdjson::SUCCESS) continue;
        od::value calls;
        if (m.find_field_unordered("tool_calls").get(calls) == simdjson::SUCCESS) {
          ReadToolCalls(calls, index, &out);
        }
      }
    }
  }
  return out;
}

}  // namespace

std::vector<ToolCall> ExtractToolCalls(std::string& body) {
  if (body.find("\"tool_calls\"") == std::string::npos) return {};
  if (body.capacity() - body.size() < simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  return ToolCallsOf(simdjson::padded_string_view(body.data(), body.size(), body.capacity()),
                     "message");
}

std::vector<ToolCall> ExtractToolCallDeltas(std::string_view data) {
  if (data.find("\"tool_calls\"") == std::string_view::npos) return {};
  thread_local std::string scratch;
  scratch.assign(data);
  scratch.reserve(data.size() + simdjson::SIMDJSON_PADDING);
  return ToolCallsOf(
      simdjson::padded_string_view(scratch.data(), scratch.size(), scratch.capacity()), "delta");
}

Usage ExtractUsage(std::string& body) {
  if (body.capacity() - body.size() < simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  ChunkInfo info;
  Inspect(simdjson::padded_string_view(body.data(), body.size(), body.capacity()), &info);
  return info.usage;
}

ChunkInfo InspectChunk(std::string_view data) {
  ChunkInfo info;
  if (data == "[DONE]") {
    info.done = true;
    return info;
  }
  thread_local std::string scratch;
  scratch.assign(data);
  scratch.reserve(data.size() + simdjson::SIMDJSON_PADDING);
  Inspect(simdjson::padded_string_view(scratch.data(), scratch.size(), scratch.capacity()), &info);
  return info;
}

}  // namespace pai::gateway
