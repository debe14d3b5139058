// pai-harness: the default harness, run as the workload of a Session's sandbox
// (docs/sessions.md, "Harness protocol"; docs/harness.md for the tools).
//
// Usage: pai-harness [--config PATH] [--events-fd N]
//   --config     session.json (default /run/pai/session.json)
//   --events-fd  where events and control lines go (default 3)
// Environment: OPENAI_BASE_URL (default http://127.0.0.1:4000/v1), OPENAI_API_KEY.
// Exit: 0 done, 1 task failed (mode "task"), 2 bad configuration, 3 budget exhausted,
// 4 credentials refused.
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "absl/strings/numbers.h"
#include "harness/agent_loop.h"
#include "harness/config.h"
#include "harness/model_client.h"
#include "harness/protocol.h"
#include "harness/util.h"

namespace {

constexpr int kExitConfig = 2;

int Fail(pai::harness::EventSink* events, const std::string& message) {
  pai::harness::Log(message);
  if (events != nullptr) {
    boost::json::object e = pai::harness::Event("session.error");
    e["error"] = boost::json::object{{"type", "harness_error"}, {"message", message}};
    events->Emit(e);
  }
  return kExitConfig;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = "/run/pai/session.json";
  int events_fd = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--config" || arg == "--events-fd") && i + 1 < argc) {
      const std::string value = argv[++i];
      if (arg == "--config") {
        config_path = value;
      } else if (!absl::SimpleAtoi(value, &events_fd) || events_fd < 0) {
        return Fail(nullptr, "--events-fd needs a file descriptor number");
      }
    } else if (arg == "--help" || arg == "-h") {
      std::fprintf(stdout, "usage: pai-harness [--config PATH] [--events-fd N]\n");
      return 0;
    } else {
      return Fail(nullptr, "unknown argument '" + arg + "' (see --help)");
    }
  }
  // A vanished reader must not kill the harness; children get SIGPIPE back (subprocess.cc).
  ::signal(SIGPIPE, SIG_IGN);
  if (::fcntl(events_fd, F_GETFD) < 0) {
    return Fail(nullptr, "the events fd " + std::to_string(events_fd) + " is not open");
  }
  // Tools' child processes must not inherit the events channel.
  ::fcntl(events_fd, F_SETFD, FD_CLOEXEC);
  pai::harness::EventSink events(events_fd);

  auto config = pai::harness::LoadSessionConfig(config_path);
  if (!config.ok()) return Fail(&events, std::string(config.status().message()));
  std::error_code ec;
  std::filesystem::create_directories(config->workspace, ec);
  if (::chdir(config->workspace.c_str()) != 0) {
    return Fail(&events,
                "cannot enter the workspace " + config->workspace + ": " + std::strerror(errno));
  }

  const char* base = std::getenv("OPENAI_BASE_URL");
  const char* key = std::getenv("OPENAI_API_KEY");
  if (key == nullptr || *key == '\0') pai::harness::Log("OPENAI_API_KEY is not set");
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int code = 0;
  {
    pai::harness::RetryPolicy policy;
    // PAI_AUTH_GRACE_MS: how long a 401 is retried after start (a fresh identity reaching the
    // gateway); tests shorten it.
    if (const char* grace = std::getenv("PAI_AUTH_GRACE_MS"); grace && *grace) {
      policy.auth_grace = std::chrono::milliseconds(std::atoll(grace));
    }
    pai::harness::ModelClient model(
        base != nullptr && *base != '\0' ? base : "http://127.0.0.1:4000/v1",
        key != nullptr ? key : "", policy);
    pai::harness::Inbox inbox(0, events);
    inbox.Start();
    pai::harness::AgentLoop loop(*config, model, events, inbox);
    pai::harness::Log("session " + config->session + " started (model " + config->models[0] + ")");
    code = loop.Run();
    pai::harness::Log("exiting with code " + std::to_string(code));
  }
  curl_global_cleanup();
  return code;
}
