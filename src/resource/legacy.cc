// The legacy mapping (AgentWorkload / v1 Agent fields → the current Agent shape), the one table
// `apply` and `migrate-agents` share. docs/resources.md ("Legacy mapping") lists each row.
#include <algorithm>

#include "common/strings.h"
#include "resource/internal.h"
#include "resource/resource.h"

namespace pai::resource {
namespace {

namespace json = boost::json;

constexpr std::string_view kLegacyFields[] = {
    "modelBindings", "type",           "agentDefinition", "schedule",
    "webhook",       "conversational", "mcpServers",      "managedAgentDefinitions"};

const json::object* SpecOf(const json::value& doc) {
  if (!doc.is_object()) return nullptr;
  const json::value* spec = doc.get_object().if_contains("spec");
  return spec != nullptr && spec->is_object() ? &spec->get_object() : nullptr;
}

std::string_view StringAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

bool IsAgentWorkload(const json::value& doc) {
  if (!doc.is_object()) return false;
  const json::value* kind = doc.get_object().if_contains("kind");
  return kind != nullptr && *kind == "AgentWorkload";
}

// Appends to spec[key] (a list), creating it; keeps an existing non-list value's place by
// replacing it only when absent or a list.
json::array& ListAt(json::object& spec, std::string_view key) {
  json::value& v = spec[key];
  if (!v.is_array()) v = json::array();
  return v.get_array();
}

bool Contains(const json::array& arr, const json::value& v) {
  return std::find(arr.begin(), arr.end(), v) != arr.end();
}

class Mapper {
 public:
  Mapper(const json::value& doc, const ModelAliasResolver& resolve) : doc_(doc), resolve_(resolve) {
    if (const json::object* spec = SpecOf(doc)) out_.spec = *spec;
  }

  LegacyMapping Run() {
    if (IsAgentWorkload(doc_)) Note("kind AgentWorkload → Agent");
    MapType();
    MapImage();
    MapModelBindings();
    MapSchedule();
    MapWebhook();
    MapManagedAgentDefinitions();
    MapConversational();
    MapMcpServers();
    return std::move(out_);
  }

 private:
  json::object& spec() { return out_.spec; }

  void Note(std::string line) {
    out_.notes.push_back(std::move(line));
    out_.changed = true;
  }

  std::string Name() const {
    if (!doc_.is_object()) return "";
    const json::value* md = doc_.get_object().if_contains("metadata");
    return md != nullptr && md->is_object() ? std::string(StringAt(md->get_object(), "name")) : "";
  }

  void MapType() {
    const json::value* type = spec().if_contains("type");
    if (type == nullptr) return;
    const std::string t = type->is_string() ? std::string(type->get_string()) : "";
    if (t == "service") {
      spec().erase("type");
      spec()["longRunning"] = true;
      Note("spec.type service → longRunning: true");
    } else if (t == "task") {
      spec().erase("type");
      MapTask();
    }
  }

  // A v1 task is a one-shot run: the Agent becomes a template (no type) and the run a Session.
  void MapTask() {
    json::object session{{"agent", Name()}};
    std::string line =
        pai::StrCat("spec.type task → a template Agent plus a Session of Agent \"", Name(), "\"");
    if (const json::value* task = spec().if_contains("task")) {
      session["task"] = *task;
      spec().erase("task");
      line += " with spec.task as its task";
    }
    Note(std::move(line));
    const std::string_view def = StringAt(spec(), "agentDefinition");
    if (!def.empty()) {
      session["agent"] = def;
      // The referenced template carries the harness; this task's own per-field overrides that a
      // Session can hold move to the Session; the rest stays on this Agent, unused by the run.
      std::string moved;
      for (std::string_view key :
           {"system", "models", "idleTimeoutMinutes", "idleTimeout", "ttlSecondsAfterFinished"}) {
        if (const json::value* v = spec().if_contains(key)) {
          session[key] = *v;
          spec().erase(key);
          pai::StrAppend(&moved, moved.empty() ? "" : ", ", key);
        }
      }
      Note(pai::StrCat("spec.agentDefinition ", def, " → the Session runs Agent \"", def,
                       "\"; this Agent keeps no harness fields of its own",
                       moved.empty() ? "" : pai::StrCat(" (moved to the Session: ", moved, ")")));
      spec().erase("agentDefinition");
    }
    out_.session_spec = std::move(session);
  }

  void MapImage() {
    if (!spec().contains("image") || spec().contains("harness")) return;
    spec()["harness"] = "custom";
    if (out_.session_spec) {
      Note("spec.image without spec.harness → harness: custom");
      return;
    }
    const bool was_long_running = spec().contains("longRunning");
    spec()["longRunning"] = true;
    Note(was_long_running ? "spec.image without spec.harness → harness: custom"
                          : "spec.image without spec.harness → longRunning: true, harness: custom");
  }

  void MapModelBindings() {
    const json::value* mb = spec().if_contains("modelBindings");
    if (mb == nullptr) return;
    const json::value bindings = *mb;
    spec().erase("modelBindings");
    json::array& models = ListAt(spec(), "models");
    if (!bindings.is_array()) {
      Note("spec.modelBindings (not a list) dropped");
      return;
    }
    const json::array& arr = bindings.get_array();
    for (size_t i = 0; i < arr.size(); ++i) {
      if (!arr[i].is_string()) continue;
      const std::string name(arr[i].get_string());
      std::optional<std::string> ref;
      if (name.find('/') != std::string::npos) {
        ref = name;
      } else if (resolve_) {
        ref = resolve_(name);
      }
      const std::string where = pai::StrCat("spec.modelBindings[", i, "] ", name);
      if (!ref) {
        out_.unresolved.push_back(name);
        Note(pai::StrCat(where, " → unresolved (no ModelProvider serves it; left out of models)"));
        continue;
      }
      if (!Contains(models, json::value(*ref))) models.emplace_back(*ref);
      Note(pai::StrCat(where, " → models: ", *ref));
    }
    if (models.empty()) spec().erase("models");
  }

  void MapSchedule() {
    const json::value* s = spec().if_contains("schedule");
    if (s == nullptr) return;
    json::object trigger{{"schedule", *s}};
    spec().erase("schedule");
    ListAt(spec(), "triggers").push_back(std::move(trigger));
    Note("spec.schedule → triggers: [{schedule: ...}]");
  }

  void MapWebhook() {
    const json::value* w = spec().if_contains("webhook");
    if (w == nullptr) return;
    const json::value hook = *w;
    spec().erase("webhook");
    if (hook.is_object() || (hook.is_bool() && hook.get_bool())) {
      json::object trigger{{"webhook", hook.is_object() ? hook : json::object()}};
      ListAt(spec(), "triggers").push_back(std::move(trigger));
      Note("spec.webhook → triggers: [{webhook: ...}]");
    } else {
      Note("spec.webhook (false) dropped");
    }
  }

  void MapManagedAgentDefinitions() {
    const json::value* m = spec().if_contains("managedAgentDefinitions");
    if (m == nullptr) return;
    const json::value defs = *m;
    spec().erase("managedAgentDefinitions");
    json::array& managed = ListAt(spec(), "managedAgents");
    if (defs.is_array()) {
      for (const json::value& d : defs.get_array()) {
        // Entries are names, or objects naming one.
        json::value name =
            d.is_object() && d.get_object().contains("name") ? d.get_object().at("name") : d;
        if (name.is_string() && !Contains(managed, name)) managed.push_back(name);
      }
    }
    if (managed.empty()) spec().erase("managedAgents");
    Note("spec.managedAgentDefinitions → managedAgents");
  }

  void MapConversational() {
    if (!spec().contains("conversational")) return;
    spec().erase("conversational");
    Note("spec.conversational dropped (idle behaviour is the default for triggered Sessions)");
  }

  void MapMcpServers() {
    const json::value* m = spec().if_contains("mcpServers");
    if (m == nullptr) return;
    const json::value servers = *m;
    spec().erase("mcpServers");
    if (!servers.is_array()) {
      Note("spec.mcpServers (not a list) dropped");
      return;
    }
    const json::array& arr = servers.get_array();
    for (size_t i = 0; i < arr.size(); ++i) {
      if (arr[i].is_string()) {
        json::array& providers = ListAt(spec(), "providers");
        if (!Contains(providers, arr[i])) providers.push_back(arr[i]);
        Note(pai::StrCat("spec.mcpServers[", i, "] ", std::string_view(arr[i].get_string()),
                         " → providers"));
      } else {
        Note(pai::StrCat("spec.mcpServers[", i,
                         "] dropped (inline MCP servers are not supported: declare a Provider and "
                         "list it in spec.providers)"));
      }
    }
  }

  const json::value& doc_;
  const ModelAliasResolver& resolve_;
  LegacyMapping out_;
};

}  // namespace

bool IsLegacy(const boost::json::value& doc) {
  if (IsAgentWorkload(doc)) return true;
  const json::object* spec = SpecOf(doc);
  if (spec == nullptr) return false;
  for (std::string_view f : kLegacyFields) {
    if (spec->contains(f)) return true;
  }
  return spec->contains("image") && !spec->contains("harness");
}

LegacyMapping MapLegacy(const boost::json::value& doc, const ModelAliasResolver& resolve) {
  try {
    return Mapper(doc, resolve).Run();
  } catch (const std::exception& e) {  // a throwing resolver; the spec is returned unmapped
    LegacyMapping m;
    if (const json::object* spec = SpecOf(doc)) m.spec = *spec;
    m.notes.push_back(pai::StrCat("legacy mapping failed: ", e.what()));
    return m;
  }
}

}  // namespace pai::resource
