#include <boost/json/parse.hpp>
#include <exception>

#include "harness/tool.h"
#include "harness/util.h"

namespace pai::harness {

namespace json = boost::json;
namespace fs = std::filesystem;

fs::path ToolContext::Resolve(std::string_view path) const {
  if (path.empty()) return workspace;
  fs::path p(path);
  if (path.front() == '~' && (path.size() == 1 || path[1] == '/')) {
    p = workspace / fs::path(path.substr(path.size() == 1 ? 1 : 2));
  }
  return (p.is_absolute() ? p : workspace / p).lexically_normal();
}

std::string ToolContext::Display(const fs::path& p) const {
  const fs::path rel = p.lexically_relative(workspace);
  if (!rel.empty() && *rel.begin() != "..") return rel.string();
  return p.string();
}

json::object ObjectSchema(json::object properties,
                          std::initializer_list<std::string_view> required) {
  json::array req;
  for (std::string_view r : required) req.emplace_back(json::string(r));
  json::object o{{"type", "object"}, {"properties", std::move(properties)}};
  o["required"] = std::move(req);
  o["additionalProperties"] = false;
  return o;
}

json::object Prop(std::string_view type, std::string_view description) {
  return json::object{{"type", json::string(type)}, {"description", json::string(description)}};
}

absl::StatusOr<json::object> DecodeArguments(std::string_view arguments) {
  size_t first = arguments.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return json::object();
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(arguments.data(), arguments.size()), ec);
  if (ec) {
    return absl::InvalidArgumentError("the arguments are not valid JSON (" + ec.message() + ")");
  }
  if (!v.is_object()) return absl::InvalidArgumentError("the arguments must be a JSON object");
  return std::move(v.get_object());
}

ToolBox::ToolBox(const SessionConfig& config) : custom_(config.custom_tools) {
  for (const std::string& name : config.builtin_tools) {
    if (auto tool = MakeBuiltinTool(name)) builtins_.push_back(std::move(tool));
  }
}

json::array ToolBox::OpenAISchema() const {
  json::array tools;
  auto add = [&tools](std::string_view name, std::string_view desc, json::object params) {
    tools.push_back(json::object{{"type", "function"},
                                 {"function", json::object{{"name", json::string(name)},
                                                           {"description", json::string(desc)},
                                                           {"parameters", std::move(params)}}}});
  };
  for (const auto& t : builtins_) add(t->name(), t->description(), t->Parameters());
  for (const auto& c : custom_) add(c.name, c.description, c.input_schema);
  return tools;
}

bool ToolBox::IsCustom(std::string_view name) const {
  for (const auto& c : custom_) {
    if (c.name == name) return true;
  }
  return false;
}

bool ToolBox::Has(std::string_view name) const {
  for (const auto& t : builtins_) {
    if (t->name() == name) return true;
  }
  return IsCustom(name);
}

ToolResult ToolBox::Execute(std::string_view name, std::string_view arguments,
                            ToolContext& ctx) const {
  Tool* tool = nullptr;
  for (const auto& t : builtins_) {
    if (t->name() == name) tool = t.get();
  }
  if (tool == nullptr) {
    return ToolError("unknown tool '" + std::string(name) + "': it is not enabled in this Session");
  }
  auto input = DecodeArguments(arguments);
  if (!input.ok())
    return ToolError(std::string(name) + ": " + std::string(input.status().message()));
  try {
    ToolResult r = tool->Run(*input, ctx);
    r.text = SanitizeUtf8(r.text);
    return r;
  } catch (const std::exception& e) {
    return ToolError(std::string(name) + " failed: " + e.what());
  } catch (...) {
    return ToolError(std::string(name) + " failed");
  }
}

}  // namespace pai::harness
