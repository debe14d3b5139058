// Fuzz target: the manifest loader (src/config/manifest.h): one YAML/JSON text of Agent,
// ModelProvider and Secret documents, with a fixed environment.
#include "config/manifest.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<pai::config::Source> sources{
      {"fuzz.yaml", std::string(pai::fuzz::Input(data, size))}};
  const std::map<std::string, std::string> env{{"OPENAI_API_KEY", "sk-fuzz"}};
  (void)pai::config::ParseManifests(sources, env);
  return 0;
}
