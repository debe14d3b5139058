#include "cli/count_tokens.h"

#include <boost/json.hpp>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "gateway/stages/input_tokens.h"

namespace pai::cli {

void AddCountTokens(CLI::App& parent, CountTokensCommand& cmd) {
  cmd.app = parent.add_subcommand("count-tokens",
                                  "Print the input tokens a request body reserves (body on stdin)");
  cmd.app->add_option("--provider", cmd.provider, "openai | openrouter | mock | anthropic | gemini")
      ->capture_default_str();
  cmd.app->add_option("--model", cmd.model, "Bare model id, e.g. gpt-4o-mini")->required();
  cmd.app->add_option("--route", cmd.route, "chat | responses | embeddings")->capture_default_str();
}

int RunCountTokens(const CountTokensCommand& cmd) {
  using config::ProviderKind;
  ProviderKind kind;
  if (cmd.provider == "openai")
    kind = ProviderKind::kOpenAI;
  else if (cmd.provider == "openrouter")
    kind = ProviderKind::kOpenRouter;
  else if (cmd.provider == "mock")
    kind = ProviderKind::kMock;
  else if (cmd.provider == "anthropic")
    kind = ProviderKind::kAnthropic;
  else if (cmd.provider == "gemini")
    kind = ProviderKind::kGemini;
  else {
    std::fprintf(stderr, "pai-gateway: count-tokens: unknown --provider %s\n",
                 cmd.provider.c_str());
    return 2;
  }
  if (cmd.route != "chat" && cmd.route != "responses" && cmd.route != "embeddings") {
    std::fprintf(stderr,
                 "pai-gateway: count-tokens: --route must be chat, responses or embeddings\n");
    return 2;
  }
  std::string body(std::istreambuf_iterator<char>(std::cin), {});
  const gateway::Route route = cmd.route == "chat"        ? gateway::Route::kChatCompletions
                               : cmd.route == "responses" ? gateway::Route::kResponses
                                                          : gateway::Route::kEmbeddings;
  auto bound = gateway::CountRequestTokens(route, kind, cmd.model, std::move(body));
  if (!bound.ok()) {
    std::fprintf(stderr, "pai-gateway: count-tokens: %s\n",
                 std::string(bound.status().message()).c_str());
    return 2;
  }
  boost::json::object out;
  const auto enc = gateway::EncodingFor(kind, cmd.model);
  if (enc && bound->method == gateway::InputMethod::kTokenizer) {
    out["encoding"] = tokenizer::EncodingName(*enc);
  } else {
    out["encoding"] = nullptr;
  }
  out["method"] = gateway::InputMethodName(bound->method);
  out["input_upper"] = bound->upper;
  out["input_estimate"] = bound->estimate;
  std::cout << boost::json::serialize(out) << std::endl;
  return 0;
}

}  // namespace pai::cli
