// The input tokens of one tool definition, for the input upper bound (input_tokens.h).
//
// OpenAI renders function tools into the prompt as TypeScript-like declarations, not as their
// JSON: the only rendering it published is its open-weight models' (the harmony format, the
// gpt-oss chat template's `render_tool_namespace`):
//
//   // <description>
//   type <name> = (_: {
//   // <property description>
//   <property>?: <type>, // default: <default>
//   }) => any;
//
// and the cookbook's measured per-tool formula ("How to count tokens with tiktoken",
// num_tokens_for_tools) has the same parts. ToolTokens() counts that rendering of a function
// tool plus kToolSlack, and as JSON text whatever the declaration does not show: every
// property whose schema is not a plain type (nested objects, unions, arrays of objects, enums
// that are not strings, ...) whole, the other members of a plain property's schema (format,
// minimum, examples, ...) and of the parameters' schema ($defs, additionalProperties, ...);
// any other tool (not a function, or an unreadable one) as its JSON text plus kToolSlack.
//
// Thread safety: pure functions.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "tokenizer/tokenizer.h"

namespace pai::gateway {

// Per-tool slack over its rendering (token merges across the declaration's pieces).
inline constexpr int64_t kToolSlack = 3;

// RenderedTool: the harmony declaration of a function tool, and the JSON texts of the
// properties left out of it (counted whole).
struct RenderedTool {
  std::string declaration;
  std::string unrendered;  // JSON texts of the properties that are not plain types, with names
};

// RenderTool() renders a chat (`{"type":"function","function":{…}}`), Responses
// (`{"type":"function","name":…}`) or legacy `functions` entry; nullopt for any other tool.
std::optional<RenderedTool> RenderTool(const boost::json::value& tool);

// ToolTokens() is the bound above for one entry of `tools` / `functions`.
int64_t ToolTokens(const boost::json::value& tool, const tokenizer::Encoding& enc);

}  // namespace pai::gateway
