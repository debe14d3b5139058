// `pai-gateway count-tokens`: prints the input bound the gateway reserves for a request body
// (docs/budgets.md, "Input upper bound"), for operators sizing budgets and for the tests.
#pragma once

#include <CLI/CLI.hpp>

namespace pai::cli {

struct CountTokensCommand {
  CLI::App* app = nullptr;
  std::string provider = "openai";
  std::string model;
  std::string route = "chat";
};

// AddCountTokens() registers the subcommand on `parent`.
void AddCountTokens(CLI::App& parent, CountTokensCommand& cmd);

// RunCountTokens() reads the body (chat, responses or embeddings) from stdin and prints one JSON
// line:
// {"encoding": "o200k_base"|null, "method": "tokenizer"|"body_bytes", "input_upper": N,
//  "input_estimate": N}. Returns the exit code (2 on a bad body or option).
int RunCountTokens(const CountTokensCommand& cmd);

}  // namespace pai::cli
