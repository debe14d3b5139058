// Shared helpers of the command files (commands.h).
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/pai/commands.h"
#include "cli/pai/text.h"
#include "resource/resource.h"

namespace pai::cli {

absl::StatusOr<Conn> Connect(const Globals& g) {
  auto cfg = LoadConfig(ConfigPath());
  if (!cfg.ok()) return cfg.status();
  const Context* ctx = cfg->Current();
  if (ctx == nullptr || ctx->server.empty()) {
    return absl::FailedPreconditionError("not logged in (run pai login <url>)");
  }
  Conn conn;
  conn.ctx = *ctx;
  conn.ns = ResolveNamespace(g.ns, cfg->settings, ctx->ns);
  conn.client = std::make_unique<Client>(ctx->server, ctx->token);
  conn.cfg = std::move(*cfg);
  return conn;
}

absl::Status Silent() { return absl::AbortedError(""); }
bool IsSilent(const absl::Status& s) { return absl::IsAborted(s) && s.message().empty(); }

namespace {
constexpr char kExitPayload[] = "pai.io/exit-code";
}  // namespace

absl::Status ExitWith(int code) {
  absl::Status s = absl::AbortedError("");
  s.SetPayload(kExitPayload, absl::Cord(std::to_string(code)));
  return s;
}

std::optional<int> ExitCodeOf(const absl::Status& s) {
  auto p = s.GetPayload(kExitPayload);
  if (!p.has_value()) return std::nullopt;
  return std::atoi(std::string(*p).c_str());
}

void PrintStructured(const std::string& format, const boost::json::value& v) {
  if (format == "yaml") {
    std::string text = resource::JsonToYaml(v);
    if (!text.empty() && text.back() != '\n') text += '\n';
    std::cout << text;
  } else {
    std::cout << PrettyJson(v);
  }
}

absl::StatusOr<std::string> ReadSecretLine(const std::string& prompt, const std::string& what) {
  std::string line;
  if (::isatty(STDIN_FILENO)) {
    std::cerr << prompt << std::flush;
    termios old{};
    const bool have_termios = ::tcgetattr(STDIN_FILENO, &old) == 0;
    if (have_termios) {
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    std::getline(std::cin, line);
    if (have_termios) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    std::cerr << "\n";
  } else {
    std::getline(std::cin, line);
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) return absl::InvalidArgumentError("no " + what + " given");
  return line;
}

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::stringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(path + ": cannot open (" + std::strerror(errno) + ")");
  ss << in.rdbuf();
  return ss.str();
}

absl::Status NotFoundAs(const absl::Status& s, const std::string& kind, const std::string& name) {
  if (absl::IsNotFound(s)) return absl::NotFoundError(kind + " \"" + name + "\" not found");
  return s;
}

void AddOutputOption(CLI::App* sub, std::string* out) {
  sub->add_option("-o,--output", *out, "Output format: json | yaml (default: a table)")
      ->check(CLI::IsMember({"json", "yaml"}));
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace pai::cli
