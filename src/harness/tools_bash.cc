// bash: runs a command with /bin/bash -c in the workspace (see subprocess.h for the process
// handling).
#include <algorithm>

#include "harness/subprocess.h"
#include "harness/tools_internal.h"
#include "harness/util.h"

namespace pai::harness {
namespace {

constexpr int64_t kMaxTimeoutSeconds = 600;

class BashTool : public Tool {
 public:
  std::string_view name() const override { return "bash"; }
  std::string_view description() const override {
    return "Run a shell command with /bin/bash -c in the workspace directory and return its "
           "combined stdout and stderr and its exit code. The command runs in its own process "
           "group with stdin from /dev/null; on timeout the whole group is killed. Long output "
           "keeps its beginning and its end. Commands left running in the background must "
           "redirect their output (cmd > log 2>&1 &).";
  }
  boost::json::object Parameters() const override {
    return ObjectSchema({{"command", Prop("string", "The command line, run by /bin/bash -c.")},
                         {"timeout_seconds",
                          Prop("integer",
                               "Kill the command after this many seconds (default: the Session's "
                               "tool timeout, at most 600).")}},
                        {"command"});
  }

  ToolResult Run(const boost::json::object& input, ToolContext& ctx) override {
    PAI_TOOL_ARG(command, RequireString(input, "command"));
    PAI_TOOL_ARG(timeout, GetInt(input, "timeout_seconds"));
    int64_t secs = timeout.value_or(ctx.config->limits.tool_timeout_seconds);
    secs = std::clamp<int64_t>(secs, 1, kMaxTimeoutSeconds);
    ProcessOptions opt;
    opt.argv = {"/bin/bash", "-c", command};
    opt.cwd = ctx.workspace.string();
    opt.timeout = std::chrono::seconds(secs);
    opt.output_cap = ctx.output_cap();
    auto r = RunProcess(opt, *ctx.cancel);
    if (!r.ok()) return ToolError("bash: " + std::string(r.status().message()));
    std::string text = r->output;
    if (r->output_bytes == 0) text = "(no output)";
    if (!text.empty() && text.back() != '\n') text.push_back('\n');
    if (r->timed_out) {
      text += "[timed out after " + std::to_string(secs) + " s: the process group was killed]";
    } else if (r->cancelled) {
      text += "[interrupted by the user: the process group was killed]";
    } else if (r->term_signal != 0) {
      text += "[killed by signal " + std::to_string(r->term_signal) + "]";
    } else {
      text += "[exit code " + std::to_string(r->exit_code) + "]";
    }
    return ToolResult{std::move(text), r->timed_out || r->cancelled || r->exit_code != 0};
  }
};

}  // namespace

std::unique_ptr<Tool> MakeBashTool() { return std::make_unique<BashTool>(); }

}  // namespace pai::harness
