// The embedded default configuration used when pai-gateway starts without `-f`: it works
// offline (a `mock` ModelProvider that answers in OpenAI's wire format) and enables the real
// providers whose key is in the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY,
// OPENROUTER_API_KEY), with one demo Agent (`default/demo`) allowed to call all of them.
#pragma once

#include <map>
#include <string>

namespace pai::config {

inline constexpr char kDemoAgent[] = "default/demo";

// DefaultManifest() returns the embedded manifests (YAML) for the given environment.
std::string DefaultManifest(const std::map<std::string, std::string>& env);

}  // namespace pai::config
