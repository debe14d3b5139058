#include "cli/pai/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace pai::cli {
namespace {

TEST_CASE("server URLs get https for host names and http for raw IPs", "[cli]") {
  CHECK(*NormalizeServerUrl("pairun.dev") == "https://pairun.dev");
  CHECK(*NormalizeServerUrl("localhost:7070") == "https://localhost:7070");
  CHECK(*NormalizeServerUrl("10.0.0.5:8080") == "http://10.0.0.5:8080");
  CHECK(*NormalizeServerUrl("127.0.0.1") == "http://127.0.0.1");
  CHECK(*NormalizeServerUrl("[::1]:7070") == "http://[::1]:7070");
  CHECK(*NormalizeServerUrl("::1") == "http://[::1]");
  CHECK(*NormalizeServerUrl("http://pairun.dev/") == "http://pairun.dev");
  CHECK(*NormalizeServerUrl("HTTPS://pairun.dev") == "https://pairun.dev");
  CHECK(*NormalizeServerUrl("256.1.1.1") == "https://256.1.1.1");  // not an IPv4 address
  CHECK_FALSE(NormalizeServerUrl("").ok());
  CHECK_FALSE(NormalizeServerUrl("ftp://x").ok());
}

TEST_CASE("context names are namespace at the first host label or the whole IP", "[cli]") {
  CHECK(DeriveContextName("prod", "https://pairun.dev") == "prod@pairun");
  CHECK(DeriveContextName("team-a", "http://127.0.0.1:7070") == "team-a@127.0.0.1");
  CHECK(DeriveContextName("*", "http://10.0.0.5:8080") == "admin@10.0.0.5");
  CHECK(DeriveContextName("dev", "https://localhost:7070") == "dev@localhost");
  CHECK(DeriveContextName("dev", "http://[::1]:7070") == "dev@::1");
  CHECK(HostOf("https://user@api.pairun.dev:443/x") == "api.pairun.dev");
}

TEST_CASE("namespace resolution: flag, setting, token namespace, default", "[cli]") {
  std::map<std::string, std::string> settings;
  CHECK(ResolveNamespace("", settings, "*") == "default");
  CHECK(ResolveNamespace("", settings, "") == "default");
  CHECK(ResolveNamespace("", settings, "team-a") == "team-a");
  settings["default_namespace"] = "team-b";
  CHECK(ResolveNamespace("", settings, "team-a") == "team-b");
  CHECK(ResolveNamespace("team-c", settings, "team-a") == "team-c");
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/pai_cli_test_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

TEST_CASE("config file is written with mode 0600 in a 0700 directory and reads back", "[cli]") {
  TempDir dir;
  const std::string path = (dir.path / ".pai" / "config.json").string();
  CHECK(LoadConfig(path)->contexts.empty());  // missing file: empty config

  Config cfg;
  cfg.current_context = "team-a@127.0.0.1";
  cfg.contexts["team-a@127.0.0.1"] = Context{"http://127.0.0.1:7070", "pai_at_x", "team-a"};
  cfg.settings["default_namespace"] = "team-a";
  cfg.extra["future"] = 42;
  REQUIRE(SaveConfig(path, cfg).ok());

  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((dir.path / ".pai").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);

  auto back = LoadConfig(path);
  REQUIRE(back.ok());
  CHECK(back->current_context == "team-a@127.0.0.1");
  REQUIRE(back->Current() != nullptr);
  CHECK(back->Current()->server == "http://127.0.0.1:7070");
  CHECK(back->Current()->token == "pai_at_x");
  CHECK(back->Current()->ns == "team-a");
  CHECK(back->settings.at("default_namespace") == "team-a");
  CHECK(back->extra.at("future").as_int64() == 42);

  // A rewrite over a file that someone widened restores 0600.
  ::chmod(path.c_str(), 0644);
  REQUIRE(SaveConfig(path, *back).ok());
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("a config file that is not a JSON object is an error naming the path", "[cli]") {
  TempDir dir;
  const std::string path = (dir.path / "config.json").string();
  std::ofstream(path) << "[1,2]";
  auto cfg = LoadConfig(path);
  REQUIRE_FALSE(cfg.ok());
  CHECK(std::string(cfg.status().message()).find(path) != std::string::npos);
}

TEST_CASE("PAI_CONFIG overrides the config path", "[cli]") {
  ::setenv("PAI_CONFIG", "/tmp/x/config.json", 1);
  CHECK(ConfigPath() == "/tmp/x/config.json");
  ::unsetenv("PAI_CONFIG");
  const char* home = std::getenv("HOME");
  const std::string saved = home != nullptr ? home : "";
  ::setenv("HOME", "/home/u", 1);
  CHECK(ConfigPath() == "/home/u/.pai/config.json");
  ::setenv("HOME", saved.c_str(), 1);
}

}  // namespace
}  // namespace pai::cli
