#include "gateway/mock_provider.h"

#include <ctime>

#include "common/strings.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/json_util.h"

namespace pai::gateway {
namespace {

constexpr std::string_view kReply =
    "Hello from the pai-gateway mock provider. Set OPENAI_API_KEY (or ANTHROPIC_API_KEY, "
    "GEMINI_API_KEY, OPENROUTER_API_KEY) to reach a real model.";

int64_t PromptTokens(size_t body_bytes) { return static_cast<int64_t>(body_bytes / 4 + 1); }

std::string Id(std::string_view request_id) { return pai::StrCat("chatcmpl-mock-", request_id); }

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

std::string UsageJson(int64_t prompt, int64_t completion) {
  return pai::StrCat("{\"prompt_tokens\":", prompt, ",\"completion_tokens\":", completion,
                      ",\"total_tokens\":", prompt + completion, "}");
}

int64_t Created() { return static_cast<int64_t>(std::time(nullptr)); }

// Words() is the reply, one token per word, cut to `max_output` tokens.
std::vector<std::string> Words(std::optional<int64_t> max_output) {
  std::vector<std::string> words = absl::StrSplit(AV(kReply), ' ');
  if (max_output && *max_output >= 0 && static_cast<size_t>(*max_output) < words.size()) {
    words.resize(static_cast<size_t>(*max_output));
  }
  return words;
}

}  // namespace

std::string MockChatCompletion(const ChatCompletionRequest& /*req*/, std::string_view model_id,
                               size_t body_bytes, std::string_view request_id,
                               std::optional<int64_t> max_output) {
  const std::vector<std::string> words = Words(max_output);
  const bool truncated = words.size() < Words({}).size();
  const int64_t completion = static_cast<int64_t>(words.size());
  return pai::StrCat(
      "{\"id\":", Quoted(Id(request_id)), ",\"object\":\"chat.completion\",\"created\":",
      Created(), ",\"model\":", Quoted(model_id),
      ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":",
      Quoted(absl::StrJoin(words, " ")), ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":",
      truncated ? "\"length\"" : "\"stop\"", "}],",
      "\"usage\":", UsageJson(PromptTokens(body_bytes), completion),
      ",\"system_fingerprint\":\"fp_pai_mock\"}");
}

std::string MockChatStream(const ChatCompletionRequest& /*req*/, std::string_view model_id,
                           size_t body_bytes, std::string_view request_id, bool include_usage,
                           std::optional<int64_t> max_output) {
  const std::vector<std::string> words = Words(max_output);
  const bool truncated = words.size() < Words({}).size();
  const std::string head =
      pai::StrCat("data: {\"id\":", Quoted(Id(request_id)),
                   ",\"object\":\"chat.completion.chunk\",\"created\":", Created(),
                   ",\"model\":", Quoted(model_id), ",\"system_fingerprint\":\"fp_pai_mock\",");
  const std::string usage_null = include_usage ? ",\"usage\":null" : "";
  std::string out;
  pai::StrAppend(&out, head,
                  "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
                  "\"logprobs\":null,\"finish_reason\":null}]",
                  usage_null, "}\n\n");
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string piece = i == 0 ? words[i] : pai::StrCat(" ", words[i]);
    pai::StrAppend(&out, head, "\"choices\":[{\"index\":0,\"delta\":{\"content\":",
                    Quoted(piece), "},\"logprobs\":null,\"finish_reason\":null}]", usage_null,
                    "}\n\n");
  }
  pai::StrAppend(&out, head,
                  "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
                  "\"finish_reason\":",
                  truncated ? "\"length\"" : "\"stop\"", "}]",
                  usage_null, "}\n\n");
  if (include_usage) {
    pai::StrAppend(&out, head, "\"choices\":[],\"usage\":",
                    UsageJson(PromptTokens(body_bytes), static_cast<int64_t>(words.size())),
                    "}\n\n");
  }
  out += "data: [DONE]\n\n";
  return out;
}

std::string MockEmbeddings(std::string_view model_id, size_t body_bytes) {
  const int64_t prompt = PromptTokens(body_bytes);
  return pai::StrCat(
      "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":"
      "[0.125,-0.25,0.375,-0.5,0.625,-0.75,0.875,-1.0]}],\"model\":",
      Quoted(model_id), ",\"usage\":{\"prompt_tokens\":", prompt, ",\"total_tokens\":", prompt,
      "}}");
}

}  // namespace pai::gateway
