// Fuzz target: the native request parsers — Anthropic Messages (and count_tokens) and OpenAI
// Responses (src/gateway/providers/native_request.h) — and the body rewrite of an accepted request.
#include "fuzz.h"
#include "gateway/providers/native_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = pai::fuzz::Input(data, size);
  for (bool require_max_tokens : {true, false}) {
    auto msg = pai::gateway::ParseAnthropicMessagesRequest(in, require_max_tokens);
    if (msg.ok() && msg->doc) {
      std::vector<pai::gateway::GuardText> texts;
      (void)pai::gateway::AnthropicRequestGuardTexts(*msg->doc, &texts);
      (void)pai::gateway::RewriteNativeBody(*msg->doc, "claude-haiku-4-5", "max_tokens", 50);
    }
  }
  auto resp = pai::gateway::ParseResponsesRequest(in);
  if (resp.ok() && resp->doc) {
    std::vector<pai::gateway::GuardText> texts;
    (void)pai::gateway::ResponsesRequestGuardTexts(*resp->doc, &texts);
    (void)pai::gateway::RewriteNativeBody(*resp->doc, "gpt-4o-mini", "max_output_tokens", 50);
  }
  return 0;
}
