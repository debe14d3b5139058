// What `pai` prints for API objects: resource tables per kind, the audit table, eval layouts,
// metrics, access tokens. Pure functions of the JSON the server returned and of `now` (Unix
// seconds), so the output is deterministic and unit-testable.
//
// Thread safety: every function is pure.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "boost/json/array.hpp"
#include "boost/json/object.hpp"
#include "boost/json/value.hpp"
#include "cli/pai/table.h"

namespace pai::cli {

// At() follows object members; null when a step is missing or not an object.
const boost::json::value* At(const boost::json::value& v,
                             std::initializer_list<std::string_view> path);
// StrAt() is the string at `path` ("" when absent or not a string).
std::string StrAt(const boost::json::value& v, std::initializer_list<std::string_view> path);
// IntAt() is the integer at `path` (a double is truncated); nullopt when absent.
std::optional<int64_t> IntAt(const boost::json::value& v,
                             std::initializer_list<std::string_view> path);
// NumAt() is the number at `path` as a double; nullopt when absent.
std::optional<double> NumAt(const boost::json::value& v,
                            std::initializer_list<std::string_view> path);
// ScalarText() renders a scalar ("" for null, strings bare, numbers and booleans as JSON).
std::string ScalarText(const boost::json::value& v);

// DisplayKind() is the singular CLI name of a kind, as printed in "agent/coder created":
// Agent → agent, ModelProvider → model-provider, GuardBinding → guard-binding, PaiFile →
// paifile, PaiAccessToken → token; any other kind lower-cased.
std::string DisplayKind(std::string_view kind);

// AgentType() is "service" (spec.longRunning, or legacy spec.type service), "task" (legacy
// spec.type task) or "" (a session-spawning template).
std::string AgentType(const boost::json::value& agent);

// ResourceTable() is the `pai get` table of `items` (objects of `kind`: "Agent", "Session",
// "ModelProvider", "Provider", "Secret", "Skill", "GuardBinding", "Eval", "PaiFile",
// "PaiAccessToken"; anything else gets NAME AGE). With `with_namespace`, a NAMESPACE column
// comes first.
Table ResourceTable(std::string_view kind, const std::vector<boost::json::value>& items,
                    int64_t now, bool with_namespace);

// AgentsTable() is `pai get agents`: the Agents' rows (ResourceTable("Agent")), then one
// `task` row per Session (the seeds' task agents): PHASE as STATUS, the Session's model (else
// its Agent's primary model, looked up in `definitions`, default `agents`), status.tokensUsed
// as TOKENS/DAY, its task as URL / TASK.
Table AgentsTable(const std::vector<boost::json::value>& agents,
                  const std::vector<boost::json::value>& sessions, int64_t now, bool with_namespace,
                  const std::vector<boost::json::value>* definitions = nullptr);

// AuditDetail() is the DETAIL cell of one gateway audit record (docs/audit.md), e.g.
// "coder claude-sonnet-4-6 in=1460 out=94 2683ms" for LLM_CALL.
std::string AuditDetail(const boost::json::value& record);

// AuditTable() renders records (oldest first) as
//   "  #   TIMESTAMP             EVENT                     DETAIL"
// with # the 0-based presentation order and TIMESTAMP "2026-04-14 14:18:30" (UTC).
std::string AuditTable(const boost::json::array& records);

// EvalList() is `pai eval list`: "  Evals", a blank line, the table, a 75-column rule of "─" under
// the header.
std::string EvalList(const std::vector<boost::json::value>& evals);
// EvalGet() is `pai eval get NAME`: a "  NAME  eval" title, key-value lines, then the
// "Fixture results:" table.
std::string EvalGet(const boost::json::value& eval);

// MetricsView() is `pai get metrics`: per agent and model, a blank line, then per agent today.
std::string MetricsView(const boost::json::value& metrics, bool with_namespace);

// TokenStatus() is "revoked" (status.revokedAt set), "expired" (spec.expiresAt not after
// `now`) or "active".
std::string TokenStatus(const boost::json::value& token, int64_t now);

// EnvList() is `pai config list-env`: a comment line, then "KEY = value" sorted by key.
std::string EnvList(const boost::json::object& env);

// MigrateView() renders the migrate-agents answer: "agent/NAME: <change>" lines, then
// "(dry run: nothing written)" when `dry_run`; "no legacy Agents" when nothing changed.
std::string MigrateView(const boost::json::value& answer, bool dry_run);

}  // namespace pai::cli
