#include "gateway/mock_provider.h"

#include <ctime>

#include "common/strings.h"
#include "absl/strings/str_cat.h"
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

}  // namespace

std::string MockChatCompletion(const ChatCompletionRequest& /*req*/, std::string_view model_id,
                               size_t body_bytes, std::string_view request_id) {
  const std::vector<std::string> words = absl::StrSplit(AV(kReply), ' ');
  const int64_t completion = static_cast<int64_t>(words.size());
  return pai::StrCat(
      "{\"id\":", Quoted(Id(request_id)), ",\"object\":\"chat.completion\",\"created\":",
      Created(), ",\"model\":", Quoted(model_id),
      ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":",
      Quoted(kReply), ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],",
      "\"usage\":", UsageJson(PromptTokens(body_bytes), completion),
      ",\"system_fingerprint\":\"fp_pai_mock\"}");
}

std::string MockChatStream(const ChatCompletionRequest& /*req*/, std::string_view model_id,
                           size_t body_bytes, std::string_view request_id, bool include_usage) {
  const std::vector<std::string> words = absl::StrSplit(AV(kReply), ' ');
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
                  "\"finish_reason\":\"stop\"}]",
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
