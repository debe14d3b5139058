// Factories of the built-in tools (one file per tool family) and helpers they share.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "harness/tool.h"

namespace pai::harness {

std::unique_ptr<Tool> MakeBashTool();
std::unique_ptr<Tool> MakeReadTool();
std::unique_ptr<Tool> MakeWriteTool();
std::unique_ptr<Tool> MakeEditTool();
std::unique_ptr<Tool> MakeGlobTool();
std::unique_ptr<Tool> MakeGrepTool();
std::unique_ptr<Tool> MakeWebFetchTool();
// web_search, send_email, screenshot: need a provider this version has none of.
std::unique_ptr<Tool> MakeProviderTool(std::string_view name);
std::unique_ptr<Tool> MakeRegisterFileTool();

// HtmlToText() renders HTML as plain text: script/style/comments dropped, block elements as line
// breaks, list items as "- ", common entities decoded, whitespace collapsed.
std::string HtmlToText(std::string_view html);

// ArgError() is the error result for an argument that failed to decode.
ToolResult ArgError(std::string_view tool, const absl::Status& status);

}  // namespace pai::harness

// PAI_TOOL_ARG(var, expr): `expr` is a StatusOr; on error the tool returns ArgError().
#define PAI_TOOL_ARG(var, expr)                                     \
  auto var##_or_ = (expr);                                          \
  if (!var##_or_.ok()) return ArgError(name(), var##_or_.status()); \
  auto var = std::move(*var##_or_)

namespace pai::harness {
// GlobMatch() matches a relative path against a glob: segments split on '/', `**` matches zero
// or more whole segments (never one starting with '.'), other segments follow fnmatch(3) with
// FNM_PERIOD (so `*` does not match a leading dot).
bool GlobMatch(std::string_view pattern, std::string_view path);
}  // namespace pai::harness
