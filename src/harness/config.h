// SessionConfig: the harness's view of /run/pai/session.json (docs/sessions.md, "Harness
// protocol"), parsed once at start-up.
//
// Shape read:
//   {"session": "ns/name", "agent": "coder", "system": "...", "models": ["m1", ...],
//    "task": "..." | null, "mode": "interactive" | "task",
//    "tools": [{"name": "bash"}, ..., {"name": "x", "type": "custom", "description": "...",
//              "input_schema": {...}}],
//    "providers": {"web_search": false, "send_email": false, "screenshot": false},
//    "limits": {"tool_timeout_seconds": 120, "tool_output_bytes": 32768,
//               "max_steps_per_turn": 50},
//    "workspace": "/workspace"}
// `tools` absent → every built-in; entries with "enabled": false are dropped; a built-in may be
// named by "name" or "type" (the Agent resource's spelling). Custom tools may spell the schema
// "input_schema" or "inputSchema".
//
// Thread safety: plain values, read-only after parsing.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace pai::harness {

// The built-in tool names, in the order they are offered to the model.
inline constexpr std::string_view kBuiltinTools[] = {
    "bash",      "read",       "write",      "edit",       "glob",         "grep",
    "web_fetch", "web_search", "send_email", "screenshot", "register_file"};

struct CustomToolSpec {
  std::string name;
  std::string description;
  boost::json::object input_schema;
};

struct Limits {
  int64_t tool_timeout_seconds = 120;  // default bash timeout; bash's maximum is 600
  int64_t tool_output_bytes = 32768;   // cap of one tool result's text
  int64_t max_steps_per_turn = 50;     // model calls in one turn
};

struct SessionConfig {
  std::string session;
  std::string agent;
  std::string system;
  std::vector<std::string> models;  // models[0] is requested; fallbacks are the gateway's job
  std::string task;                 // empty: no task turn
  bool task_mode = false;           // mode == "task": exit after the task turn
  std::vector<std::string> builtin_tools;  // enabled built-ins, known names only
  std::vector<CustomToolSpec> custom_tools;
  std::map<std::string, bool, std::less<>> providers;
  Limits limits;
  std::string workspace = "/workspace";
};

// ParseSessionConfig() reads the JSON text. Errors: InvalidArgument naming the offending field
// (models empty, a custom tool without name, wrong types, non-positive limits).
absl::StatusOr<SessionConfig> ParseSessionConfig(std::string_view json_text);

// LoadSessionConfig() reads and parses the file at `path` (NotFound / InvalidArgument).
absl::StatusOr<SessionConfig> LoadSessionConfig(const std::string& path);

}  // namespace pai::harness
