#include "server/legacy_models.h"

#include <boost/json.hpp>

#include "common/strings.h"

namespace pai::server {

resource::ModelAliasResolver MakeModelResolver(const std::vector<Resource>& model_providers) {
  // name -> spec.provider, captured by value: the resolver may outlive the list.
  std::vector<std::pair<std::string, std::string>> providers;
  for (const Resource& r : model_providers) {
    const boost::json::value* spec = r.object.if_contains("spec");
    const boost::json::value* kind =
        spec && spec->is_object() ? spec->as_object().if_contains("provider") : nullptr;
    if (kind && kind->is_string()) providers.emplace_back(r.name, std::string(kind->as_string()));
  }
  return [providers](std::string_view name) -> std::optional<std::string> {
    const auto alias = resource::DefaultModelAlias(name);
    if (!alias) return std::nullopt;
    const std::string* found = nullptr;
    for (const auto& [mp, kind] : providers) {
      if (kind != alias->provider_kind) continue;
      if (found) return std::nullopt;  // two candidates: ambiguous, said in status
      found = &mp;
    }
    if (!found) return std::nullopt;
    return pai::StrCat(*found, "/", alias->model_id);
  };
}

}  // namespace pai::server
