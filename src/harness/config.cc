#include "harness/config.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <fstream>
#include <sstream>

#include "harness/util.h"

namespace pai::harness {

namespace json = boost::json;

namespace {

bool IsBuiltin(std::string_view name) {
  return std::find(std::begin(kBuiltinTools), std::end(kBuiltinTools), name) !=
         std::end(kBuiltinTools);
}

absl::Status ParseTools(const json::value* tools, SessionConfig& c) {
  if (tools == nullptr || tools->is_null()) {
    c.builtin_tools.assign(std::begin(kBuiltinTools), std::end(kBuiltinTools));
    return absl::OkStatus();
  }
  if (!tools->is_array()) return absl::InvalidArgumentError("'tools' must be an array");
  for (const json::value& t : tools->get_array()) {
    if (!t.is_object()) return absl::InvalidArgumentError("'tools[]' entries must be objects");
    const json::object& o = t.get_object();
    auto enabled = GetBool(o, "enabled");
    if (!enabled.ok()) return enabled.status();
    if (enabled->has_value() && !**enabled) continue;
    auto name = GetString(o, "name");
    auto type = GetString(o, "type");
    if (!name.ok()) return name.status();
    if (!type.ok()) return type.status();
    if (type->value_or("") == "custom") {
      CustomToolSpec spec;
      if (!name->has_value() || (*name)->empty()) {
        return absl::InvalidArgumentError("a custom tool needs a 'name'");
      }
      spec.name = **name;
      auto desc = GetString(o, "description");
      if (!desc.ok()) return desc.status();
      spec.description = desc->value_or("");
      const json::value* schema = o.if_contains("input_schema");
      if (schema == nullptr) schema = o.if_contains("inputSchema");
      if (schema != nullptr && schema->is_object()) {
        spec.input_schema = schema->get_object();
      } else {
        spec.input_schema = {{"type", "object"}, {"properties", json::object()}};
      }
      c.custom_tools.push_back(std::move(spec));
      continue;
    }
    const std::string builtin = name->has_value() ? **name : type->value_or("");
    if (!IsBuiltin(builtin)) {
      Log("ignoring unknown tool '" + builtin + "' in session.json");
      continue;
    }
    if (std::find(c.builtin_tools.begin(), c.builtin_tools.end(), builtin) ==
        c.builtin_tools.end()) {
      c.builtin_tools.push_back(builtin);
    }
  }
  return absl::OkStatus();
}

absl::Status ParseLimits(const json::value* limits, Limits& l) {
  if (limits == nullptr || limits->is_null()) return absl::OkStatus();
  if (!limits->is_object()) return absl::InvalidArgumentError("'limits' must be an object");
  const json::object& o = limits->get_object();
  for (auto [key, field] : {std::pair{"tool_timeout_seconds", &l.tool_timeout_seconds},
                            std::pair{"tool_output_bytes", &l.tool_output_bytes},
                            std::pair{"max_steps_per_turn", &l.max_steps_per_turn}}) {
    auto v = GetInt(o, key);
    if (!v.ok()) return absl::InvalidArgumentError("limits." + std::string(v.status().message()));
    if (!v->has_value()) continue;
    if (**v <= 0) {
      return absl::InvalidArgumentError("limits." + std::string(key) + " must be positive");
    }
    *field = **v;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SessionConfig> ParseSessionConfig(std::string_view json_text) {
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(json_text.data(), json_text.size()), ec);
  if (ec) return absl::InvalidArgumentError("session.json is not JSON: " + ec.message());
  if (!root.is_object()) return absl::InvalidArgumentError("session.json must be an object");
  const json::object& o = root.get_object();
  SessionConfig c;
  for (auto [key, field] : {std::pair{"session", &c.session}, std::pair{"agent", &c.agent},
                            std::pair{"system", &c.system}, std::pair{"task", &c.task},
                            std::pair{"workspace", &c.workspace}}) {
    auto v = GetString(o, key);
    if (!v.ok()) return v.status();
    if (v->has_value()) *field = **v;
  }
  if (c.workspace.empty()) c.workspace = "/workspace";
  auto mode = GetString(o, "mode");
  if (!mode.ok()) return mode.status();
  const std::string m = mode->value_or("interactive");
  if (m != "interactive" && m != "task") {
    return absl::InvalidArgumentError("'mode' must be \"interactive\" or \"task\"");
  }
  c.task_mode = m == "task";
  const json::value* models = o.if_contains("models");
  if (models != nullptr && models->is_array()) {
    for (const json::value& v : models->get_array()) {
      if (!v.is_string()) return absl::InvalidArgumentError("'models[]' must be strings");
      c.models.emplace_back(v.get_string());
    }
  }
  if (c.models.empty() || c.models[0].empty()) {
    return absl::InvalidArgumentError("'models' must name at least one model");
  }
  if (absl::Status s = ParseTools(o.if_contains("tools"), c); !s.ok()) return s;
  if (const json::value* p = o.if_contains("providers"); p != nullptr && p->is_object()) {
    for (const auto& [k, v] : p->get_object()) {
      c.providers[std::string(k)] = v.is_bool() && v.get_bool();
    }
  }
  if (absl::Status s = ParseLimits(o.if_contains("limits"), c.limits); !s.ok()) return s;
  return c;
}

absl::StatusOr<SessionConfig> LoadSessionConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseSessionConfig(ss.str());
}

}  // namespace pai::harness
