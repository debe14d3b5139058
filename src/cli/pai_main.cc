// pai: the user CLI of the Pai platform, a thin client of pai-server's REST API
// (docs/api.md, docs/cli.md). Verbs live in cli/pai/commands_*.cc.
#include <curl/curl.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/pai/commands.h"

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CLI::App app{"pai: manage agents, models, providers and secrets on the Pai platform"};
  app.require_subcommand(1);
  app.fallthrough();  // -n/--namespace is accepted after any verb
  pai::cli::Cli cli;
  app.add_option("-n,--namespace", cli.globals.ns, "Namespace (default: from the context)");
  app.set_version_flag("--version", std::string("pai v") + pai::cli::kVersion);
  pai::cli::RegisterAuthCommands(app, cli);
  pai::cli::RegisterResourceCommands(app, cli);
  pai::cli::RegisterPlatformCommands(app, cli);
  pai::cli::RegisterSessionCommands(app, cli);

  // CLI11 would answer an unknown verb with "A subcommand is required".
  if (argc > 1 && argv[1][0] != '-') {
    const std::string verb = argv[1];
    if (app.get_subcommands([&](CLI::App* sub) { return sub->check_name(verb); }).empty()) {
      std::fprintf(stderr, "pai: unknown command \"%s\" (see pai --help)\n", verb.c_str());
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "pai: %s\n", e.what());
    return 2;
  }
  absl::Status s = cli.action ? cli.action() : absl::OkStatus();
  std::cout.flush();
  if (s.ok()) return 0;
  if (auto code = pai::cli::ExitCodeOf(s)) return *code;
  if (!pai::cli::IsSilent(s)) std::fprintf(stderr, "pai: %s\n", std::string(s.message()).c_str());
  return 1;
}
