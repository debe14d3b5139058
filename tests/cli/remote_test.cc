#include "cli/pai/remote.h"

#include <catch2/catch.hpp>
#include <set>

namespace pai::cli {
namespace {

auto Exists(std::set<std::string> files) {
  return [files](const std::string& p) { return files.count(p) != 0; };
}

TEST_CASE("cp: NAME:PATH on one side decides the direction", "[cli]") {
  auto down = ParseCpArgs("my-agent:/workspace/output.json", "./output.json", Exists({}));
  REQUIRE(down.ok());
  CHECK(down->direction == CpArgs::Direction::kDownload);
  CHECK(down->name == "my-agent");
  CHECK(down->remote_path == "/workspace/output.json");
  CHECK(down->local_path == "./output.json");

  auto up = ParseCpArgs("./data.csv", "my-agent:/workspace/data.csv", Exists({}));
  REQUIRE(up.ok());
  CHECK(up->direction == CpArgs::Direction::kUpload);
  CHECK(up->name == "my-agent");
  CHECK(up->remote_path == "/workspace/data.csv");
  CHECK(up->local_path == "./data.csv");
}

TEST_CASE("cp: relative remote paths are under /workspace - a trailing slash takes the basename",
          "[cli]") {
  auto a = ParseCpArgs("s:out/x.txt", "x.txt", Exists({}));
  REQUIRE(a.ok());
  CHECK(a->remote_path == "/workspace/out/x.txt");
  auto b = ParseCpArgs("dir/data.csv", "s:/workspace/in/", Exists({}));
  REQUIRE(b.ok());
  CHECK(b->remote_path == "/workspace/in/data.csv");
  CHECK(!ParseCpArgs("s:/workspace/dir/", ".", Exists({})).ok());
}

TEST_CASE("cp: a colon after a slash, or an existing local file, stays local", "[cli]") {
  // "./a:b" has a '/' before its ':'; "a:b" exists locally.
  auto a = ParseCpArgs("./a:b", "s:/workspace/a", Exists({}));
  REQUIRE(a.ok());
  CHECK(a->direction == CpArgs::Direction::kUpload);
  CHECK(a->local_path == "./a:b");
  auto b = ParseCpArgs("a:b", "s:/workspace/a", Exists({"a:b"}));
  REQUIRE(b.ok());
  CHECK(b->local_path == "a:b");
}

TEST_CASE("cp: exactly one remote side, with a name and a path", "[cli]") {
  CHECK(ParseCpArgs("a", "b", Exists({})).status().message().find("exactly one") !=
        std::string::npos);
  CHECK(!ParseCpArgs("s:/a", "t:/b", Exists({})).ok());
  CHECK(!ParseCpArgs(":/a", "b", Exists({})).ok());
  CHECK(!ParseCpArgs("s:", "b", Exists({})).ok());
}

TEST_CASE("exec: frames carry the channel first", "[cli]") {
  CHECK(Frame(Channel::kStdin, "ls\n") == std::string("\0ls\n", 4));
  CHECK(Frame(Channel::kStdin, "") == std::string(1, '\0'));
  CHECK(ResizeFrame(120, 40) == "\x04{\"Width\":120,\"Height\":40}");
}

TEST_CASE("exec: the target lists each argument, encoded, then tty and stdin", "[cli]") {
  CHECK(ExecTarget("/apis/pai.io/v1/namespaces/a/sessions/s", {"ls", "-la", "/work space"}, false,
                   true) ==
        "/apis/pai.io/v1/namespaces/a/sessions/s/exec?command=ls&command=-la&"
        "command=%2Fwork%20space&tty=false&stdin=true");
  CHECK(ExecTarget("/x/agents/a", {}, true, true) == "/x/agents/a/exec?tty=true&stdin=true");
}

TEST_CASE("exec: the exit status comes from the status frame", "[cli]") {
  CHECK(ExitFromStatus(R"({"status":"Success"})").code == 0);
  auto e = ExitFromStatus(
      R"({"status":"Failure","message":"command terminated with non-zero exit code",
          "details":{"causes":[{"reason":"ExitCode","message":"42"}]}})");
  CHECK(e.code == 42);
  CHECK(e.message.empty());
  auto f = ExitFromStatus(R"({"status":"Failure","message":"no such file: /bin/nope"})");
  CHECK(f.code == 1);
  CHECK(f.message == "no such file: /bin/nope");
  CHECK(ExitFromStatus(R"({"status":"Failure","exitCode":7})").code == 7);
  CHECK(ExitFromStatus("not json").code == 1);
  CHECK(ExitFromStatus(
            R"({"status":"Failure","details":{"causes":[{"reason":"ExitCode","message":"x"}]}})")
            .code == 1);
}

TEST_CASE("exec: the server URL gives host, port and TLS", "[cli]") {
  auto a = ParseServerUrl("http://127.0.0.1:7070");
  REQUIRE(a.ok());
  CHECK(!a->tls);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == "7070");
  CHECK(a->host_header == "127.0.0.1:7070");
  CHECK(a->base_path.empty());
  auto b = ParseServerUrl("https://pai.example.dev/prefix/");
  REQUIRE(b.ok());
  CHECK(b->tls);
  CHECK(b->port == "443");
  CHECK(b->base_path == "/prefix");
  auto c = ParseServerUrl("http://[::1]:7070");
  REQUIRE(c.ok());
  CHECK(c->host == "::1");
  CHECK(c->host_header == "[::1]:7070");
  CHECK(!ParseServerUrl("ftp://x").ok());
}

}  // namespace
}  // namespace pai::cli
