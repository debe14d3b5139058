// CustomResourceDefinitions(): the CRDs of the pai.io kinds, from the embedded schemas
// (resource.h). Kubernetes reference: "Extend the Kubernetes API with CustomResourceDefinitions"
// (apiextensions.k8s.io/v1: structural schemas, the status subresource).
#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "common/strings.h"
#include "resource/internal.h"
#include "resource/resource.h"

namespace pai::resource {

namespace json = boost::json;

absl::StatusOr<std::vector<json::value>> CustomResourceDefinitions() {
  std::vector<json::value> out;
  for (const KindInfo& k : Kinds()) {
    if (k.api_version != kApiVersion) continue;  // Secret is the core v1 Secret
    const auto text = internal::SchemaText(k.kind);
    if (!text) return absl::InternalError(pai::StrCat("no embedded schema for ", k.kind));
    auto docs = YamlToJson(*text);
    if (!docs.ok() || docs->size() != 1 || !(*docs)[0].is_object()) {
      return absl::InternalError(pai::StrCat("the embedded schema of ", k.kind, " does not parse"));
    }
    json::object schema = std::move((*docs)[0].as_object());
    json::object* props =
        schema.if_contains("properties") ? schema["properties"].if_object() : nullptr;
    if (!props) return absl::InternalError(pai::StrCat("schema of ", k.kind, ": no properties"));
    // The API server validates metadata itself and allows no other constraints on it.
    (*props)["metadata"] = json::object{{"type", "object"}};
    const bool has_status = props->contains("status");

    const std::string singular = absl::AsciiStrToLower(pai::AV(k.kind));
    json::object names{{"kind", k.kind},
                       {"listKind", pai::StrCat(k.kind, "List")},
                       {"plural", k.plural},
                       {"singular", singular}};
    json::object version{{"name", "v1"},
                         {"served", true},
                         {"storage", true},
                         {"schema", json::object{{"openAPIV3Schema", std::move(schema)}}}};
    if (has_status) version["subresources"] = json::object{{"status", json::object{}}};
    json::object crd{
        {"apiVersion", "apiextensions.k8s.io/v1"},
        {"kind", "CustomResourceDefinition"},
        {"metadata",
         json::object{{"name", pai::StrCat(k.plural, ".", kGroup)},
                      {"labels", json::object{{"app.kubernetes.io/name", "pai"},
                                              {"app.kubernetes.io/component", "crd"}}}}},
        {"spec", json::object{{"group", kGroup},
                              {"scope", k.namespaced ? "Namespaced" : "Cluster"},
                              {"names", std::move(names)},
                              {"versions", json::array{std::move(version)}}}}};
    out.emplace_back(std::move(crd));
  }
  return out;
}

}  // namespace pai::resource
