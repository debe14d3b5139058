// The tools the harness offers the model, and the ToolBox that holds the Session's set.
//
// Each tool is described to the model in OpenAI's function format
// ({"type":"function","function":{"name","description","parameters": <JSON schema>}}) and run
// with the decoded `arguments` object. A tool never throws to its caller and never ends the
// loop: bad arguments, missing files, timeouts all come back as `is_error` results the model
// reads (docs/harness.md lists each tool's parameters, bounds and errors).
//
// Thread safety: tools are stateless; Run() may be called from one thread at a time per
// ToolContext. The context's cancel token may be cancelled from any thread.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/cancel.h"
#include "harness/config.h"
#include "harness/protocol.h"

namespace pai::harness {

struct ToolResult {
  std::string text;
  bool is_error = false;
};

inline ToolResult ToolError(std::string text) { return ToolResult{std::move(text), true}; }

struct ToolContext {
  const SessionConfig* config = nullptr;
  std::filesystem::path workspace;    // relative paths resolve here
  CancelToken* cancel = nullptr;      // the turn's token
  ControlChannel* control = nullptr;  // register_file's way to the runtime
  size_t output_cap() const { return static_cast<size_t>(config->limits.tool_output_bytes); }
  // Resolve() makes `path` absolute against the workspace ("" → the workspace).
  std::filesystem::path Resolve(std::string_view path) const;
  // Display() shows `p` relative to the workspace when inside it, absolute otherwise.
  std::string Display(const std::filesystem::path& p) const;
};

class Tool {
 public:
  virtual ~Tool() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view description() const = 0;
  // Parameters() is the JSON schema of the arguments object.
  virtual boost::json::object Parameters() const = 0;
  // Run() executes the call. `input` is the decoded arguments object.
  virtual ToolResult Run(const boost::json::object& input, ToolContext& ctx) = 0;
};

// MakeBuiltinTool() returns the tool named `name` (one of kBuiltinTools), or null.
std::unique_ptr<Tool> MakeBuiltinTool(std::string_view name);

// ToolBox is the Session's tool set: enabled built-ins plus custom (caller-executed) tools.
class ToolBox {
 public:
  explicit ToolBox(const SessionConfig& config);

  // OpenAISchema() is the request's `tools` array (empty when there are none).
  boost::json::array OpenAISchema() const;
  bool IsCustom(std::string_view name) const;
  bool Has(std::string_view name) const;

  // Execute() decodes `arguments` (JSON text; "" means {}) and runs built-in `name`, turning
  // every failure (unknown tool, bad JSON, exceptions) into an error result.
  ToolResult Execute(std::string_view name, std::string_view arguments, ToolContext& ctx) const;

 private:
  std::vector<std::unique_ptr<Tool>> builtins_;
  std::vector<CustomToolSpec> custom_;
};

// Schema helpers for tool definitions.
boost::json::object ObjectSchema(boost::json::object properties,
                                 std::initializer_list<std::string_view> required);
boost::json::object Prop(std::string_view type, std::string_view description);

// DecodeArguments() parses a tool call's `arguments` JSON text ("" or blanks → {}); errors:
// InvalidArgument when it is not JSON or not an object.
absl::StatusOr<boost::json::object> DecodeArguments(std::string_view arguments);

}  // namespace pai::harness
