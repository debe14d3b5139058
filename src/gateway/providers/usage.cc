#include "gateway/providers/usage.h"

#include <simdjson.h>

#include <boost/json.hpp>

#include "budget/saturating.h"
#include "gateway/providers/json_parser.h"

namespace pai::gateway {
namespace od = simdjson::ondemand;
namespace {

// IntOf(): an int64 count; -1 for one that is not (a fraction, a string, beyond INT64_MAX).
int64_t IntOf(od::value v) {
  int64_t n = 0;
  if (v.get_int64().get(n) != simdjson::SUCCESS) return -1;
  return n;
}

// IntOr0(): the member `key` as a count, 0 when absent.
int64_t IntOr0(od::object& o, std::string_view key) {
  od::value v;
  if (o.find_field_unordered(key).get(v) != simdjson::SUCCESS) return 0;
  od::json_type t;
  if (v.type().get(t) != simdjson::SUCCESS || t == od::json_type::null) return 0;
  return IntOf(v);
}

// ReadUsage() reads an OpenAI usage object: chat (prompt_tokens / completion_tokens,
// *_details.cached_tokens / reasoning_tokens) or Responses / compatible servers
// (input_tokens / output_tokens, input_tokens_details / output_tokens_details).
void ReadUsage(od::value usage_value, Usage* out) {
  od::object u;
  if (usage_value.get_object().get(u) != simdjson::SUCCESS) return;
  bool chat_names = false, responses_names = false;
  int64_t total = 0;
  for (auto field : u) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return;
    od::value v;
    if (field.value().get(v) != simdjson::SUCCESS) return;
    if (key == "prompt_tokens") {
      chat_names = true;
      out->prompt_tokens = IntOf(v);
    } else if (key == "input_tokens" && !chat_names) {
      responses_names = true;
      out->prompt_tokens = IntOf(v);
    } else if (key == "completion_tokens" || key == "output_tokens") {
      out->completion_tokens = IntOf(v);
    } else if (key == "total_tokens") {
      total = IntOf(v);
    } else if (key == "prompt_tokens_details" || key == "input_tokens_details") {
      od::object d;
      if (v.get_object().get(d) == simdjson::SUCCESS)
        out->cached_tokens = IntOr0(d, "cached_tokens");
    } else if (key == "cache_creation_input_tokens") {
      // Anthropic cache writes in an OpenAI-format usage (the gateway's own translation,
      // LiteLLM-style servers).
      out->cache_creation_tokens = IntOf(v);
    } else if (key == "cache_creation") {
      od::object d;
      if (v.get_object().get(d) == simdjson::SUCCESS) {
        out->cache_creation_1h_tokens = IntOr0(d, "ephemeral_1h_input_tokens");
      }
    } else if (key == "completion_tokens_details" || key == "output_tokens_details") {
      od::object d;
      if (v.get_object().get(d) == simdjson::SUCCESS) {
        out->reasoning_tokens = IntOr0(d, "reasoning_tokens");
      }
    }
  }
  if (!chat_names && !responses_names) return;
  out->present = true;
  out->total_tokens =
      total != 0 ? total : budget::SatAdd(out->prompt_tokens, out->completion_tokens);
}

void Inspect(simdjson::padded_string_view view, ChunkInfo* info) {
  JsonParserLease lease;
  od::document doc;
  if (lease.parser().iterate(view).get(doc) != simdjson::SUCCESS) return;
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
  JsonParserLease lease;
  od::document doc;
  if (lease.parser().iterate(view).get(doc) != simdjson::SUCCESS) return out;
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

namespace {

// Count(): the member `key` of a Boost.JSON object as a count: 0 when absent or null, -1 when
// not an int64 (a fraction, a string, beyond INT64_MAX).
int64_t Count(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(boost::json::string_view(key.data(), key.size()));
  if (!v || v->is_null()) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(budget::kInt64Max)) {
    return static_cast<int64_t>(v->get_uint64());
  }
  return -1;
}

// SumOrInvalid(): -1 if any of the counts is negative (an invalid part makes the whole invalid),
// else their saturating sum.
int64_t SumOrInvalid(std::initializer_list<int64_t> counts) {
  int64_t sum = 0;
  for (int64_t c : counts) {
    if (c < 0) return -1;
    sum = budget::SatAdd(sum, c);
  }
  return sum;
}

}  // namespace

void ReadAnthropicUsage(const boost::json::object& u, Usage* usage, bool input, bool output) {
  if (input && u.contains("input_tokens")) {
    const int64_t read = Count(u, "cache_read_input_tokens");
    const int64_t write = Count(u, "cache_creation_input_tokens");
    usage->prompt_tokens = SumOrInvalid({Count(u, "input_tokens"), read, write});
    usage->cached_tokens = read;
    usage->cache_creation_tokens = write;
    usage->present = true;
  }
  if (input) {
    const boost::json::value* cc = u.if_contains("cache_creation");
    if (cc && cc->is_object()) {
      usage->cache_creation_1h_tokens = Count(cc->get_object(), "ephemeral_1h_input_tokens");
    }
  }
  if (output && u.contains("output_tokens")) usage->completion_tokens = Count(u, "output_tokens");
  usage->total_tokens = budget::SatAdd(usage->prompt_tokens, usage->completion_tokens);
}

void ReadResponsesUsage(const boost::json::object& u, Usage* usage) {
  usage->present = u.contains("input_tokens");
  usage->prompt_tokens = Count(u, "input_tokens");
  usage->completion_tokens = Count(u, "output_tokens");
  if (const boost::json::value* d = u.if_contains("input_tokens_details"); d && d->is_object()) {
    usage->cached_tokens = Count(d->get_object(), "cached_tokens");
  }
  if (const boost::json::value* d = u.if_contains("output_tokens_details"); d && d->is_object()) {
    usage->reasoning_tokens = Count(d->get_object(), "reasoning_tokens");
  }
  usage->total_tokens = budget::SatAdd(usage->prompt_tokens, usage->completion_tokens);
}

void ReadGeminiUsage(const boost::json::object& u, Usage* usage) {
  usage->present = true;
  usage->prompt_tokens = Count(u, "promptTokenCount");
  const int64_t thoughts = Count(u, "thoughtsTokenCount");
  usage->completion_tokens = SumOrInvalid({Count(u, "candidatesTokenCount"), thoughts});
  usage->reasoning_tokens = thoughts;
  usage->cached_tokens = Count(u, "cachedContentTokenCount");
  usage->total_tokens = budget::SatAdd(usage->prompt_tokens, usage->completion_tokens);
}

}  // namespace pai::gateway
