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

}  // namespace

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
