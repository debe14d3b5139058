// The built-in tools, run through ToolBox as the loop runs them.
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include "harness/subprocess.h"
#include "harness/tool.h"
#include "harness/tools_internal.h"
#include "test_util.h"

namespace pai::harness {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using testing::ReadFile;
using testing::WriteFile;

class FakeControl : public ControlChannel {
 public:
  absl::StatusOr<int64_t> RegisterFile(const std::string& file, const std::string& path,
                                       std::chrono::milliseconds, CancelToken&) override {
    last_file = file;
    last_path = path;
    return 5;
  }
  std::string last_file, last_path;
};

struct Fixture {
  Fixture() : box(Config()) {
    ctx.config = &config;
    ctx.workspace = dir.path();
    ctx.cancel = &cancel;
    ctx.control = &control;
  }
  static SessionConfig Config() {
    auto c = ParseSessionConfig(R"({"models":["m"],"limits":{"tool_output_bytes":1000,
        "tool_timeout_seconds":5},"providers":{"screenshot":true}})");
    REQUIRE(c.ok());
    return *c;
  }
  ToolResult Run(std::string_view tool, const json::object& args) {
    return box.Execute(tool, json::serialize(args), ctx);
  }
  testing::TempDir dir;
  SessionConfig config = Config();
  ToolBox box;
  CancelToken cancel;
  FakeControl control;
  ToolContext ctx;
};

bool Contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

// ExitsSoon() is true when `pid` exits within `ms` (pidfd; no sleeping).
bool ExitsSoon(pid_t pid, int ms) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;
  pollfd p{fd, POLLIN, 0};
  const int r = ::poll(&p, 1, ms);
  ::close(fd);
  return r == 1;
}

TEST_CASE("the tool box offers every built-in in OpenAI function format") {
  Fixture f;
  json::array tools = f.box.OpenAISchema();
  REQUIRE(tools.size() == 11);
  const json::object& first = tools[0].as_object();
  CHECK(first.at("type") == "function");
  CHECK(first.at("function").at("name") == "bash");
  CHECK(first.at("function").at("parameters").at("required").as_array()[0] == "command");
}

TEST_CASE("bad arguments and unknown tools are error results") {
  Fixture f;
  ToolResult r = f.box.Execute("read", "{not json", f.ctx);
  CHECK(r.is_error);
  CHECK(Contains(r.text, "not valid JSON"));
  r = f.box.Execute("read", "{}", f.ctx);
  CHECK(r.is_error);
  CHECK(Contains(r.text, "'path' (string) is required"));
  r = f.box.Execute("read", R"({"path": 3})", f.ctx);
  CHECK(r.is_error);
  CHECK(Contains(r.text, "'path' must be a string"));
  r = f.box.Execute("nope", "{}", f.ctx);
  CHECK(r.is_error);
  CHECK(Contains(r.text, "unknown tool"));
}

TEST_CASE("bash returns output and exit code in the workspace") {
  Fixture f;
  ToolResult r = f.Run("bash", {{"command", "pwd; echo err >&2; exit 3"}});
  CHECK(r.is_error);
  CHECK(Contains(r.text, f.dir.path().string()));
  CHECK(Contains(r.text, "err\n"));
  CHECK(Contains(r.text, "[exit code 3]"));
  r = f.Run("bash", {{"command", "true"}});
  CHECK_FALSE(r.is_error);
  CHECK(r.text == "(no output)\n[exit code 0]");
}

TEST_CASE("bash timeout kills the whole process group") {
  Fixture f;
  const auto start = std::chrono::steady_clock::now();
  ToolResult r = f.Run("bash", {{"command", "sleep 30 & echo $!; wait"}, {"timeout_seconds", 1}});
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.is_error);
  CHECK(Contains(r.text, "timed out after 1 s"));
  CHECK(took < std::chrono::seconds(5));
  const pid_t sleeper = static_cast<pid_t>(std::stol(r.text));
  CHECK(ExitsSoon(sleeper, 5000));
}

TEST_CASE("bash output over the cap keeps head and tail") {
  Fixture f;  // tool_output_bytes = 1000
  ToolResult r = f.Run(
      "bash", {{"command", "echo START; head -c 100000 /dev/zero | tr '\\0' a; echo; echo END"}});
  CHECK_FALSE(r.is_error);
  CHECK(r.text.rfind("START\naaa", 0) == 0);
  CHECK(Contains(r.text, "bytes cut"));
  CHECK(Contains(r.text, "aaa\nEND\n[exit code 0]"));
  CHECK(r.text.size() < 1200);
}

TEST_CASE("capped output counts what it cut") {
  CappedOutput out(10);
  out.Append("0123456789abcdef");
  out.Append("XYZ");
  CHECK(out.total() == 19);
  CHECK(out.cut() == 9);
  CHECK(out.Render() == "01234\n[... 9 bytes cut (19 in all) ...]\nefXYZ");
  CappedOutput small(10);
  small.Append("abc");
  CHECK(small.Render() == "abc");
}

TEST_CASE("an interrupt kills a running command at once") {
  Fixture f;
  std::thread canceller;
  const fs::path fifo = f.dir.path() / "ready";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  canceller = std::thread([&] {
    // Opening the FIFO blocks until the command has started and opened it.
    std::string pid = ReadFile(fifo);
    f.cancel.Cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  ToolResult r = f.Run("bash", {{"command", "echo $$ > ready; sleep 30"}});
  canceller.join();
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  CHECK(r.is_error);
  CHECK(Contains(r.text, "interrupted"));
}

TEST_CASE("read numbers lines and pages with offset and limit") {
  Fixture f;
  WriteFile(f.dir.path() / "a.txt", "one\ntwo\nthree\n");
  ToolResult r = f.Run("read", {{"path", "a.txt"}});
  CHECK_FALSE(r.is_error);
  CHECK(r.text == "     1\tone\n     2\ttwo\n     3\tthree\n");
  r = f.Run("read", {{"path", "a.txt"}, {"offset", 2}, {"limit", 1}});
  CHECK(r.text == "     2\ttwo\n[more lines follow: continue with offset=3]\n");
  r = f.Run("read", {{"path", (f.dir.path() / "a.txt").string()}, {"offset", 9}});
  CHECK(r.is_error);
  CHECK(Contains(r.text, "past the end"));
}

TEST_CASE("read refuses binary files, directories and missing files") {
  Fixture f;
  WriteFile(f.dir.path() / "bin", std::string("ab\0cd", 5));
  ToolResult r = f.Run("read", {{"path", "bin"}});
  CHECK(r.is_error);
  CHECK(Contains(r.text, "binary file"));
  fs::create_directories(f.dir.path() / "d");
  r = f.Run("read", {{"path", "d"}});
  CHECK(r.is_error);
  CHECK(Contains(r.text, "is a directory"));
  r = f.Run("read", {{"path", "missing.txt"}});
  CHECK(r.is_error);
  CHECK(Contains(r.text, "missing.txt does not exist"));
}

TEST_CASE("read stops at the output cap and says where to continue") {
  Fixture f;  // cap 1000 bytes
  std::string big;
  for (int i = 0; i < 200; ++i) big += "line of some length " + std::to_string(i) + "\n";
  WriteFile(f.dir.path() / "big.txt", big);
  ToolResult r = f.Run("read", {{"path", "big.txt"}});
  CHECK_FALSE(r.is_error);
  CHECK(r.text.size() < 1200);
  CHECK(Contains(r.text, "[output capped at 1000 bytes: continue with offset="));
}

TEST_CASE("write creates parent directories") {
  Fixture f;
  ToolResult r = f.Run("write", {{"path", "x/y/z.txt"}, {"content", "hello"}});
  CHECK_FALSE(r.is_error);
  CHECK(r.text == "Wrote 5 bytes to x/y/z.txt");
  CHECK(ReadFile(f.dir.path() / "x/y/z.txt") == "hello");
}

TEST_CASE("edit replaces a unique match and explains ambiguous or missing ones") {
  Fixture f;
  WriteFile(f.dir.path() / "e.txt", "alpha beta\nbeta gamma\n");
  ToolResult r = f.Run("edit", {{"path", "e.txt"}, {"old_string", "beta"}, {"new_string", "B"}});
  CHECK(r.is_error);
  CHECK(Contains(r.text, "occurs 2 times"));
  r = f.Run("edit", {{"path", "e.txt"}, {"old_string", "delta"}, {"new_string", "D"}});
  CHECK(r.is_error);
  CHECK(Contains(r.text, "was not found"));
  r = f.Run("edit", {{"path", "e.txt"}, {"old_string", "alpha beta"}, {"new_string", "A"}});
  CHECK_FALSE(r.is_error);
  CHECK(ReadFile(f.dir.path() / "e.txt") == "A\nbeta gamma\n");
  r = f.Run("edit",
            {{"path", "e.txt"}, {"old_string", "a"}, {"new_string", "4"}, {"replace_all", true}});
  CHECK(r.text == "Replaced 3 occurrences in e.txt");
  CHECK(ReadFile(f.dir.path() / "e.txt") == "A\nbet4 g4mm4\n");
}

TEST_CASE("glob matches across directories with double star, sorted") {
  Fixture f;
  for (const char* p :
       {"src/a.cc", "src/sub/b.cc", "src/sub/c.h", "top.cc", ".hidden/d.cc", "src/.e.cc"}) {
    WriteFile(f.dir.path() / p, "x");
  }
  ToolResult r = f.Run("glob", {{"pattern", "**/*.cc"}});
  CHECK_FALSE(r.is_error);
  CHECK(r.text == "src/a.cc\nsrc/sub/b.cc\ntop.cc\n");
  r = f.Run("glob", {{"pattern", "*.h"}, {"path", "src/sub"}});
  CHECK(r.text == "src/sub/c.h\n");
  r = f.Run("glob", {{"pattern", "**/*.rs"}});
  CHECK(Contains(r.text, "No files match"));
  CHECK(GlobMatch("src/**/b.cc", "src/sub/b.cc"));
  CHECK(GlobMatch("src/**/a.cc", "src/a.cc"));
  CHECK_FALSE(GlobMatch("*.cc", "src/a.cc"));
  CHECK(GlobMatch(".hidden/*.cc", ".hidden/d.cc"));
}

TEST_CASE("grep finds lines with file and line number and skips binary files") {
  Fixture f;
  WriteFile(f.dir.path() / "src/a.py", "import os\nTODO: fix\n");
  WriteFile(f.dir.path() / "src/b.txt", "todo later\n");
  WriteFile(f.dir.path() / "bin.dat", std::string("TODO\0\1\2", 7));
  ToolResult r = f.Run("grep", {{"pattern", "TODO"}});
  CHECK_FALSE(r.is_error);
  CHECK(r.text == "src/a.py:2:TODO: fix\n");
  r = f.Run("grep", {{"pattern", "to+do"}, {"ignore_case", true}, {"glob", "*.txt"}});
  CHECK(r.text == "src/b.txt:1:todo later\n");
  r = f.Run("grep", {{"pattern", "nothing-here"}, {"path", "src"}});
  CHECK(r.text == "No matches");
  r = f.Run("grep", {{"pattern", "x"}, {"path", "nowhere"}});
  CHECK(r.is_error);
}

TEST_CASE("web_fetch returns status and HTML as text from a local server") {
  testing::HttpServer server([](const testing::HttpRequest& req) {
    testing::HttpResponse r;
    if (req.target == "/missing") {
      r.status = 404;
      r.content_type = "text/plain";
      r.body = "no such page";
      return r;
    }
    r.content_type = "text/html; charset=utf-8";
    r.body =
        "<html><head><style>p{}</style><script>var x=1;</script></head><body>"
        "<h1>Title</h1><p>Fish &amp; chips</p><ul><li>one</li><li>two</li></ul>"
        "</body></html>";
    return r;
  });
  Fixture f;
  ToolResult r = f.Run("web_fetch", {{"url", server.url() + "/page"}});
  CHECK_FALSE(r.is_error);
  CHECK(Contains(r.text, "HTTP 200"));
  INFO(r.text);
  CHECK(Contains(r.text, "\n\nTitle\n\nFish & chips\n\n- one\n- two"));
  CHECK_FALSE(Contains(r.text, "var x"));
  r = f.Run("web_fetch", {{"url", server.url() + "/missing"}});
  CHECK(r.is_error);
  CHECK(Contains(r.text, "HTTP 404"));
  CHECK(Contains(r.text, "no such page"));
  r = f.Run("web_fetch", {{"url", server.url() + "/page"}, {"max_bytes", 10}});
  CHECK(Contains(r.text, "download stopped at max_bytes=10"));
  r = f.Run("web_fetch", {{"url", "file:///etc/passwd"}});
  CHECK(r.is_error);
  CHECK(Contains(r.text, "only http:// and https://"));
}

TEST_CASE("tools without a provider say they are not configured") {
  Fixture f;  // providers: screenshot true
  ToolResult r = f.Run("web_search", {{"query", "x"}});
  CHECK(r.is_error);
  CHECK(r.text == "web_search is not configured: no provider for it in this Session");
  r = f.Run("send_email", {{"to", "a@b"}, {"subject", "s"}, {"body", "b"}});
  CHECK(r.text == "send_email is not configured: no provider for it in this Session");
  r = f.Run("screenshot", {{"url", "http://x"}});
  CHECK(r.is_error);
  CHECK(Contains(r.text, "not available in this version"));
}

TEST_CASE("register_file asks the runtime and names the version") {
  Fixture f;
  WriteFile(f.dir.path() / "data.csv", "a,b\n");
  ToolResult r = f.Run("register_file", {{"file", "customers"}, {"path", "data.csv"}});
  CHECK_FALSE(r.is_error);
  CHECK(r.text == "Registered data.csv as version 5 of file customers");
  CHECK(f.control.last_path == (f.dir.path() / "data.csv").string());
  r = f.Run("register_file", {{"file", "customers"}, {"path", "nope.csv"}});
  CHECK(r.is_error);
}

TEST_CASE("session config drops disabled tools and keeps custom ones") {
  auto c = ParseSessionConfig(R"({"models":["m1","m2"],"mode":"task","task":"t",
      "tools":[{"name":"bash"},{"type":"read"},{"name":"grep","enabled":false},
               {"name":"ask","type":"custom","description":"Ask","inputSchema":{"type":"object"}}]})");
  REQUIRE(c.ok());
  CHECK(c->builtin_tools == std::vector<std::string>{"bash", "read"});
  REQUIRE(c->custom_tools.size() == 1);
  CHECK(c->custom_tools[0].name == "ask");
  CHECK(c->task_mode);
  CHECK(c->workspace == "/workspace");
  CHECK_FALSE(ParseSessionConfig(R"({"models":[]})").ok());
  CHECK_FALSE(ParseSessionConfig(R"({"models":["m"],"limits":{"max_steps_per_turn":0}})").ok());
}

TEST_CASE("invalid UTF-8 in tool output is repaired") {
  Fixture f;
  ToolResult r = f.Run("bash", {{"command", "printf 'a\\xff\\xc3b'"}});
  CHECK(r.text.rfind("a\xEF\xBF\xBD\xEF\xBF\xBD"
                     "b",
                     0) == 0);
}

}  // namespace
}  // namespace pai::harness
