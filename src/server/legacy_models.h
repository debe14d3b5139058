// Resolution of legacy `modelBindings` names ("gemini-flash") to model references of the
// namespace ("google/gemini-2.5-flash"): the built-in alias table of resource::MapLegacy gives
// the provider family and model id; the namespace's ModelProvider of that family (when there is
// exactly one) gives the reference's provider name. docs/resources.md, "Legacy mapping".
#pragma once

#include <vector>

#include "resource/resource.h"
#include "server/store.h"

namespace pai::server {

// MakeModelResolver(): a resolver over `model_providers` (the namespace's ModelProviders).
resource::ModelAliasResolver MakeModelResolver(const std::vector<Resource>& model_providers);

}  // namespace pai::server
