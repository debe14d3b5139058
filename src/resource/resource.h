// Pai resources as the control plane and the `pai` CLI see them: the kind table, YAML → JSON
// conversion (YAML 1.1 scalars as Kubernetes reads them), validation against the OpenAPI v3
// schema of each kind (schemas/<kind>.yaml, embedded at build time) plus the cross-field rules,
// and the legacy (AgentWorkload / v1) mapping table shared by `apply` and `migrate-agents`.
//
// Shapes follow Kubernetes' API conventions (apiVersion, kind, metadata, spec, status) and the
// product documents (shared/seeds: agent-resource.txt, agentworkload-resource-v1.txt,
// cli-reference.txt). Reference: docs/resources.md.
//
// Thread safety: every function here is pure or reads immutable tables; safe from any thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/json/value.hpp"

namespace pai::resource {

inline constexpr std::string_view kApiVersion = "pai.io/v1";
inline constexpr std::string_view kGroup = "pai.io";

// KindInfo: one resource kind.
struct KindInfo {
  std::string_view kind;         // "Agent"
  std::string_view api_version;  // "pai.io/v1"; "v1" for Secret
  std::string_view plural;       // "agents" (the URL segment)
  // Names the CLI accepts for the type argument of get/delete (singular, plural, aliases),
  // e.g. {"agent", "agents"}; {"model-provider", "model-providers", "modelprovider", ...}.
  std::vector<std::string_view> cli_names;
  bool namespaced = true;  // PaiAccessToken is cluster-scoped
};

// Kinds() lists every kind the server stores: Agent, Session, ModelProvider, Provider, Secret,
// Skill, PaiFile, GuardBinding, Eval, PaiAccessToken.
const std::vector<KindInfo>& Kinds();
// FindKind() by kind name ("Agent"; "AgentWorkload" maps to Agent's entry), by plural
// ("agents") or by any cli name ("model-provider"). Null when unknown.
const KindInfo* FindKind(std::string_view name);

// CustomResourceDefinitions() are the CRDs (apiextensions.k8s.io/v1) of every pai.io kind,
// generated from the same embedded schemas Validate() uses, so that the two cannot drift
// (docs/kubernetes.md, "CRDs"): group pai.io, version v1 served and stored, the kind's schema
// as openAPIV3Schema with `metadata` reduced to `type: object` (the API server allows no more
// there), the `status` subresource for kinds whose schema has a status, scope Namespaced
// (Cluster for PaiAccessToken), names from the kind table. The core v1 Secret has none.
// Errors: Internal when an embedded schema does not parse.
absl::StatusOr<std::vector<boost::json::value>> CustomResourceDefinitions();

// YamlToJson() parses a YAML stream (one or more `---` documents) into JSON values. Plain
// scalars are typed as YAML 1.1 / Kubernetes do: null (~, null, empty), booleans (true/false in
// any case), integers (decimal with `_` separators such as 1_000_000, 0x.., 0o..), floats
// (1.5, 1e3, .inf, .nan); quoted scalars stay strings. Empty documents are skipped.
// Errors: InvalidArgument "line L, column C: <reason>" (1-based) for syntax errors and for
// integers that do not fit int64.
absl::StatusOr<std::vector<boost::json::value>> YamlToJson(std::string_view yaml);

// JsonToYaml() renders a JSON value as block YAML (for `pai get -o yaml`); strings that would
// read back as another type are quoted.
std::string JsonToYaml(const boost::json::value& v);

// FieldError: a validation failure with the JSON path of the offending field in dotted form
// with indexes, e.g. "spec.guards[0].enforcement", and a one-line reason.
struct FieldError {
  std::string field;
  std::string message;
};

// Lookup: what validation may read from the store (the same namespace as the resource). Both
// may be null (then the rules that need them are skipped).
struct Lookup {
  // The `spec` of a GuardBinding by name, or nullopt when it does not exist.
  std::function<std::optional<boost::json::object>(std::string_view name)> guard_binding;
};

// Validate() checks `doc` (a whole resource: apiVersion, kind, metadata, spec ...) against the
// schema of its kind, then the cross-field rules of docs/resources.md ("Validation"):
// runAsUser 0, longRunning with triggers, harness custom without image, unknown harness / tool
// type / trigger kind, idleTimeout vs idleTimeoutMinutes, guard enforcement looser than the
// binding's, metadata.name/namespace syntax (DNS-1123 label). AgentWorkload documents are
// validated through their mapped Agent. Returns every error found (empty = valid).
std::vector<FieldError> Validate(const boost::json::value& doc, const Lookup& lookup);

// ModelAliasResolver: resolves a legacy modelBindings name ("gemini-flash") to a model reference
// "<modelprovider>/<model-id>" in the resource's namespace, or nullopt when it cannot.
using ModelAliasResolver = std::function<std::optional<std::string>(std::string_view name)>;

// LegacyMapping: the result of mapping a legacy Agent / AgentWorkload (docs/resources.md,
// "Legacy mapping" — the one table both `apply` and `migrate-agents` use).
struct LegacyMapping {
  boost::json::object spec;  // the Agent spec in the current shape
  // spec.type: task → the Session to create ({"agent": <template name>, "task": ...}); the
  // template Agent is `spec` (no type).
  std::optional<boost::json::object> session_spec;
  std::vector<std::string> notes;       // one line per field rewritten, for --dry-run output
  std::vector<std::string> unresolved;  // legacy names that did not resolve (status.message)
  bool changed = false;                 // false when the input had no legacy field
};

// IsDns1123Label(): lowercase alphanumerics and '-', 1..63, starting and ending alphanumeric
// (resource names; also what may name a host directory: no '/', no "..").
bool IsDns1123Label(std::string_view s);

// IsLegacy() is true for kind AgentWorkload and for Agents with any legacy field
// (modelBindings, type, agentDefinition, schedule, webhook, conversational, mcpServers,
// managedAgentDefinitions, or image without harness).
bool IsLegacy(const boost::json::value& doc);

// MapLegacy() maps a legacy document's spec to the current Agent shape.
LegacyMapping MapLegacy(const boost::json::value& doc, const ModelAliasResolver& resolve);

// ModelAlias: what a built-in legacy model alias names: the model family (a ModelProvider's
// spec.provider: "gemini", "anthropic", "openai") and the model id. The server turns it into
// "<modelprovider>/<model-id>" with the namespace's unique ModelProvider of that family.
struct ModelAlias {
  std::string_view provider_kind;  // "gemini"
  std::string_view model_id;       // "gemini-2.5-flash"
};

// DefaultModelAlias() looks a legacy modelBindings name up in the built-in alias table
// (docs/resources.md, "Legacy mapping"): gemini-flash, gemini-pro, claude-sonnet, claude-haiku,
// claude-opus, gpt-4o, gpt-4o-mini, gpt-4.1, o3. nullopt for other names.
std::optional<ModelAlias> DefaultModelAlias(std::string_view name);

// SchemaYaml() is the embedded OpenAPI v3 schema (schemas/<kind>.yaml) of a kind ("Agent"), for
// CRD generation and `pai explain`; nullopt for an unknown kind.
std::optional<std::string_view> SchemaYaml(std::string_view kind);

// SchemaLoadError() is "" when the embedded schema of `kind` parses (YAML, translation to JSON
// Schema, valijson), else why not. For tests and start-up checks.
std::string SchemaLoadError(std::string_view kind);

// ParseDuration() reads "15m", "1h", "90s", "1h30m" (Go-style, as idleTimeout is written) into
// seconds. nullopt on malformed input.
std::optional<int64_t> ParseDurationSeconds(std::string_view text);

}  // namespace pai::resource
