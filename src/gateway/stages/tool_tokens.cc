#include "gateway/stages/tool_tokens.h"

#include <algorithm>
#include <boost/json.hpp>
#include <initializer_list>

#include "common/strings.h"

namespace pai::gateway {
namespace json = boost::json;

namespace {

const json::string* StringMember(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? &v->get_string() : nullptr;
}

// PlainItemType(): the element type of an array of a scalar type ("string", ...) whose schema
// says nothing else, else empty.
std::string_view PlainItemType(const json::object& items) {
  const json::string* t = StringMember(items, "type");
  if (!t || items.size() != 1) return {};
  if (*t == "string") return "string";
  if (*t == "number" || *t == "integer") return "number";
  if (*t == "boolean") return "boolean";
  return {};
}

// TypeOf() is the TypeScript type the template renders for a plain property schema: a scalar
// (an enum of strings as their union), an array of scalars, an object without properties, a
// list of type names; nullopt for anything else (counted as its JSON text by the caller).
std::optional<std::string> TypeOf(const json::object& spec) {
  const json::value* type = spec.if_contains("type");
  if (!type) return std::nullopt;
  if (spec.contains("oneOf") || spec.contains("anyOf") || spec.contains("allOf")) {
    return std::nullopt;
  }
  // An enum is rendered only as a union of strings.
  if (spec.contains("enum") && !(type->is_string() && type->get_string() == "string")) {
    return std::nullopt;
  }
  const bool nullable = spec.contains("nullable") && spec.at("nullable") == true;
  if (type->is_array()) {
    std::string out;
    for (const json::value& t : type->get_array()) {
      if (!t.is_string()) return std::nullopt;
      pai::StrAppend(&out, out.empty() ? "" : " | ", std::string_view(t.get_string()));
    }
    if (out.empty()) return std::nullopt;
    return out;
  }
  if (!type->is_string()) return std::nullopt;
  const std::string_view t = type->get_string();
  std::string out;
  if (t == "string") {
    if (const json::value* e = spec.if_contains("enum")) {
      if (!e->is_array() || e->get_array().empty()) return std::nullopt;
      for (const json::value& item : e->get_array()) {
        if (!item.is_string()) return std::nullopt;
        pai::StrAppend(&out, out.empty() ? "\"" : " | \"", std::string_view(item.get_string()),
                       "\"");
      }
      return out;
    }
    out = "string";
  } else if (t == "number" || t == "integer") {
    out = "number";
  } else if (t == "boolean") {
    out = "boolean";
  } else if (t == "array") {
    const json::value* items = spec.if_contains("items");
    if (!items) {
      out = "any[]";
    } else {
      if (!items->is_object()) return std::nullopt;
      const std::string_view item = PlainItemType(items->get_object());
      if (item.empty()) return std::nullopt;
      out = pai::StrCat(item, "[]");
    }
  } else if (t == "object") {
    if (spec.contains("properties")) return std::nullopt;
    out = "object";
  } else {
    return std::nullopt;
  }
  if (nullable) out += " | null";
  return out;
}

// Unrendered(): the members of `o` the declaration does not show (all but `shown`), as the JSON
// text of an object, or empty when there are none.
std::string Unrendered(const json::object& o, std::initializer_list<std::string_view> shown) {
  json::object rest;
  for (const auto& [key, value] : o) {
    if (std::find(shown.begin(), shown.end(), std::string_view(key)) == shown.end()) {
      rest[key] = value;
    }
  }
  return rest.empty() ? std::string() : json::serialize(rest);
}

}  // namespace

std::optional<RenderedTool> RenderTool(const json::value& tool) {
  if (!tool.is_object()) return std::nullopt;
  const json::object& t = tool.get_object();
  const json::object* f = &t;  // Responses tools and legacy `functions` entries
  if (const json::string* type = StringMember(t, "type"); type && *type != "function") {
    return std::nullopt;
  }
  if (const json::value* fn = t.if_contains("function")) {
    if (!fn->is_object()) return std::nullopt;
    f = &fn->get_object();
  }
  const json::string* name = StringMember(*f, "name");
  if (!name) return std::nullopt;
  RenderedTool r;
  const json::string* description = StringMember(*f, "description");
  pai::StrAppend(&r.declaration, "// ", description ? std::string_view(*description) : "",
                 "\ntype ", std::string_view(*name), " = ");
  const json::value* params = f->if_contains("parameters");
  if (params && !params->is_object()) return std::nullopt;
  if (params) {
    // What the schema says beyond its properties ($defs, additionalProperties, ...): counted.
    const std::string rest = Unrendered(params->get_object(), {"type", "properties", "required"});
    if (!rest.empty()) pai::StrAppend(&r.unrendered, "parameters: ", rest, "\n");
  }
  const json::value* props = params ? params->get_object().if_contains("properties") : nullptr;
  if (props && !props->is_object()) return std::nullopt;
  if (!props || props->get_object().empty()) {
    r.declaration += "() => any;\n\n";
    return r;
  }
  const json::value* required = params->get_object().if_contains("required");
  auto is_required = [&](std::string_view key) {
    if (!required || !required->is_array()) return false;
    for (const json::value& k : required->get_array()) {
      if (k.is_string() && k.get_string() == key) return true;
    }
    return false;
  };
  r.declaration += "(_: {\n";
  for (const auto& [key, spec] : props->get_object()) {
    if (!spec.is_object()) return std::nullopt;
    const json::object& s = spec.get_object();
    std::optional<std::string> type = TypeOf(s);
    if (!type) {
      // Not a plain type: its name and its whole schema, counted apart.
      pai::StrAppend(&r.unrendered, std::string_view(key), ": ", json::serialize(spec), "\n");
      continue;
    }
    if (const json::string* d = StringMember(s, "description")) {
      pai::StrAppend(&r.declaration, "// ", std::string_view(*d), "\n");
    }
    pai::StrAppend(&r.declaration, std::string_view(key), is_required(key) ? "" : "?", ": ", *type);
    if (const json::value* def = s.if_contains("default")) {
      pai::StrAppend(&r.declaration, ", // default: ", json::serialize(*def));
    }
    r.declaration += ",\n";
    // What the property's schema says beyond the declaration (format, minimum, examples, ...).
    const std::string rest =
        Unrendered(s, {"type", "description", "enum", "default", "nullable", "items"});
    if (!rest.empty()) pai::StrAppend(&r.unrendered, std::string_view(key), ": ", rest, "\n");
  }
  r.declaration += "}) => any;\n\n";
  return r;
}

int64_t ToolTokens(const json::value& tool, const tokenizer::Encoding& enc) {
  std::optional<RenderedTool> r = RenderTool(tool);
  if (!r) return enc.Count(json::serialize(tool)) + kToolSlack;
  return enc.Count(r->declaration) + enc.Count(r->unrendered) + kToolSlack;
}

}  // namespace pai::gateway
