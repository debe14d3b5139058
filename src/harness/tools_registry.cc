#include "harness/tools_internal.h"

namespace pai::harness {

ToolResult ArgError(std::string_view tool, const absl::Status& status) {
  return ToolError(std::string(tool) + ": " + std::string(status.message()));
}

std::unique_ptr<Tool> MakeBuiltinTool(std::string_view name) {
  if (name == "bash") return MakeBashTool();
  if (name == "read") return MakeReadTool();
  if (name == "write") return MakeWriteTool();
  if (name == "edit") return MakeEditTool();
  if (name == "glob") return MakeGlobTool();
  if (name == "grep") return MakeGrepTool();
  if (name == "web_fetch") return MakeWebFetchTool();
  if (name == "web_search" || name == "send_email" || name == "screenshot") {
    return MakeProviderTool(name);
  }
  if (name == "register_file") return MakeRegisterFileTool();
  return nullptr;
}

}  // namespace pai::harness
