// Fuzz target: the OpenAI request parsers (chat completions, embeddings) and the upstream body
// rewrite of an accepted chat request (src/gateway/openai_request.h).
#include "fuzz.h"
#include "gateway/openai_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(pai::fuzz::Input(data, size));
  auto chat = pai::gateway::ParseChatCompletionRequest(body);
  if (chat.ok()) {
    pai::gateway::UpstreamChatOptions opts;
    opts.model_id = "gpt-4o-mini";
    opts.output_limit = 100;
    (void)pai::gateway::BuildUpstreamChatBody(body, *chat, opts);
  }
  std::string body2(pai::fuzz::Input(data, size));
  (void)pai::gateway::ParseEmbeddingsRequest(body2);
  return 0;
}
