// The `pai` verbs, wired into CLI11. Each Register*() adds its subcommands to `app`; a parsed
// subcommand stores its work in `cli.action`, which main() runs after parsing (so parse errors
// and work errors print the same way: one "pai: <message>" line on stderr).
//
// Thread safety: single-threaded, as the CLI is.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "boost/json/value.hpp"
#include "cli/pai/client.h"
#include "cli/pai/config.h"

namespace pai::cli {

inline constexpr char kVersion[] = "0.2.0";

struct Globals {
  std::string ns;  // -n/--namespace
};

struct Cli {
  Globals globals;
  std::function<absl::Status()> action;
};

// Register*(): the verb groups.
void RegisterAuthCommands(CLI::App& app, Cli& cli);      // login logout context config
void RegisterResourceCommands(CLI::App& app, Cli& cli);  // create apply get delete
void RegisterPlatformCommands(CLI::App& app, Cli& cli);  // eval audit admin migrate-agents
                                                         // version, runtime verbs
void RegisterSessionCommands(CLI::App& app, Cli& cli);   // run chat logs exec cp

// --- shared by the command files ---

// Conn: the current context, ready to call.
struct Conn {
  Config cfg;
  Context ctx;
  std::string ns;  // resolved (ResolveNamespace)
  std::unique_ptr<Client> client;
};

// Connect() loads the config and opens a client on its current context. Errors:
// FailedPrecondition "not logged in (run pai login <url>)".
absl::StatusOr<Conn> Connect(const Globals& g);

// Silent() is the status of a command that already printed why it failed: main() exits 1
// without another line.
absl::Status Silent();
bool IsSilent(const absl::Status& s);

// ExitWith() is the status of a command that exits with `code` (pai exec: the remote
// command's status; 130 after Ctrl-C) without printing anything more; ExitCodeOf() reads it.
absl::Status ExitWith(int code);
std::optional<int> ExitCodeOf(const absl::Status& s);

// PrintStructured() prints `v` as pretty JSON ("json") or YAML ("yaml").
void PrintStructured(const std::string& format, const boost::json::value& v);

// ReadSecretLine() reads one line from stdin; when stdin is a terminal it prints `prompt` on
// stderr first and turns echo off while reading. Errors: empty input.
absl::StatusOr<std::string> ReadSecretLine(const std::string& prompt, const std::string& what);

// ReadInput() reads a file, or stdin for "-".
absl::StatusOr<std::string> ReadInput(const std::string& path);

// NotFoundAs() rewrites a NotFound status as `<kind> "<name>" not found`; others pass.
absl::Status NotFoundAs(const absl::Status& s, const std::string& kind, const std::string& name);

// AddOutputOption() adds `-o,--output json|yaml` to `sub`.
void AddOutputOption(CLI::App* sub, std::string* out);

// NowSeconds() is the current Unix time.
int64_t NowSeconds();

}  // namespace pai::cli
