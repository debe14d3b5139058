// Internals of pai_resource shared between its .cc files (not a public header).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "boost/json/value.hpp"
#include "resource/resource.h"

namespace pai::resource::internal {

// ResolvePlainScalar() types a plain (unquoted) YAML scalar as YAML 1.1 / Kubernetes do (see
// YamlToJson()). Returns a string value when it is none of null/bool/int/float; nullopt with
// *overflow set when it looks like an integer that does not fit int64.
std::optional<boost::json::value> ResolvePlainScalar(std::string_view text, bool* overflow);

// SchemaErrors() validates `doc` against the embedded schema of `kind` ("Agent") and returns
// the schema's errors with readable messages. A schema that fails to load is reported as one
// error on field "" (a build defect, caught by the schema-loading test).
std::vector<FieldError> SchemaErrors(std::string_view kind, const boost::json::value& doc);

// SchemaLoadError(): "" when the schema of `kind` loads (see resource.h).
std::string SchemaLoadError(std::string_view kind);

// SchemaText() is the embedded YAML text of schemas/<lowercase kind>.yaml, or nullopt.
std::optional<std::string_view> SchemaText(std::string_view kind);

// Path helpers: "spec" + "guards" → "spec.guards"; "spec.guards" + 0 → "spec.guards[0]".
std::string Join(std::string_view path, std::string_view key);
std::string Index(std::string_view path, size_t i);

// Quote() renders a value for a message: strings in double quotes, others as JSON.
std::string Quote(const boost::json::value& v);

using resource::IsDns1123Label;

}  // namespace pai::resource::internal
