// Validate(): the kind / apiVersion / metadata checks, the schema (schema.cc) and the
// cross-field rules of docs/resources.md ("Validation"). The rules that have a readable message
// of their own (unknown harness, tool type, trigger kind ...) run by hand; schema errors on the
// same fields are then dropped so each problem is reported once.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/strings.h"
#include "resource/internal.h"
#include "resource/resource.h"

namespace pai::resource {
namespace {

namespace json = boost::json;
using internal::Index;
using internal::Join;
using internal::Quote;

constexpr std::string_view kHarnesses[] = {"default", "claude", "codex", "custom"};
constexpr std::string_view kToolTypes[] = {"bash",       "read",       "write",     "edit",
                                           "glob",       "grep",       "web_fetch", "web_search",
                                           "send_email", "screenshot", "custom"};
constexpr std::string_view kTriggerKinds[] = {"telegram", "email", "slack", "webhook", "schedule"};
// Triggers that wake a conversational Session (idleTimeout applies to those Sessions).
constexpr std::string_view kConversationalTriggers[] = {"telegram", "email", "slack", "webhook"};

template <size_t N>
bool OneOf(std::string_view s, const std::string_view (&set)[N]) {
  return std::find(std::begin(set), std::end(set), s) != std::end(set);
}

template <size_t N>
std::string ListOf(const std::string_view (&set)[N]) {
  std::string out;
  for (std::string_view s : set) pai::StrAppend(&out, out.empty() ? "" : ", ", s);
  return out;
}

const json::value* At(const json::object& o, std::string_view key) { return o.if_contains(key); }

const json::object* ObjectAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

const json::array* ArrayAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}

std::optional<std::string_view> StringAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

std::optional<int64_t> IntAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= uint64_t{INT64_MAX}) {
    return static_cast<int64_t>(v->get_uint64());
  }
  return std::nullopt;
}

bool TrueAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->get_bool();
}

using Errors = std::vector<FieldError>;

void Add(Errors* errors, std::string field, std::string message) {
  errors->push_back({std::move(field), std::move(message)});
}

// ---- generic checks ----

std::string Dns1123Message(std::string_view got) {
  return pai::StrCat(
      "must be a DNS-1123 label: lowercase letters, digits and '-', at most 63 characters, "
      "starting and ending with a letter or digit (got \"",
      got, "\")");
}

void CheckMetadata(const json::object& doc, Errors* errors) {
  const json::object* md = ObjectAt(doc, "metadata");
  if (md == nullptr) return;  // the schema reports it
  const json::value* name = At(*md, "name");
  if (name == nullptr) {
    Add(errors, "metadata.name", "required field is missing");
  } else if (name->is_string() && !internal::IsDns1123Label(name->get_string())) {
    Add(errors, "metadata.name", Dns1123Message(name->get_string()));
  }
  auto ns = StringAt(*md, "namespace");
  if (ns && !ns->empty() && !internal::IsDns1123Label(*ns)) {
    Add(errors, "metadata.namespace", Dns1123Message(*ns));
  }
}

bool IsBase64(std::string_view s) {
  std::string decoded;
  return absl::Base64Unescape(pai::AV(s), &decoded);
}

void CheckBase64(const json::object& o, std::string_view key, const std::string& path,
                 Errors* errors) {
  auto v = StringAt(o, key);
  if (v && !IsBase64(*v)) Add(errors, Join(path, key), "not valid base64");
}

void CheckAbsolutePaths(const json::object& spec, std::string_view list, std::string_view key,
                        Errors* errors) {
  const json::array* items = ArrayAt(spec, list);
  if (items == nullptr) return;
  for (size_t i = 0; i < items->size(); ++i) {
    if (!(*items)[i].is_object()) continue;
    auto path = StringAt((*items)[i].get_object(), key);
    if (path && (path->empty() || path->front() != '/')) {
      Add(errors, Join(Index(Join("spec", list), i), key),
          pai::StrCat("must be an absolute path (got \"", *path, "\")"));
    }
  }
}

// Kubernetes CronJob syntax: five fields, or one of the @ macros.
std::optional<std::string> CronProblem(std::string_view cron) {
  static constexpr std::string_view kMacros[] = {"@yearly", "@annually", "@monthly", "@weekly",
                                                 "@daily",  "@midnight", "@hourly"};
  const std::vector<absl::string_view> fields =
      absl::StrSplit(pai::AV(cron), absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (fields.size() == 1 && OneOf(pai::SV(fields[0]), kMacros)) return std::nullopt;
  if (fields.size() != 5) {
    return pai::StrCat(
        "expected a 5-field cron expression (minute hour day-of-month month day-of-week), got ",
        fields.size(), " field", fields.size() == 1 ? "" : "s", " in \"", cron, "\"");
  }
  for (absl::string_view f : fields) {
    for (char c : f) {
      if (!(absl::ascii_isalnum(c) || c == '*' || c == '/' || c == ',' || c == '-' || c == '?')) {
        return pai::StrCat("invalid character '", std::string(1, c), "' in cron field \"",
                           pai::SV(f), "\"");
      }
    }
  }
  return std::nullopt;
}

void CheckModels(const json::object& spec, Errors* errors) {
  const json::array* models = ArrayAt(spec, "models");
  if (models == nullptr) return;
  for (size_t i = 0; i < models->size(); ++i) {
    if (!(*models)[i].is_string()) continue;
    std::string_view ref = (*models)[i].get_string();
    const size_t slash = ref.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == ref.size()) {
      Add(errors, Index("spec.models", i),
          pai::StrCat("\"", ref, "\" is not <modelprovider>/<model-id>"));
    }
  }
}

void CheckIdleTimeoutSyntax(const json::object& spec, Errors* errors) {
  auto idle = StringAt(spec, "idleTimeout");
  if (idle && !ParseDurationSeconds(*idle)) {
    Add(errors, "spec.idleTimeout",
        pai::StrCat("expected a duration such as 15m, 1h or 1h30m (got \"", *idle, "\")"));
  }
}

// ---- Agent ----

void CheckHarness(const json::object& raw, const json::object& spec, Errors* errors) {
  auto harness = StringAt(raw, "harness");
  if (harness && !OneOf(*harness, kHarnesses)) {
    Add(errors, "spec.harness",
        pai::StrCat("unknown harness \"", *harness, "\" (expected one of ", ListOf(kHarnesses),
                    ")"));
  }
  auto image = StringAt(spec, "image");
  const bool has_image = image && !image->empty();
  auto mapped = StringAt(spec, "harness");
  if (mapped == "custom" && !has_image) {
    Add(errors, "spec.image", "required when spec.harness is custom");
  } else if (TrueAt(spec, "longRunning") && !has_image) {
    Add(errors, "spec.image", "required when spec.longRunning is true");
  }
  if (TrueAt(spec, "longRunning") && mapped && *mapped != "custom" && OneOf(*mapped, kHarnesses)) {
    Add(errors, "spec.harness",
        pai::StrCat("must be custom when spec.longRunning is true (got \"", *mapped,
                    "\"; a long-running Agent runs its own image)"));
  }
}

void CheckTool(const json::object& tool, const std::string& path, Errors* errors) {
  auto type = StringAt(tool, "type");
  if (!type) return;  // missing or not a string: the schema reports it
  if (!OneOf(*type, kToolTypes)) {
    Add(errors, Join(path, "type"),
        pai::StrCat("unknown tool type \"", *type, "\" (expected one of ", ListOf(kToolTypes),
                    ")"));
    return;
  }
  if (*type != "custom") return;
  for (std::string_view key : {"name", "description", "inputSchema"}) {
    if (!tool.contains(key)) Add(errors, Join(path, key), "required when type is custom");
  }
}

void CheckTools(const json::object& spec, Errors* errors) {
  const json::array* tools = ArrayAt(spec, "tools");
  if (tools == nullptr) return;
  for (size_t i = 0; i < tools->size(); ++i) {
    if ((*tools)[i].is_object())
      CheckTool((*tools)[i].get_object(), Index("spec.tools", i), errors);
  }
}

void CheckTrigger(const json::object& trigger, const std::string& path, Errors* errors) {
  std::string found;
  for (const auto& kv : trigger) {
    if (!OneOf(kv.key(), kTriggerKinds)) {
      Add(errors, Join(path, kv.key()),
          pai::StrCat("unknown trigger kind \"", std::string_view(kv.key()), "\" (expected one of ",
                      ListOf(kTriggerKinds), ")"));
      return;
    }
    pai::StrAppend(&found, found.empty() ? "" : ", ", std::string_view(kv.key()));
  }
  if (trigger.size() != 1) {
    Add(errors, path,
        pai::StrCat(
            "must set exactly one of ", ListOf(kTriggerKinds),
            trigger.empty() ? std::string(" (found none)") : pai::StrCat(" (found ", found, ")")));
    return;
  }
  if (auto cron = StringAt(trigger, "schedule")) {
    if (auto problem = CronProblem(*cron)) Add(errors, Join(path, "schedule"), *problem);
  }
}

void CheckTriggers(const json::object& spec, Errors* errors) {
  if (const json::array* triggers = ArrayAt(spec, "triggers")) {
    for (size_t i = 0; i < triggers->size(); ++i) {
      if (!(*triggers)[i].is_object()) continue;
      CheckTrigger((*triggers)[i].get_object(), Index("spec.triggers", i), errors);
    }
  }
  if (auto cron = StringAt(spec, "schedule")) {  // legacy spec.schedule
    if (auto problem = CronProblem(*cron)) Add(errors, "spec.schedule", *problem);
  }
}

bool HasConversationalTrigger(const json::object& spec) {
  const json::array* triggers = ArrayAt(spec, "triggers");
  if (triggers == nullptr) return false;
  return std::any_of(triggers->begin(), triggers->end(), [](const json::value& t) {
    if (!t.is_object()) return false;
    return std::any_of(t.get_object().begin(), t.get_object().end(),
                       [](const auto& kv) { return OneOf(kv.key(), kConversationalTriggers); });
  });
}

// idleTimeout is the idle timeout of trigger-woken (conversational) Sessions, idleTimeoutMinutes
// that of interactive ones. Without a conversational trigger both govern the same Sessions, so
// they must agree.
void CheckIdleTimeouts(const json::object& spec, Errors* errors) {
  auto idle = StringAt(spec, "idleTimeout");
  auto minutes = IntAt(spec, "idleTimeoutMinutes");
  if (!idle || !minutes || HasConversationalTrigger(spec)) return;
  auto seconds = ParseDurationSeconds(*idle);
  if (!seconds || *seconds == *minutes * 60) return;
  Add(errors, "spec.idleTimeoutMinutes",
      pai::StrCat("conflicts with spec.idleTimeout (", *idle, " vs ", *minutes,
                  " minutes): without a telegram, email, slack or webhook trigger both set the "
                  "idle timeout of the same Sessions; set one of them, or make them equal"));
}

void CheckGuards(const json::object& spec, const Lookup& lookup, Errors* errors) {
  const json::array* guards = ArrayAt(spec, "guards");
  if (guards == nullptr || !lookup.guard_binding) return;
  for (size_t i = 0; i < guards->size(); ++i) {
    if (!(*guards)[i].is_object()) continue;
    const json::object& g = (*guards)[i].get_object();
    auto binding = StringAt(g, "binding");
    if (!binding || StringAt(g, "enforcement") != "audit") continue;
    std::optional<json::object> bound = lookup.guard_binding(*binding);
    if (!bound || StringAt(*bound, "enforcement") != "enforce") continue;
    Add(errors, Join(Index("spec.guards", i), "enforcement"),
        pai::StrCat("audit would loosen GuardBinding \"", *binding,
                    "\" (enforcement: enforce); an Agent may only tighten (audit → enforce)"));
  }
}

void CheckProvider(const json::value& p, const std::string& path, Errors* errors) {
  if (p.is_string()) return;
  if (!p.is_object()) {
    Add(errors, path, "expected a Provider name or an object {name, policy, scope}");
    return;
  }
  const json::object& o = p.get_object();
  const json::value* name = At(o, "name");
  if (name == nullptr) Add(errors, Join(path, "name"), "required field is missing");
  if (name != nullptr && !name->is_string()) Add(errors, Join(path, "name"), "expected a string");
  for (const auto& kv : o) {
    const std::string_view key = kv.key();
    if (key == "name") continue;
    if (key != "policy" && key != "scope") {
      Add(errors, Join(path, key), pai::StrCat("unknown field \"", key, "\""));
    } else if (!kv.value().is_object()) {
      Add(errors, Join(path, key), "expected an object");
    }
  }
}

void CheckProviders(const json::object& spec, Errors* errors) {
  const json::array* providers = ArrayAt(spec, "providers");
  if (providers == nullptr) return;
  for (size_t i = 0; i < providers->size(); ++i) {
    CheckProvider((*providers)[i], Index("spec.providers", i), errors);
  }
}

void CheckEnv(const json::object& spec, Errors* errors) {
  const json::array* env = ArrayAt(spec, "env");
  if (env == nullptr) return;
  for (size_t i = 0; i < env->size(); ++i) {
    if (!(*env)[i].is_object()) continue;
    const json::object& e = (*env)[i].get_object();
    if (e.contains("value") && e.contains("secretRef")) {
      Add(errors, Join(Index("spec.env", i), "secretRef"), "set only one of value and secretRef");
    }
  }
}

void CheckAutoscaling(const json::object& spec, Errors* errors) {
  const json::object* a = ObjectAt(spec, "autoscaling");
  if (a == nullptr) return;
  auto min = IntAt(*a, "minReplicas");
  auto max = IntAt(*a, "maxReplicas");
  if (min && max && *min > *max) {
    Add(errors, "spec.autoscaling.minReplicas",
        pai::StrCat("must not exceed maxReplicas (", *min, " > ", *max, ")"));
  }
  const json::array* metrics = ArrayAt(*a, "metrics");
  if (metrics == nullptr) return;
  for (size_t i = 0; i < metrics->size(); ++i) {
    if (!(*metrics)[i].is_object()) continue;
    const json::object& m = (*metrics)[i].get_object();
    if (StringAt(m, "type") == "http" && !m.contains("url")) {
      Add(errors, Join(Index("spec.autoscaling.metrics", i), "url"), "required when type is http");
    }
  }
}

void CheckLegacyShapes(const json::object& spec, Errors* errors) {
  const json::value* hook = At(spec, "webhook");
  if (hook != nullptr && !hook->is_object() && !hook->is_bool()) {
    Add(errors, "spec.webhook", "expected true, false or an object");
  }
}

void CheckAgent(const json::value& doc, const json::object& raw, const Lookup& lookup,
                Errors* errors) {
  // Rules whose meaning depends on the legacy fields run on the mapped spec, so an AgentWorkload
  // with runAsUser: 0 or a service with triggers is rejected like its current-shape equivalent.
  json::object spec = raw;
  if (IsLegacy(doc)) {
    spec = MapLegacy(doc, [](std::string_view name) { return std::string(name); }).spec;
  }
  if (IntAt(spec, "runAsUser") == 0) {
    Add(errors, "spec.runAsUser", "must not be 0 (root is rejected)");
  }
  const json::array* triggers = ArrayAt(spec, "triggers");
  if (TrueAt(spec, "longRunning") && triggers != nullptr && !triggers->empty()) {
    Add(errors, "spec.triggers",
        "must be empty when spec.longRunning is true (a long-running Agent runs continuously; "
        "triggers spawn Sessions of session-spawning Agents)");
  }
  CheckHarness(raw, spec, errors);
  CheckTools(raw, errors);
  CheckTriggers(raw, errors);
  CheckIdleTimeoutSyntax(raw, errors);
  CheckIdleTimeouts(spec, errors);
  CheckGuards(raw, lookup, errors);
  CheckProviders(raw, errors);
  CheckModels(raw, errors);
  CheckEnv(raw, errors);
  CheckAutoscaling(raw, errors);
  CheckLegacyShapes(raw, errors);
  CheckAbsolutePaths(raw, "configFiles", "path", errors);
  CheckAbsolutePaths(raw, "volumes", "mountPath", errors);
  CheckAbsolutePaths(raw, "files", "mountPath", errors);
}

// ---- other kinds ----

void CheckSecret(const json::object& doc, Errors* errors) {
  for (std::string_view field : {"data", "stringData"}) {
    const json::object* data = ObjectAt(doc, field);
    if (data == nullptr) continue;
    for (const auto& kv : *data) {
      const std::string path = Join(field, kv.key());
      const std::string_view key = kv.key();
      const bool key_ok = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
      });
      if (!key_ok) {
        Add(errors, path, "key must be letters, digits, '-', '_' or '.'");
      } else if (field == "data" && kv.value().is_string() && !IsBase64(kv.value().get_string())) {
        Add(errors, path, "not valid base64");
      }
    }
  }
}

void CheckSkill(const json::object& spec, Errors* errors) {
  const json::array* files = ArrayAt(spec, "files");
  if (files == nullptr) return;
  for (size_t i = 0; i < files->size(); ++i) {
    if (!(*files)[i].is_object()) continue;
    const json::object& f = (*files)[i].get_object();
    const std::string path = Index("spec.files", i);
    CheckBase64(f, "data", path, errors);
    auto p = StringAt(f, "path");
    if (!p) continue;
    const std::vector<absl::string_view> parts = absl::StrSplit(pai::AV(*p), '/');
    const bool dotdot =
        std::any_of(parts.begin(), parts.end(), [](absl::string_view s) { return s == ".."; });
    if (p->empty() || p->front() == '/' || dotdot) {
      Add(errors, Join(path, "path"),
          pai::StrCat("must be a relative path without '..' (got \"", *p, "\")"));
    }
  }
}

void CheckGuardBinding(const json::object& spec, Errors* errors) {
  const json::object* c = ObjectAt(spec, "classifier");
  if (c == nullptr) return;
  if (StringAt(*c, "type") == "http" && !c->contains("url")) {
    Add(errors, "spec.classifier.url", "required when spec.classifier.type is http");
  }
  auto max_chars = IntAt(*c, "maxChars");
  if (max_chars && *max_chars != 0 && *max_chars < 256) {
    Add(errors, "spec.classifier.maxChars", "must be 0 (no limit) or >= 256");
  }
  if (c->contains("apiKeySecretRef") && c->contains("apiKeyEnv")) {
    Add(errors, "spec.classifier.apiKeyEnv", "set only one of apiKeySecretRef and apiKeyEnv");
  }
}

void CheckAccessToken(const json::object& spec, Errors* errors) {
  auto target = StringAt(spec, "targetNamespace");
  if (target && *target != "*" && !internal::IsDns1123Label(*target)) {
    Add(errors, "spec.targetNamespace",
        pai::StrCat("must be \"*\" or a namespace (DNS-1123 label; got \"", *target, "\")"));
  }
  auto expires = StringAt(spec, "expiresAt");
  absl::Time t;
  std::string err;
  if (expires && !absl::ParseTime(absl::RFC3339_full, pai::AV(*expires), &t, &err)) {
    Add(errors, "spec.expiresAt",
        pai::StrCat("expected an RFC 3339 time such as 2026-01-31T00:00:00Z (got \"", *expires,
                    "\")"));
  }
}

void CheckKindRules(const KindInfo& kind, const json::value& doc, const Lookup& lookup,
                    Errors* errors) {
  const json::object& o = doc.get_object();
  if (kind.kind == "Secret") return CheckSecret(o, errors);
  const json::object* spec = ObjectAt(o, "spec");
  if (spec == nullptr) return;  // missing or not an object: the schema reports it
  if (kind.kind == "Agent") return CheckAgent(doc, *spec, lookup, errors);
  if (kind.kind == "Session") {
    CheckIdleTimeoutSyntax(*spec, errors);
    return CheckModels(*spec, errors);
  }
  if (kind.kind == "ModelProvider" && spec->contains("apiKeySecretRef") &&
      spec->contains("apiKeyEnv")) {
    return Add(errors, "spec.apiKeyEnv", "set only one of apiKeySecretRef and apiKeyEnv");
  }
  if (kind.kind == "Skill") return CheckSkill(*spec, errors);
  if (kind.kind == "PaiFile") return CheckBase64(*spec, "data", "spec", errors);
  if (kind.kind == "GuardBinding") return CheckGuardBinding(*spec, errors);
  if (kind.kind == "PaiAccessToken") return CheckAccessToken(*spec, errors);
}

// The kind by its exact name (plurals and CLI names are not kinds); reports kind / apiVersion.
const KindInfo* CheckKind(const json::object& doc, Errors* errors) {
  auto kind_name = StringAt(doc, "kind");
  const KindInfo* kind = nullptr;
  if (kind_name) {
    for (const KindInfo& k : Kinds()) {
      if (k.kind == *kind_name || (*kind_name == "AgentWorkload" && k.kind == "Agent")) kind = &k;
    }
  }
  if (kind == nullptr) {
    std::string known;
    for (const KindInfo& k : Kinds()) pai::StrAppend(&known, known.empty() ? "" : ", ", k.kind);
    Add(errors, "kind",
        kind_name ? pai::StrCat("unknown kind \"", *kind_name, "\" (expected one of ", known,
                                ", or the legacy AgentWorkload)")
                  : std::string("required field is missing"));
    return nullptr;
  }
  auto api = StringAt(doc, "apiVersion");
  if (!api) {
    Add(errors, "apiVersion", "required field is missing");
  } else if (*api != kind->api_version) {
    Add(errors, "apiVersion",
        pai::StrCat("must be \"", kind->api_version, "\" for ", *kind_name, " (got \"", *api,
                    "\")"));
  }
  return kind;
}

bool Covers(std::string_view outer, std::string_view field) {
  if (field.size() < outer.size() || field.substr(0, outer.size()) != outer) return false;
  return field.size() == outer.size() || field[outer.size()] == '.' || field[outer.size()] == '[';
}

std::vector<FieldError> ValidateOrThrow(const json::value& doc, const Lookup& lookup) {
  if (!doc.is_object()) {
    return {{"", "expected an object (a resource with apiVersion, kind, metadata)"}};
  }
  Errors errors;
  const KindInfo* kind = CheckKind(doc.get_object(), &errors);
  if (kind == nullptr) return errors;
  CheckMetadata(doc.get_object(), &errors);
  CheckKindRules(*kind, doc, lookup, &errors);
  // The schema of AgentWorkload is Agent's (it includes the legacy fields).
  json::value schema_doc = doc;
  json::object& o = schema_doc.get_object();
  o["kind"] = kind->kind;
  o["apiVersion"] = kind->api_version;  // a wrong one is reported above
  const size_t hand_written = errors.size();
  for (FieldError& e : internal::SchemaErrors(kind->kind, schema_doc)) {
    const bool covered = std::any_of(errors.begin(), errors.begin() + hand_written,
                                     [&](const FieldError& h) { return Covers(h.field, e.field); });
    if (!covered) errors.push_back(std::move(e));
  }
  return errors;
}

}  // namespace

std::vector<FieldError> Validate(const boost::json::value& doc, const Lookup& lookup) {
  // Only allocation failures or a throwing Lookup can get here; callers get an error, not a throw.
  try {
    return ValidateOrThrow(doc, lookup);
  } catch (const std::exception& e) {
    return {{"", pai::StrCat("validation failed: ", e.what())}};
  }
}

}  // namespace pai::resource
