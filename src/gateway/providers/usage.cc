#include "gateway/providers/usage.h"

#include <simdjson.h>

#include <boost/json.hpp>
#include <optional>

#include "budget/saturating.h"
#include "gateway/providers/json_parser.h"

namespace pai::gateway {
namespace od = simdjson::ondemand;
namespace {

// FieldOf(): an object member (the element of `for (auto member : object)`) and its key.
template <typename Member>
simdjson::error_code FieldOf(Member& member, od::field* f, std::string_view* key) {
  if (auto e = std::move(member).get(*f); e != simdjson::SUCCESS) return e;
  return f->unescaped_key().get(*key);
}

// IntOf(): consumes `v`: an int64 count, or -1 for a value that is not one (a fraction, a
// string, null, beyond INT64_MAX). `*err`: set when `v` is not valid JSON.
int64_t IntOf(od::value& v, simdjson::error_code* err) {
  int64_t n = 0;
  if (v.get_int64().get(n) == simdjson::SUCCESS) return n;
  if (const auto e = ValidateJson(v); e != simdjson::SUCCESS) *err = e;
  return -1;
}

// DetailCount(): consumes `v`, a *_details object, and answers its member `key` as a count (0
// when absent or null; the first of duplicates), or nullopt when `v` is not an object.
std::optional<int64_t> DetailCount(od::value& v, std::string_view key, simdjson::error_code* err) {
  od::object d;
  if (v.get_object().get(d) != simdjson::SUCCESS) {
    if (const auto e = ValidateJson(v); e != simdjson::SUCCESS) *err = e;
    return std::nullopt;
  }
  std::optional<int64_t> count;
  for (auto member : d) {
    od::field f;
    std::string_view k;
    if (auto e = FieldOf(member, &f, &k); e != simdjson::SUCCESS) {
      *err = e;
      return count;
    }
    bool is_null = false;
    if (k == key && !count && f.value().is_null().get(is_null) == simdjson::SUCCESS && is_null) {
      count = 0;
    } else if (k == key && !count) {
      count = IntOf(f.value(), err);
    } else if (const auto e = ValidateJson(f.value()); e != simdjson::SUCCESS) {
      *err = e;
    }
    if (*err != simdjson::SUCCESS) return count;
  }
  return count.value_or(0);
}

// ReadUsage() reads an OpenAI usage object: chat (prompt_tokens / completion_tokens,
// *_details.cached_tokens / reasoning_tokens) or Responses / compatible servers
// (input_tokens / output_tokens, input_tokens_details / output_tokens_details). It consumes the
// whole value; the error is set only when it is not valid JSON.
simdjson::error_code ReadUsage(od::value& usage_value, Usage* out) {
  od::object u;
  if (usage_value.get_object().get(u) != simdjson::SUCCESS) return ValidateJson(usage_value);
  bool chat_names = false, responses_names = false;
  int64_t total = 0;
  simdjson::error_code err = simdjson::SUCCESS;
  for (auto member : u) {
    od::field field;
    std::string_view key;
    if (auto e = FieldOf(member, &field, &key); e != simdjson::SUCCESS) return e;
    od::value& v = field.value();
    if (key == "prompt_tokens") {
      chat_names = true;
      out->prompt_tokens = IntOf(v, &err);
    } else if (key == "input_tokens" && !chat_names) {
      responses_names = true;
      out->prompt_tokens = IntOf(v, &err);
    } else if (key == "completion_tokens" || key == "output_tokens") {
      out->completion_tokens = IntOf(v, &err);
    } else if (key == "total_tokens") {
      total = IntOf(v, &err);
    } else if (key == "prompt_tokens_details" || key == "input_tokens_details") {
      if (auto c = DetailCount(v, "cached_tokens", &err)) out->cached_tokens = *c;
    } else if (key == "cache_creation_input_tokens") {
      // Anthropic cache writes in an OpenAI-format usage (the gateway's own translation,
      // LiteLLM-style servers).
      out->cache_creation_tokens = IntOf(v, &err);
    } else if (key == "cache_creation") {
      if (auto c = DetailCount(v, "ephemeral_1h_input_tokens", &err)) {
        out->cache_creation_1h_tokens = *c;
      }
    } else if (key == "completion_tokens_details" || key == "output_tokens_details") {
      if (auto c = DetailCount(v, "reasoning_tokens", &err)) out->reasoning_tokens = *c;
    } else {
      err = ValidateJson(v);
    }
    if (err != simdjson::SUCCESS) return err;
  }
  if (!chat_names && !responses_names) return simdjson::SUCCESS;
  out->present = true;
  out->total_tokens =
      total != 0 ? total : budget::SatAdd(out->prompt_tokens, out->completion_tokens);
  return simdjson::SUCCESS;
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
      (void)ReadUsage(field.value(), &info->usage);  // a stream chunk is relayed as it is
    } else if (key == "choices") {
      od::array arr;
      if (field.value().get_array().get(arr) == simdjson::SUCCESS) {
        bool empty = false;
        if (arr.is_empty().get(empty) == simdjson::SUCCESS) info->choices_empty = empty;
      }
    }
  }
}

// ReadToolCalls() appends the entries of a `tool_calls` array (`id`, `index`,
// `function.name`), consuming the whole value; the error is set only for invalid JSON.
simdjson::error_code ReadToolCalls(od::value& v, int choice, std::vector<ToolCall>* out) {
  od::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) return ValidateJson(v);
  int position = 0;
  for (auto element : arr) {
    od::value item;
    if (auto e = element.get(item); e != simdjson::SUCCESS) return e;
    od::object call;
    if (item.get_object().get(call) != simdjson::SUCCESS) {
      if (auto e = ValidateJson(item); e != simdjson::SUCCESS) return e;
      continue;
    }
    ToolCall tc;
    tc.choice = choice;
    tc.index = position++;
    for (auto member : call) {
      od::field f;
      std::string_view key;
      if (auto e = FieldOf(member, &f, &key); e != simdjson::SUCCESS) return e;
      od::value& fv = f.value();
      int64_t i = 0;
      std::string_view text;
      od::object fn;
      if (key == "index" && fv.get_int64().get(i) == simdjson::SUCCESS) {
        tc.index = static_cast<int>(i);
      } else if (key == "id" && fv.get_string().get(text) == simdjson::SUCCESS) {
        tc.id = std::string(text);
      } else if (key == "function" && fv.get_object().get(fn) == simdjson::SUCCESS) {
        for (auto fn_member : fn) {
          od::field ff;
          std::string_view fkey;
          if (auto e = FieldOf(fn_member, &ff, &fkey); e != simdjson::SUCCESS) return e;
          if (fkey == "name" && tc.name.empty() &&
              ff.value().get_string().get(text) == simdjson::SUCCESS) {
            tc.name = std::string(text);
          } else if (auto e = ValidateJson(ff.value()); e != simdjson::SUCCESS) {
            return e;
          }
        }
      } else if (auto e = ValidateJson(fv); e != simdjson::SUCCESS) {
        return e;
      }
    }
    out->push_back(std::move(tc));
  }
  return simdjson::SUCCESS;
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
          (void)ReadToolCalls(calls, index, &out);  // a stream chunk is relayed as it is
        }
      }
    }
  }
  return out;
}

// ReadAnswerChoice() reads one element of a chat completion's `choices`: its `index` (the
// position when absent), its message's tool calls and, if `want_contents`, its message's
// content. It consumes the whole value; the error is set only for invalid JSON.
simdjson::error_code ReadAnswerChoice(od::value& item, int position, bool want_contents,
                                      ChatAnswer* answer) {
  od::object choice;
  if (item.get_object().get(choice) != simdjson::SUCCESS) return ValidateJson(item);
  int64_t index = position;
  std::vector<ToolCall> calls;
  std::optional<std::string> content;
  for (auto member : choice) {
    od::field f;
    std::string_view key;
    if (auto e = FieldOf(member, &f, &key); e != simdjson::SUCCESS) return e;
    od::value& v = f.value();
    int64_t i = 0;
    od::object message;
    if (key == "index" && v.get_int64().get(i) == simdjson::SUCCESS) {
      index = i;
    } else if (key == "message" && v.get_object().get(message) == simdjson::SUCCESS) {
      for (auto message_member : message) {
        od::field g;
        std::string_view gkey;
        std::string_view text;
        if (auto e = FieldOf(message_member, &g, &gkey); e != simdjson::SUCCESS) return e;
        if (gkey == "tool_calls") {
          if (auto e = ReadToolCalls(g.value(), 0, &calls); e != simdjson::SUCCESS) return e;
        } else if (gkey == "content" && want_contents && !content &&
                   g.value().get_string().get(text) == simdjson::SUCCESS) {
          content.emplace(text);
        } else if (auto e = ValidateJson(g.value()); e != simdjson::SUCCESS) {
          return e;
        }
      }
    } else if (auto e = ValidateJson(v); e != simdjson::SUCCESS) {
      return e;
    }
  }
  for (ToolCall& tc : calls) {
    tc.choice = static_cast<int>(index);
    answer->tool_calls.push_back(std::move(tc));
  }
  if (content && !content->empty()) {
    // The guard's paths name choices by index; an index out of [0, 128) keeps the position.
    const size_t k = static_cast<size_t>(index >= 0 && index < 128 ? index : position);
    if (answer->contents.size() <= k) answer->contents.resize(k + 1);
    answer->contents[k] += *content;
  }
  return simdjson::SUCCESS;
}

}  // namespace

std::optional<ChatAnswer> ReadChatAnswer(std::string& body, bool want_contents) {
  if (body.capacity() - body.size() < simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  JsonParserLease lease;
  od::document doc;
  od::object obj;
  if (lease.parser()
              .iterate(simdjson::padded_string_view(body.data(), body.size(), body.capacity()))
              .get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(obj) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  ChatAnswer answer;
  for (auto member : obj) {
    od::field f;
    std::string_view key;
    if (FieldOf(member, &f, &key) != simdjson::SUCCESS) return std::nullopt;
    od::value& v = f.value();
    simdjson::error_code err = simdjson::SUCCESS;
    od::array choices;
    if (key == "usage") {
      err = ReadUsage(v, &answer.usage);
    } else if (key == "choices" && v.get_array().get(choices) == simdjson::SUCCESS) {
      int position = 0;
      for (auto element : choices) {
        od::value item;
        err = element.get(item);
        if (err == simdjson::SUCCESS)
          err = ReadAnswerChoice(item, position++, want_contents, &answer);
        if (err != simdjson::SUCCESS) break;
      }
    } else {
      err = ValidateJson(v);
    }
    if (err != simdjson::SUCCESS) return std::nullopt;
  }
  // Nothing may follow the top-level object.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return std::nullopt;
  return answer;
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
