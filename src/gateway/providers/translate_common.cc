#include "gateway/providers/translate_common.h"

#include <algorithm>

#include "budget/saturating.h"
#include "common/json_util.h"
#include "common/strings.h"
#include "gateway/http/errors.h"

namespace pai::gateway::translate {
namespace json = boost::json;

std::string_view Member(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

const json::object* ObjectMember(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  return v ? v->if_object() : nullptr;
}

int64_t IntMember(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return 0;
}

absl::StatusOr<DataUrl> ParseDataUrl(std::string_view u, std::string_view param) {
  const size_t semi = u.find(';'), comma = u.find(',');
  if (u.substr(0, 5) != "data:" || semi == std::string_view::npos ||
      comma == std::string_view::npos || semi > comma ||
      u.substr(semi, comma - semi) != ";base64") {
    return MakeError(absl::StatusCode::kInvalidArgument,
                     "image data URLs must be base64 (data:<type>;base64,...)",
                     "invalid_request_error", param);
  }
  return DataUrl{u.substr(5, semi - 5), u.substr(comma + 1)};
}

absl::StatusOr<json::value> ToolArguments(std::string_view args, std::string_view param) {
  if (args.empty()) return json::value(json::object{});
  boost::system::error_code ec;
  json::value input = json::parse(json::string_view(args.data(), args.size()), ec);
  if (ec || !input.is_object()) {
    return MakeError(absl::StatusCode::kInvalidArgument,
                     "tool call arguments must be a JSON object", "invalid_request_error", param);
  }
  return input;
}

std::optional<int64_t> OutputLimit(const json::object& in, std::optional<int64_t> cap) {
  std::optional<int64_t> limit;
  for (const char* k : {"max_completion_tokens", "max_tokens"}) {
    if (const json::value* v = in.if_contains(k); v && v->is_int64()) {
      limit = v->get_int64();
      break;
    }
  }
  if (cap) limit = limit ? std::min(*limit, *cap) : *cap;
  return limit;
}

json::object UsageJson(const Usage& u) {
  json::object o{{"prompt_tokens", u.prompt_tokens},
                 {"completion_tokens", u.completion_tokens},
                 {"total_tokens", budget::SatAdd(u.prompt_tokens, u.completion_tokens)},
                 {"prompt_tokens_details", json::object{{"cached_tokens", u.cached_tokens}}}};
  if (u.reasoning_tokens != 0) {
    o["completion_tokens_details"] = json::object{{"reasoning_tokens", u.reasoning_tokens}};
  }
  if (u.cache_creation_tokens != 0) {
    // Cache writes have no OpenAI field: Anthropic's names, as LiteLLM's OpenAI-format usage
    // carries them (part of prompt_tokens).
    o["cache_creation_input_tokens"] = u.cache_creation_tokens;
    o["cache_creation"] = json::object{
        {"ephemeral_5m_input_tokens", u.cache_creation_tokens - u.cache_creation_1h_tokens},
        {"ephemeral_1h_input_tokens", u.cache_creation_1h_tokens}};
  }
  return o;
}

namespace {

void AppendHead(std::string& out, std::string_view id, int64_t created, std::string_view model) {
  out += "data: {\"id\":";
  AppendJsonString(out, id);
  pai::StrAppend(&out, ",\"object\":\"chat.completion.chunk\",\"created\":", created,
                 ",\"model\":");
  AppendJsonString(out, model);
}

}  // namespace

void AppendChunk(std::string& out, std::string_view id, int64_t created, std::string_view model,
                 std::string_view delta_json, std::string_view finish_reason) {
  AppendHead(out, id, created, model);
  pai::StrAppend(&out, ",\"choices\":[{\"index\":0,\"delta\":", delta_json,
                 ",\"logprobs\":null,\"finish_reason\":");
  if (finish_reason.empty()) {
    out += "null";
  } else {
    AppendJsonString(out, finish_reason);
  }
  out += "}]}\n\n";
}

void AppendUsageChunk(std::string& out, std::string_view id, int64_t created,
                      std::string_view model, const Usage& usage) {
  AppendHead(out, id, created, model);
  pai::StrAppend(&out, ",\"choices\":[],\"usage\":", json::serialize(UsageJson(usage)), "}\n\n");
}

}  // namespace pai::gateway::translate
