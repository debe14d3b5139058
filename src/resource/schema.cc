// Schema validation: the embedded OpenAPI v3 (Kubernetes structural) schemas of schemas/*.yaml,
// translated to JSON Schema draft 4 for valijson, with valijson's errors rewritten as
// "spec.guards[0].enforcement: unknown value ..." lines.
#include <map>
#include <memory>
#include <mutex>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "boost/json/serialize.hpp"
#include "common/strings.h"
#include "resource/internal.h"

namespace pai::resource::internal {

// Generated from schemas/*.yaml by src/resource/CMakeLists.txt (schemas_data.cc).
struct EmbeddedSchema {
  const char* name;  // file name without .yaml: "agent"
  const char* text;
};
extern const EmbeddedSchema kEmbeddedSchemas[];
extern const size_t kEmbeddedSchemaCount;

namespace {

namespace json = boost::json;

bool IsTrue(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->get_bool();
}

// Translate() rewrites the OpenAPI / Kubernetes dialect into JSON Schema draft 4:
//  - x-kubernetes-int-or-string → type [integer, string];
//  - nullable → "null" added to type;
//  - an object node with neither additionalProperties nor x-kubernetes-preserve-unknown-fields
//    gets additionalProperties: false. Kubernetes prunes unknown fields silently; we reject them
//    so a misspelt field (say `enforcment`) cannot quietly weaken a policy;
//  - format is dropped (valijson's format check throws on non-strings; date-times are checked
//    by the cross-field rules), and the x-kubernetes-* markers with it.
json::value Translate(const json::value& in) {
  if (!in.is_object()) return in;
  const json::object& src = in.get_object();
  json::object out;
  for (const auto& kv : src) {
    const std::string_view key = kv.key();
    if (absl::StartsWith(pai::AV(key), "x-kubernetes-") || key == "nullable" || key == "format" ||
        key == "example") {
      continue;
    }
    if (key == "properties" && kv.value().is_object()) {
      json::object props;
      for (const auto& p : kv.value().get_object()) props.emplace(p.key(), Translate(p.value()));
      out.emplace(key, std::move(props));
    } else if (key == "items" || key == "additionalProperties" || key == "not") {
      out.emplace(key, Translate(kv.value()));
    } else if ((key == "anyOf" || key == "oneOf" || key == "allOf") && kv.value().is_array()) {
      json::array alts;
      for (const auto& a : kv.value().get_array()) alts.push_back(Translate(a));
      out.emplace(key, std::move(alts));
    } else {
      out.emplace(key, kv.value());
    }
  }
  if (IsTrue(src, "x-kubernetes-int-or-string")) out["type"] = json::array{"integer", "string"};
  if (IsTrue(src, "nullable") && out.contains("type") && out["type"].is_string()) {
    out["type"] = json::array{out["type"], "null"};
  }
  const json::value* type = src.if_contains("type");
  const bool is_object = (type != nullptr && *type == "object") || src.contains("properties");
  if (is_object && !src.contains("additionalProperties") &&
      !IsTrue(src, "x-kubernetes-preserve-unknown-fields")) {
    out["additionalProperties"] = false;
  }
  return json::value(std::move(out));
}

struct LoadedSchema {
  json::value translated;  // kept: error messages read enums, minimums and types from it
  std::unique_ptr<valijson::Schema> schema;
  std::string error;  // non-empty when the schema did not load
};

std::unique_ptr<LoadedSchema> Load(std::string_view text) {
  auto loaded = std::make_unique<LoadedSchema>();
  auto docs = YamlToJson(text);
  if (!docs.ok() || docs->size() != 1 || !(*docs)[0].is_object()) {
    loaded->error = docs.ok() ? "expected one YAML mapping" : std::string(docs.status().message());
    return loaded;
  }
  loaded->translated = Translate((*docs)[0]);
  try {
    auto schema = std::make_unique<valijson::Schema>();
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft4);
    valijson::adapters::BoostJsonAdapter adapter(loaded->translated);
    parser.populateSchema(adapter, *schema);
    loaded->schema = std::move(schema);
  } catch (const std::exception& e) {
    loaded->error = e.what();
  }
  return loaded;
}

const LoadedSchema* Get(std::string_view kind) {
  // Parsed once, on first use; read-only afterwards.
  static const auto* const kSchemas = [] {
    auto* m = new std::map<std::string, std::unique_ptr<LoadedSchema>, std::less<>>();
    for (size_t i = 0; i < kEmbeddedSchemaCount; ++i) {
      m->emplace(kEmbeddedSchemas[i].name, Load(kEmbeddedSchemas[i].text));
    }
    return m;
  }();
  auto it = kSchemas->find(absl::AsciiStrToLower(pai::AV(kind)));
  return it == kSchemas->end() ? nullptr : it->second.get();
}

// Walks the translated schema and the document along valijson's context ("<root>", "[spec]",
// "[guards]", "[0]") and builds the dotted path.
struct Located {
  std::string path;
  const json::value* schema = nullptr;  // the schema node at the path (may be null)
  const json::value* value = nullptr;   // the document node at the path (may be null)
};

const json::value* SchemaChild(const json::value* s, std::string_view key, bool index) {
  if (s == nullptr || !s->is_object()) return nullptr;
  const json::object& o = s->get_object();
  if (index) return o.if_contains("items");
  if (const json::value* props = o.if_contains("properties"); props && props->is_object()) {
    if (const json::value* p = props->get_object().if_contains(key)) return p;
  }
  const json::value* ap = o.if_contains("additionalProperties");
  return ap != nullptr && ap->is_object() ? ap : nullptr;
}

Located Locate(const std::vector<std::string>& context, const json::value& root_schema,
               const json::value& doc) {
  Located at{"", &root_schema, &doc};
  for (const std::string& raw : context) {
    if (raw.size() < 2 || raw.front() != '[' || raw.back() != ']') continue;  // "<root>"
    const std::string_view token = std::string_view(raw).substr(1, raw.size() - 2);
    size_t index = 0;
    const bool is_index =
        at.value != nullptr && at.value->is_array() && absl::SimpleAtoi(pai::AV(token), &index);
    if (is_index) {
      at.path = Index(at.path, index);
      const json::array& arr = at.value->get_array();
      at.value = index < arr.size() ? &arr[index] : nullptr;
    } else {
      at.path = Join(at.path, token);
      at.value = at.value != nullptr && at.value->is_object()
                     ? at.value->get_object().if_contains(token)
                     : nullptr;
    }
    at.schema = SchemaChild(at.schema, token, is_index);
  }
  return at;
}

std::string TypeName(std::string_view t) {
  if (t == "integer") return "an integer";
  if (t == "number") return "a number";
  if (t == "string") return "a string";
  if (t == "boolean") return "true or false";
  if (t == "object") return "an object";
  if (t == "array") return "a list";
  return std::string(t);
}

std::string KindName(const json::value* v) {
  if (v == nullptr) return "nothing";
  switch (v->kind()) {
    case json::kind::object:
      return "an object";
    case json::kind::array:
      return "a list";
    case json::kind::string:
      return "a string";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::null:
      return "null";
    case json::kind::double_:
      return "a number with a fraction";
    default:
      return "an integer";
  }
}

const json::value* SchemaKey(const Located& at, std::string_view key) {
  if (at.schema == nullptr || !at.schema->is_object()) return nullptr;
  return at.schema->get_object().if_contains(key);
}

std::string TypeMessage(const Located& at) {
  std::string expected;
  const json::value* t = SchemaKey(at, "type");
  if (t != nullptr && t->is_string()) {
    expected = TypeName(t->get_string());
  } else if (t != nullptr && t->is_array()) {
    for (const auto& e : t->get_array()) {
      if (!e.is_string() || e == "null") continue;
      pai::StrAppend(&expected, expected.empty() ? "" : " or ", TypeName(e.get_string()));
    }
  }
  if (expected.empty()) expected = "another type";
  return pai::StrCat("expected ", expected, ", got ", KindName(at.value));
}

std::string EnumMessage(const Located& at) {
  std::string allowed;
  if (const json::value* e = SchemaKey(at, "enum"); e != nullptr && e->is_array()) {
    for (const auto& v : e->get_array()) {
      pai::StrAppend(&allowed, allowed.empty() ? "" : ", ",
                     v.is_string() ? std::string(v.get_string()) : json::serialize(v));
    }
  }
  const std::string got = at.value != nullptr ? Quote(*at.value) : "nothing";
  return pai::StrCat("unknown value ", got, " (expected one of ", allowed, ")");
}

std::string BoundMessage(const Located& at, std::string_view bound, std::string_view exclusive,
                         std::string_view op, std::string_view strict_op) {
  const json::value* b = SchemaKey(at, bound);
  if (b == nullptr) return "out of range";
  const json::value* ex = SchemaKey(at, exclusive);
  const bool strict = ex != nullptr && ex->is_bool() && ex->get_bool();
  return pai::StrCat("must be ", strict ? strict_op : op, " ", json::serialize(*b));
}

// The last single-quoted word of a valijson message: "... constraints: 'foo'." → "foo".
std::string LastQuoted(std::string_view description) {
  const size_t close = description.rfind('\'');
  if (close == std::string_view::npos || close == 0) return std::string(description);
  const size_t open = description.rfind('\'', close - 1);
  if (open == std::string_view::npos) return std::string(description);
  return std::string(description.substr(open + 1, close - open - 1));
}

// One valijson error as a FieldError; nullopt for the summary errors valijson adds on every
// ancestor of a failing node ("Failed to validate against schema associated with property ...").
std::optional<FieldError> Rewrite(const valijson::ValidationResults::Error& e,
                                  const json::value& schema, const json::value& doc) {
  const std::string& d = e.description;
  static constexpr std::string_view kDropped[] = {
      "Failed to validate against schema associated with property name",
      "Failed to validate item #",
      "Failed to validate against additional properties schema",
      "Failed to validate against any schemas allowed by anyOf",
      "Failed to validate against child schema",
      "Failed to validate against schema associated with pattern"};
  for (std::string_view p : kDropped) {
    if (absl::StartsWith(d, pai::AV(p))) return std::nullopt;
  }
  const Located at = Locate(e.context, schema, doc);
  static constexpr std::string_view kUnknown = "Object contains a property that could not be";
  static constexpr std::string_view kMissing = "Missing required property";
  if (absl::StartsWith(d, pai::AV(kUnknown))) {
    const std::string key = LastQuoted(d);
    return FieldError{Join(at.path, key), pai::StrCat("unknown field \"", key, "\"")};
  }
  if (absl::StartsWith(d, pai::AV(kMissing))) {
    return FieldError{Join(at.path, LastQuoted(d)), "required field is missing"};
  }
  std::string message;
  if (absl::StartsWith(d, "Value type not permitted")) {
    message = TypeMessage(at);
  } else if (absl::StartsWith(d, "Failed to match against any enum values")) {
    message = EnumMessage(at);
  } else if (absl::StartsWith(d, "Expected number greater than")) {
    message = BoundMessage(at, "minimum", "exclusiveMinimum", ">=", ">");
  } else if (absl::StartsWith(d, "Expected number less than")) {
    message = BoundMessage(at, "maximum", "exclusiveMaximum", "<=", "<");
  } else if (absl::StartsWith(d, "Failed to match regex")) {
    const json::value* p = SchemaKey(at, "pattern");
    message = pai::StrCat("does not match the pattern ", p ? json::serialize(*p) : "");
  } else {
    message = absl::AsciiStrToLower(pai::AV(d));
    if (!message.empty() && message.back() == '.') message.pop_back();
  }
  return FieldError{at.path, std::move(message)};
}

}  // namespace

std::optional<std::string_view> SchemaText(std::string_view kind) {
  const std::string name = absl::AsciiStrToLower(pai::AV(kind));
  for (size_t i = 0; i < kEmbeddedSchemaCount; ++i) {
    if (name == kEmbeddedSchemas[i].name) return std::string_view(kEmbeddedSchemas[i].text);
  }
  return std::nullopt;
}

std::vector<FieldError> SchemaErrors(std::string_view kind, const boost::json::value& doc) {
  const LoadedSchema* loaded = Get(kind);
  if (loaded == nullptr) return {{"kind", pai::StrCat("no schema for kind \"", kind, "\"")}};
  if (!loaded->schema) {
    return {{"", pai::StrCat("schema of ", kind, " does not load: ", loaded->error)}};
  }
  std::vector<FieldError> out;
  try {
    valijson::Validator validator(valijson::Validator::kStrongTypes);
    valijson::ValidationResults results;
    valijson::adapters::BoostJsonAdapter target(doc);
    if (validator.validate(*loaded->schema, target, &results)) return out;
    valijson::ValidationResults::Error e;
    while (results.popError(e)) {
      auto fe = Rewrite(e, loaded->translated, doc);
      if (fe) out.push_back(std::move(*fe));
    }
  } catch (const std::exception& e) {
    out.push_back({"", pai::StrCat("schema validation failed: ", e.what())});
  }
  return out;
}

// SchemaLoadError() is exported for the test that every embedded schema loads.
std::string SchemaLoadError(std::string_view kind) {
  const LoadedSchema* loaded = Get(kind);
  if (loaded == nullptr) return "missing";
  return loaded->error;
}

}  // namespace pai::resource::internal
