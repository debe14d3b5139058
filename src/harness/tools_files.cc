// read, write, edit: the file tools. Paths are relative to the workspace unless absolute.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <system_error>

#include "harness/tools_internal.h"
#include "harness/util.h"

namespace pai::harness {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDefaultReadLines = 2000;
constexpr size_t kMaxLineChars = 2000;
constexpr size_t kBinaryProbe = 8192;

// ReadWhole() loads a regular file; errors name the path as the model wrote it.
absl::StatusOr<std::string> ReadWhole(const fs::path& p, std::string_view shown) {
  std::error_code ec;
  const fs::file_status st = fs::status(p, ec);
  if (ec || !fs::exists(st)) {
    return absl::NotFoundError(std::string(shown) + " does not exist");
  }
  if (fs::is_directory(st)) {
    return absl::FailedPreconditionError(std::string(shown) +
                                         " is a directory (use glob to list files)");
  }
  std::ifstream in(p, std::ios::binary);
  if (!in) return absl::PermissionDeniedError("cannot open " + std::string(shown));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool LooksBinary(std::string_view data) {
  return data.substr(0, kBinaryProbe).find('\0') != std::string_view::npos;
}

absl::Status WriteWhole(const fs::path& p, std::string_view content, std::string_view shown) {
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    return absl::FailedPreconditionError(std::string(shown) + " is a directory");
  }
  if (p.has_parent_path()) {
    fs::create_directories(p.parent_path(), ec);
    if (ec) {
      return absl::PermissionDeniedError("cannot create the directories of " + std::string(shown) +
                                         ": " + ec.message());
    }
  }
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  if (!out) return absl::PermissionDeniedError("cannot write " + std::string(shown));
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) return absl::InternalError("writing " + std::string(shown) + " failed");
  return absl::OkStatus();
}

class ReadTool : public Tool {
 public:
  std::string_view name() const override { return "read"; }
  std::string_view description() const override {
    return "Read a text file. Lines are numbered like `cat -n` (1-based). Use offset and limit "
           "to page through long files. Binary files are refused.";
  }
  boost::json::object Parameters() const override {
    return ObjectSchema(
        {{"path", Prop("string", "File path, relative to the workspace unless absolute.")},
         {"offset", Prop("integer", "First line to return, 1-based (default 1).")},
         {"limit", Prop("integer", "How many lines to return (default 2000).")}},
        {"path"});
  }

  ToolResult Run(const boost::json::object& input, ToolContext& ctx) override {
    PAI_TOOL_ARG(path, RequireString(input, "path"));
    PAI_TOOL_ARG(offset_arg, GetInt(input, "offset"));
    PAI_TOOL_ARG(limit_arg, GetInt(input, "limit"));
    const int64_t offset = std::max<int64_t>(1, offset_arg.value_or(1));
    const int64_t limit = std::max<int64_t>(1, limit_arg.value_or(kDefaultReadLines));
    auto data = ReadWhole(ctx.Resolve(path), path);
    if (!data.ok()) return ArgError(name(), data.status());
    if (LooksBinary(*data)) {
      return ToolError("read: " + path + " is a binary file (" + std::to_string(data->size()) +
                       " bytes); use bash (e.g. xxd, file) to inspect it");
    }
    if (data->empty()) return ToolResult{"(" + path + " is empty)", false};
    const size_t cap = ctx.output_cap();
    std::string out;
    std::string_view rest = *data;
    int64_t line_no = 0;
    int64_t shown = 0;
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      ++line_no;
      if (line_no < offset) continue;
      if (shown == limit) {
        out += "[more lines follow: continue with offset=" + std::to_string(line_no) + "]\n";
        return ToolResult{std::move(out), false};
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      char num[32];
      std::snprintf(num, sizeof num, "%6lld\t", static_cast<long long>(line_no));
      std::string entry = num;
      if (line.size() > kMaxLineChars) {
        entry.append(line.substr(0, kMaxLineChars));
        entry += " [line cut at " + std::to_string(kMaxLineChars) + " characters]";
      } else {
        entry.append(line);
      }
      entry.push_back('\n');
      if (out.size() + entry.size() > cap && shown > 0) {
        out += "[output capped at " + std::to_string(cap) +
               " bytes: continue with offset=" + std::to_string(line_no) + "]\n";
        return ToolResult{std::move(out), false};
      }
      out += entry;
      ++shown;
    }
    if (shown == 0) {
      return ToolError("read: " + path + " has " + std::to_string(line_no) + " lines; offset " +
                       std::to_string(offset) + " is past the end");
    }
    return ToolResult{std::move(out), false};
  }
};

class WriteTool : public Tool {
 public:
  std::string_view name() const override { return "write"; }
  std::string_view description() const override {
    return "Create or overwrite a file with the given content. Missing parent directories are "
           "created.";
  }
  boost::json::object Parameters() const override {
    return ObjectSchema(
        {{"path", Prop("string", "File path, relative to the workspace unless absolute.")},
         {"content", Prop("string", "The complete new content of the file.")}},
        {"path", "content"});
  }

  ToolResult Run(const boost::json::object& input, ToolContext& ctx) override {
    PAI_TOOL_ARG(path, RequireString(input, "path"));
    PAI_TOOL_ARG(content, RequireString(input, "content"));
    if (path.empty()) return ToolError("write: 'path' must not be empty");
    if (absl::Status s = WriteWhole(ctx.Resolve(path), content, path); !s.ok()) {
      return ArgError(name(), s);
    }
    return ToolResult{"Wrote " + std::to_string(content.size()) + " bytes to " + path, false};
  }
};

class EditTool : public Tool {
 public:
  std::string_view name() const override { return "edit"; }
  std::string_view description() const override {
    return "Replace exact text in a file. old_string must occur exactly once (include enough "
           "surrounding lines to make it unique) unless replace_all is true. Whitespace and "
           "indentation must match exactly. Read the file first.";
  }
  boost::json::object Parameters() const override {
    return ObjectSchema(
        {{"path", Prop("string", "File path, relative to the workspace unless absolute.")},
         {"old_string", Prop("string", "The exact text to replace.")},
         {"new_string", Prop("string", "The replacement text.")},
         {"replace_all", Prop("boolean", "Replace every occurrence (default false).")}},
        {"path", "old_string", "new_string"});
  }

  ToolResult Run(const boost::json::object& input, ToolContext& ctx) override {
    PAI_TOOL_ARG(path, RequireString(input, "path"));
    PAI_TOOL_ARG(old_s, RequireString(input, "old_string"));
    PAI_TOOL_ARG(new_s, RequireString(input, "new_string"));
    PAI_TOOL_ARG(all, GetBool(input, "replace_all"));
    if (old_s.empty()) {
      return ToolError("edit: old_string must not be empty (use write to create a file)");
    }
    if (old_s == new_s) return ToolError("edit: old_string and new_string are the same");
    const fs::path p = ctx.Resolve(path);
    auto data = ReadWhole(p, path);
    if (!data.ok()) return ArgError(name(), data.status());
    size_t count = 0;
    for (size_t pos = data->find(old_s); pos != std::string::npos;
         pos = data->find(old_s, pos + old_s.size())) {
      ++count;
    }
    if (count == 0) {
      return ToolError("edit: old_string was not found in " + path +
                       " (it must match exactly, including whitespace)");
    }
    if (count > 1 && !all.value_or(false)) {
      return ToolError("edit: old_string occurs " + std::to_string(count) + " times in " + path +
                       "; include more surrounding text to make it unique, or set "
                       "replace_all to true");
    }
    std::string out;
    out.reserve(data->size());
    size_t from = 0;
    for (size_t pos = data->find(old_s); pos != std::string::npos; pos = data->find(old_s, from)) {
      out.append(*data, from, pos - from);
      out.append(new_s);
      from = pos + old_s.size();
    }
    out.append(*data, from, std::string::npos);
    if (absl::Status s = WriteWhole(p, out, path); !s.ok()) return ArgError(name(), s);
    return ToolResult{"Replaced " + std::to_string(count) +
                          (count == 1 ? " occurrence" : " occurrences") + " in " + path,
                      false};
  }
};

}  // namespace

std::unique_ptr<Tool> MakeReadTool() { return std::make_unique<ReadTool>(); }
std::unique_ptr<Tool> MakeWriteTool() { return std::make_unique<WriteTool>(); }
std::unique_ptr<Tool> MakeEditTool() { return std::make_unique<EditTool>(); }

}  // namespace pai::harness
