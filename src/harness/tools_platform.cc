// Tools that need the platform: web_search, send_email and screenshot (each needs a provider
// the Session may not have) and register_file (asks the runtime to publish a PaiFile version).
#include <system_error>

#include "harness/tools_internal.h"
#include "harness/util.h"

namespace pai::harness {
namespace {

namespace fs = std::filesystem;

constexpr std::chrono::seconds kRegisterTimeout{30};

class ProviderTool : public Tool {
 public:
  explicit ProviderTool(std::string_view name) : name_(name) {}
  std::string_view name() const override { return name_; }
  std::string_view description() const override {
    if (name_ == "web_search") return "Search the web and return result titles, URLs and snippets.";
    if (name_ == "send_email") return "Send an email from the Session's email provider.";
    return "Take a screenshot of a web page.";
  }
  boost::json::object Parameters() const override {
    if (name_ == "web_search") {
      return ObjectSchema({{"query", Prop("string", "The search query.")}}, {"query"});
    }
    if (name_ == "send_email") {
      return ObjectSchema({{"to", Prop("string", "Recipient address.")},
                           {"subject", Prop("string", "Subject line.")},
                           {"body", Prop("string", "Plain-text body.")}},
                          {"to", "subject", "body"});
    }
    return ObjectSchema({{"url", Prop("string", "The page to capture.")}}, {"url"});
  }
  ToolResult Run(const boost::json::object&, ToolContext& ctx) override {
    auto it = ctx.config->providers.find(name_);
    if (it == ctx.config->providers.end() || !it->second) {
      return ToolError(name_ + " is not configured: no provider for it in this Session");
    }
    return ToolError(name_ + " is not available in this version of the harness");
  }

 private:
  std::string name_;
};

class RegisterFileTool : public Tool {
 public:
  std::string_view name() const override { return "register_file"; }
  std::string_view description() const override {
    return "Publish a file of the workspace as a new version of a PaiFile resource (for "
           "example a mounted file you edited), so that other Agents and later Sessions see it.";
  }
  boost::json::object Parameters() const override {
    return ObjectSchema({{"file", Prop("string", "Name of the PaiFile resource.")},
                         {"path", Prop("string",
                                       "The file to publish, relative to the workspace unless "
                                       "absolute.")}},
                        {"file", "path"});
  }
  ToolResult Run(const boost::json::object& input, ToolContext& ctx) override {
    PAI_TOOL_ARG(file, RequireString(input, "file"));
    PAI_TOOL_ARG(path, RequireString(input, "path"));
    if (file.empty()) return ToolError("register_file: 'file' must not be empty");
    const fs::path p = ctx.Resolve(path);
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) {
      return ToolError("register_file: " + path + " is not a regular file");
    }
    if (ctx.control == nullptr) return ToolError("register_file: no runtime to talk to");
    auto version = ctx.control->RegisterFile(file, p.string(), kRegisterTimeout, *ctx.cancel);
    if (!version.ok()) {
      return ToolError("register_file: " + std::string(version.status().message()));
    }
    return ToolResult{
        "Registered " + path + " as version " + std::to_string(*version) + " of file " + file,
        false};
  }
};

}  // namespace

std::unique_ptr<Tool> MakeProviderTool(std::string_view name) {
  return std::make_unique<ProviderTool>(name);
}
std::unique_ptr<Tool> MakeRegisterFileTool() { return std::make_unique<RegisterFileTool>(); }

}  // namespace pai::harness
