// glob and grep: finding files and text in the workspace.
#include <fnmatch.h>

#include <algorithm>
#include <system_error>
#include <vector>

#include "harness/subprocess.h"
#include "harness/tools_internal.h"
#include "harness/util.h"

namespace pai::harness {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxGlobResults = 1000;
constexpr size_t kMaxGlobVisits = 200000;
constexpr size_t kMaxGrepLine = 500;

std::vector<std::string> Split(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t slash = s.find('/', start);
    const std::string_view seg = s.substr(start, slash - start);
    if (!seg.empty() && seg != ".") out.emplace_back(seg);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

bool MatchSegments(const std::vector<std::string>& pat, size_t i,
                   const std::vector<std::string>& path, size_t j) {
  if (i == pat.size()) return j == path.size();
  if (pat[i] == "**") {
    if (MatchSegments(pat, i + 1, path, j)) return true;
    return j < path.size() && path[j].front() != '.' && MatchSegments(pat, i, path, j + 1);
  }
  if (j == path.size()) return false;
  if (::fnmatch(pat[i].c_str(), path[j].c_str(), FNM_PERIOD) != 0) return false;
  return MatchSegments(pat, i + 1, path, j + 1);
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view path) {
  return MatchSegments(Split(pattern), 0, Split(path), 0);
}

namespace {

class GlobTool : public Tool {
 public:
  std::string_view name() const override { return "glob"; }
  std::string_view description() const override {
    return "Find files by name pattern, e.g. \"**/*.cc\" or \"src/*.h\". `**` matches any "
           "number of directories; `*`, `?` and `[...]` match within one name; hidden names "
           "match only when the pattern spells the dot. Returns matching files, sorted, at "
           "most 1000.";
  }
  boost::json::object Parameters() const override {
    return ObjectSchema({{"pattern", Prop("string", "Glob pattern, relative to path.")},
                         {"path", Prop("string", "Directory to search (default: the workspace).")}},
                        {"pattern"});
  }

  ToolResult Run(const boost::json::object& input, ToolContext& ctx) override {
    PAI_TOOL_ARG(pattern, RequireString(input, "pattern"));
    PAI_TOOL_ARG(path, GetString(input, "path"));
    fs::path base = ctx.Resolve(path.value_or(""));
    std::string pat = pattern;
    if (!pat.empty() && pat.front() == '/') {
      base = "/";
      pat.erase(0, 1);
    }
    std::error_code ec;
    if (!fs::is_directory(base, ec)) {
      return ToolError("glob: " + path.value_or(base.string()) + " is not a directory");
    }
    std::vector<std::string> found;
    size_t visits = 0;
    bool stopped = false;
    fs::recursive_directory_iterator it(base, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (++visits > kMaxGlobVisits) {
        stopped = true;
        break;
      }
      const fs::directory_entry& e = *it;
      const std::string name = e.path().filename().string();
      std::error_code tec;
      if (e.is_directory(tec)) {
        if (name == ".git" || e.is_symlink(tec)) it.disable_recursion_pending();
        continue;
      }
      const std::string rel = e.path().lexically_relative(base).string();
      if (GlobMatch(pat, rel)) found.push_back(ctx.Display(e.path()));
    }
    std::sort(found.begin(), found.end());
    if (found.empty()) {
      return ToolResult{"No files match " + pattern + (stopped ? " (search stopped early)" : ""),
                        false};
    }
    std::string out;
    const size_t shown = std::min(found.size(), kMaxGlobResults);
    for (size_t i = 0; i < shown && out.size() < ctx.output_cap(); ++i) out += found[i] + "\n";
    if (shown < found.size()) {
      out += "[" + std::to_string(found.size() - shown) + " more files not shown]\n";
    }
    if (stopped) {
      out += "[search stopped after visiting " + std::to_string(kMaxGlobVisits) + " entries]\n";
    }
    return ToolResult{std::move(out), false};
  }
};

// ShortenLines() cuts lines longer than kMaxGrepLine characters (minified files).
std::string ShortenLines(std::string_view text) {
  std::string out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (line.size() > kMaxGrepLine) {
      out.append(line.substr(0, kMaxGrepLine));
      out += " [line cut]";
    } else {
      out.append(line);
    }
    if (nl == std::string_view::npos) break;
    out.push_back('\n');
    text.remove_prefix(nl + 1);
  }
  return out;
}

class GrepTool : public Tool {
 public:
  std::string_view name() const override { return "grep"; }
  std::string_view description() const override {
    return "Search file contents with a regular expression (POSIX extended syntax, as "
           "`grep -E`), recursively. Prints file:line:text for each match. Binary files and "
           ".git are skipped.";
  }
  boost::json::object Parameters() const override {
    return ObjectSchema(
        {{"pattern", Prop("string", "Extended regular expression.")},
         {"path", Prop("string", "File or directory to search (default: the workspace).")},
         {"glob", Prop("string", "Only search files whose name matches this glob, e.g. \"*.py\".")},
         {"ignore_case", Prop("boolean", "Case-insensitive match (default false).")}},
        {"pattern"});
  }

  ToolResult Run(const boost::json::object& input, ToolContext& ctx) override {
    PAI_TOOL_ARG(pattern, RequireString(input, "pattern"));
    PAI_TOOL_ARG(path, GetString(input, "path"));
    PAI_TOOL_ARG(glob, GetString(input, "glob"));
    PAI_TOOL_ARG(icase, GetBool(input, "ignore_case"));
    ProcessOptions opt;
    opt.argv = {"grep", "-rnEI", "--color=never", "--exclude-dir=.git"};
    if (icase.value_or(false)) opt.argv.push_back("-i");
    if (glob.has_value() && !glob->empty()) opt.argv.push_back("--include=" + *glob);
    opt.argv.push_back("-e");
    opt.argv.push_back(pattern);
    if (path.has_value() && !path->empty()) {
      std::error_code ec;
      if (!fs::exists(ctx.Resolve(*path), ec)) {
        return ToolError("grep: " + *path + " does not exist");
      }
      opt.argv.push_back("--");
      opt.argv.push_back(*path);
    }
    opt.cwd = ctx.workspace.string();
    opt.timeout = std::chrono::seconds(ctx.config->limits.tool_timeout_seconds);
    opt.output_cap = ctx.output_cap();
    auto r = RunProcess(opt, *ctx.cancel);
    if (!r.ok()) return ToolError("grep: " + std::string(r.status().message()));
    if (r->timed_out) return ToolError("grep: timed out\n" + ShortenLines(r->output));
    if (r->cancelled) return ToolError("grep: interrupted by the user");
    if (r->exit_code == 1) return ToolResult{"No matches", false};
    if (r->exit_code != 0 && r->output_bytes == 0) {
      return ToolError("grep failed with exit code " + std::to_string(r->exit_code));
    }
    // Exit 2 with output: matches plus messages about unreadable files or a bad pattern.
    return ToolResult{ShortenLines(r->output), r->exit_code == 2};
  }
};

}  // namespace

std::unique_ptr<Tool> MakeGlobTool() { return std::make_unique<GlobTool>(); }
std::unique_ptr<Tool> MakeGrepTool() { return std::make_unique<GrepTool>(); }

}  // namespace pai::harness
