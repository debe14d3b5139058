// Fuzz target: the OpenAI request parsers (chat completions, embeddings), the upstream body
// rewrite of an accepted chat request (src/gateway/providers/openai_request.h) and its input token
// bound (src/gateway/stages/input_tokens.h: messages, tool calls, tool definitions rendered as
// declarations).
#include "fuzz.h"
#include "gateway/providers/openai_request.h"
#include "gateway/stages/input_tokens.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(pai::fuzz::Input(data, size));
  auto chat = pai::gateway::ParseChatCompletionRequest(body);
  if (chat.ok()) {
    pai::gateway::UpstreamChatOptions opts;
    opts.model_id = "gpt-4o-mini";
    opts.output_limit = 100;
    (void)pai::gateway::BuildUpstreamChatBody(body, *chat, opts);
    const auto& enc = pai::tokenizer::Encoding::Get(pai::tokenizer::EncodingId::kO200kBase);
    std::string again(pai::fuzz::Input(data, size));
    auto bound = pai::gateway::ChatInputTokens(again, enc);
    if (bound.ok() && *bound < 0) __builtin_trap();  // a bound is never negative
  }
  std::string body2(pai::fuzz::Input(data, size));
  (void)pai::gateway::ParseEmbeddingsRequest(body2);
  return 0;
}
