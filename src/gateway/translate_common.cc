#include "gateway/translate_common.h"

#include "common/json_util.h"
#include "common/strings.h"

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

json::object UsageJson(const Usage& u) {
  return json::object{{"prompt_tokens", u.prompt_tokens},
                      {"completion_tokens", u.completion_tokens},
                      {"total_tokens", u.prompt_tokens + u.completion_tokens},
                      {"prompt_tokens_details", json::object{{"cached_tokens", u.cached_tokens}}}};
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
