// run, chat, logs, exec, cp: the verbs that work with Sessions and running workloads
// (docs/api.md, "Session and workload routes"; docs/cli.md).
#include <editline/readline.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <clocale>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "boost/json/parse.hpp"
#include "cli/pai/commands.h"
#include "cli/pai/events.h"
#include "cli/pai/exec_ws.h"
#include "cli/pai/remote.h"
#include "cli/pai/sse.h"
#include "cli/pai/text.h"
#include "cli/pai/views.h"

namespace pai::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr int kInterruptedExit = 130;  // the shell's status for Ctrl-C

// --- Ctrl-C ---

volatile std::sig_atomic_t g_interrupted = 0;

void OnInterrupt(int) { g_interrupted = 1; }

// CatchInterrupt() makes Ctrl-C set a flag instead of ending the process: streams poll it
// (libcurl's progress callback) and a blocked read returns EINTR (no SA_RESTART).
void CatchInterrupt() {
  struct sigaction sa {};
  sa.sa_handler = &OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  ::sigaction(SIGINT, &sa, nullptr);
}

bool Interrupted() { return g_interrupted != 0; }

// Pause() sleeps up to `ms`, returning early on Ctrl-C.
void Pause(int ms) {
  for (int waited = 0; waited < ms && !Interrupted(); waited += 50) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Colors TerminalColors() {
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  if (!::isatty(STDOUT_FILENO)) return Colors::kOff;
  if (no_color != nullptr && *no_color != '\0') return Colors::kOff;
  if (term != nullptr && std::strcmp(term, "dumb") == 0) return Colors::kOff;
  return Colors::kOn;
}

std::string Red(const std::string& s, Colors c) {
  return c == Colors::kOn ? "\x1b[31m" + s + "\x1b[0m" : s;
}

std::string SessionPath(const Conn& conn, const std::string& name) {
  return ResourcePath(conn.ns, "sessions", name);
}

// ResolveWorkload() is the path of the Session `name`, else of the Agent `name`.
absl::StatusOr<std::string> ResolveWorkload(Conn& conn, const std::string& name) {
  auto s = conn.client->Get(SessionPath(conn, name));
  if (s.ok()) return SessionPath(conn, name);
  if (!absl::IsNotFound(s.status())) return s.status();
  auto a = conn.client->Get(ResourcePath(conn.ns, "agents", name));
  if (a.ok()) return ResourcePath(conn.ns, "agents", name);
  if (!absl::IsNotFound(a.status())) return a.status();
  return absl::NotFoundError("no session or agent \"" + name + "\" in namespace " + conn.ns);
}

// --- following a Session's events ---

enum class Outcome { kIdle, kComplete, kError, kInterrupted };

struct Followed {
  Outcome outcome = Outcome::kIdle;
  std::string reason;  // kError: why, when it was not printed from an event
};

// FollowEvents() streams the Session's events after `*last_seq` (GET .../events/stream with
// Last-Event-ID), prints each once, and returns when the turn ends: session.status_idle,
// session.status_terminated, or Ctrl-C. A dropped connection is resumed from the last id seen
// (backoff 0.25 s doubling to 4 s; it gives up after 6 attempts in a row that brought nothing).
absl::StatusOr<Followed> FollowEvents(Conn& conn, const std::string& name, int64_t* last_seq,
                                      Style style, Colors colors) {
  const std::string base = SessionPath(conn, name) + "/events/stream";
  int failures = 0;
  absl::Status last_error;
  for (;;) {
    SseParser parser;
    std::optional<Followed> done;
    bool progressed = false;
    Client::StreamOptions options;
    options.accept = "text/event-stream";
    options.idle_timeout_seconds = 45;  // the server pings every 15 s
    options.cancelled = &Interrupted;
    if (*last_seq > 0) options.headers.push_back("Last-Event-ID: " + std::to_string(*last_seq));
    const std::string path = base + "?after=" + std::to_string(*last_seq);
    auto on_data = [&](std::string_view chunk) {
      for (SseEvent& e : parser.Feed(chunk)) {
        boost::system::error_code ec;
        json::value event = json::parse(e.data, ec);
        if (ec || !event.is_object()) continue;
        if (StrAt(event, {"type"}).empty() && e.event != "message") {
          event.get_object()["type"] = e.event;
        }
        std::optional<int64_t> seq = SequenceOfId(e.id);
        if (!seq) seq = EventSequence(event);
        if (seq) {
          if (*seq <= *last_seq) continue;  // already printed (a resumed stream)
          *last_seq = *seq;
        }
        progressed = true;
        std::cout << RenderEvent(event, style, colors) << std::flush;
        switch (TurnEndOf(event)) {
          case TurnEnd::kNone:
            break;
          case TurnEnd::kIdle:
            done = Followed{Outcome::kIdle, ""};
            return false;
          case TurnEnd::kComplete:
            done = Followed{Outcome::kComplete, ""};
            return false;
          case TurnEnd::kError:
            done = Followed{Outcome::kError, ""};
            return false;
        }
      }
      return true;
    };
    auto r = conn.client->Stream(path, options, on_data);
    if (done) return *done;
    if (r.ok() && *r == Client::StreamEnd::kCancelled) return Followed{Outcome::kInterrupted, ""};
    if (Interrupted()) return Followed{Outcome::kInterrupted, ""};
    if (!r.ok()) {
      const absl::StatusCode code = r.status().code();
      if (code != absl::StatusCode::kUnavailable && code != absl::StatusCode::kInternal) {
        return NotFoundAs(r.status(), "session", name);
      }
      last_error = r.status();
    } else {
      // The server ended the stream without a terminated event we saw: ask the Session.
      auto s = conn.client->Get(SessionPath(conn, name));
      if (!s.ok()) return NotFoundAs(s.status(), "session", name);
      const std::string phase = StrAt(*s, {"status", "phase"});
      if (phase == "Complete") return Followed{Outcome::kComplete, ""};
      if (phase == "Error") {
        return Followed{Outcome::kError, StrAt(*s, {"status", "message"})};
      }
      last_error = absl::UnavailableError("the event stream ended");
    }
    failures = progressed ? 0 : failures + 1;
    if (failures > 6) {
      return absl::UnavailableError("event stream of session " + name +
                                    " lost: " + std::string(last_error.message()));
    }
    Pause(std::min(4000, 250 << std::min(failures, 4)));
    if (Interrupted()) return Followed{Outcome::kInterrupted, ""};
  }
}

// LastSequence() is the Session's newest event sequence (0 when it has none).
absl::StatusOr<int64_t> LastSequence(Conn& conn, const std::string& name) {
  auto r = conn.client->Get(SessionPath(conn, name) + "/events?limit=1");
  if (!r.ok()) return NotFoundAs(r.status(), "session", name);
  if (auto n = IntAt(*r, {"lastSequence"})) return *n;
  // No lastSequence: page through (oldest first).
  int64_t last = 0;
  for (;;) {
    auto page = conn.client->Get(SessionPath(conn, name) + "/events?after=" + std::to_string(last) +
                                 "&limit=10000");
    if (!page.ok()) return page.status();
    const json::value* items = At(*page, {"items"});
    if (items == nullptr || !items->is_array() || items->get_array().empty()) return last;
    int64_t before = last;
    for (const auto& e : items->get_array()) {
      if (auto s = EventSequence(e); s && *s > last) last = *s;
    }
    if (last == before || items->get_array().size() < 10000) return last;
  }
}

void PrintStopped(const std::string& name) {
  std::cout << std::flush;
  std::cerr << "\nStopped streaming; session " << name << " keeps running (pai logs " << name
            << ", pai chat " << name << ").\n";
}

// --- run ---

struct RunArgs {
  std::string name;
  std::string agent;
  std::string task;
};

absl::Status Run(const Globals& g, const RunArgs& a) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  json::object spec;
  if (!a.task.empty()) spec["task"] = a.task;
  json::object body{{"metadata", json::object{{"name", a.name}}}, {"spec", std::move(spec)}};
  auto created = conn->client->Call("POST", ResourcePath(conn->ns, "agents", a.agent) + "/sessions",
                                    json::value(std::move(body)));
  if (!created.ok()) {
    if (absl::IsAlreadyExists(created.status())) {
      return absl::AlreadyExistsError("session \"" + a.name + "\" already exists (pai chat " +
                                      a.name + " continues it)");
    }
    return NotFoundAs(created.status(), "agent", a.agent);
  }
  std::string name = StrAt(created->body, {"metadata", "name"});
  if (name.empty()) name = a.name;
  const Colors colors = TerminalColors();
  std::cout << "session/" << name << " created (agent " << a.agent << ")" << std::endl;
  CatchInterrupt();
  int64_t last_seq = 0;
  auto followed = FollowEvents(*conn, name, &last_seq, Style::kRun, colors);
  if (!followed.ok()) return followed.status();
  switch (followed->outcome) {
    case Outcome::kIdle:
      if (a.task.empty()) {
        std::cout << "Session " << name << " is idle. Send it a message with: pai chat " << name
                  << "\n";
      } else {
        std::cout << "\nSession " << name << " is idle. Continue with: pai chat " << name << "\n";
      }
      return absl::OkStatus();
    case Outcome::kComplete:
      std::cout << "\nSession " << name << " complete.\n";
      return absl::OkStatus();
    case Outcome::kError:
      if (!followed->reason.empty()) {
        std::cout << Red("Session failed: " + followed->reason, colors) << "\n";
      }
      std::cout << std::flush;
      std::cerr << "pai: session " << name << " failed\n";
      return Silent();
    case Outcome::kInterrupted:
      PrintStopped(name);
      return ExitWith(kInterruptedExit);
  }
  return absl::OkStatus();
}

// --- chat ---

struct ChatTarget {
  std::string name;
  std::string agent;
  std::string task;
  std::string phase;
};

absl::StatusOr<ChatTarget> TargetOf(const json::value& session) {
  ChatTarget t;
  t.name = StrAt(session, {"metadata", "name"});
  t.agent = StrAt(session, {"spec", "agent"});
  t.task = StrAt(session, {"spec", "task"});
  t.phase = StrAt(session, {"status", "phase"});
  return t;
}

// ResolveChat(): the Session `name`; else the caller's newest Idle Session of the Agent `name`;
// else a new Session of that Agent.
absl::StatusOr<ChatTarget> ResolveChat(Conn& conn, const std::string& name) {
  auto s = conn.client->Get(SessionPath(conn, name));
  if (s.ok()) return TargetOf(*s);
  if (!absl::IsNotFound(s.status())) return s.status();
  auto agent = conn.client->Get(ResourcePath(conn.ns, "agents", name));
  if (!agent.ok()) {
    if (absl::IsNotFound(agent.status())) {
      return absl::NotFoundError("no session or agent \"" + name + "\" in namespace " + conn.ns);
    }
    return agent.status();
  }
  auto me = conn.client->Get("/apis/pai.io/v1/whoami");
  if (!me.ok()) return me.status();
  const std::string caller = StrAt(*me, {"name"});
  auto list = conn.client->Get(ResourcePath(conn.ns, "sessions") + "?agent=" + PercentEncode(name) +
                               "&phase=Idle");
  if (!list.ok()) return list.status();
  const json::value* best = nullptr;
  int64_t best_time = 0;
  if (const json::value* items = At(*list, {"items"}); items != nullptr && items->is_array()) {
    for (const auto& item : items->get_array()) {
      if (StrAt(item, {"status", "phase"}) != "Idle") continue;
      if (StrAt(item, {"spec", "agent"}) != name) continue;
      const json::value* ann = At(item, {"metadata", "annotations"});
      if (caller.empty() || ann == nullptr || StrAt(*ann, {"pai.io/created-by"}) != caller)
        continue;
      const int64_t t = ParseRfc3339(StrAt(item, {"metadata", "creationTimestamp"})).value_or(0);
      if (best == nullptr || t >= best_time) {
        best = &item;
        best_time = t;
      }
    }
  }
  if (best != nullptr) return TargetOf(*best);
  auto created = conn.client->Call("POST", ResourcePath(conn.ns, "agents", name) + "/sessions",
                                   json::value(json::object{{"spec", json::object{}}}));
  if (!created.ok()) return created.status();
  auto t = TargetOf(created->body);
  if (t.ok() && t->agent.empty()) t->agent = name;
  if (t.ok() && t->phase.empty()) t->phase = "Pending";
  return t;
}

// LineReader: libedit on a terminal (editing, history, the "❯ " prompt), plain lines otherwise.
class LineReader {
 public:
  LineReader() : tty_(::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO)) {
    if (!tty_) return;
    // libedit needs a UTF-8 locale for the prompt's "❯" (it crashes on it in the C locale).
    std::setlocale(LC_CTYPE, "");
    if (MB_CUR_MAX == 1 && std::setlocale(LC_CTYPE, "C.UTF-8") == nullptr) prompt_ = "> ";
    using_history();
  }
  // Next(): a line, or nullopt at the end (Ctrl-D, Ctrl-C, EOF).
  std::optional<std::string> Next() {
    if (!tty_) {
      std::string line;
      if (!std::getline(std::cin, line)) return std::nullopt;
      return line;
    }
    g_interrupted = 0;
    char* line = readline(prompt_.c_str());
    if (line == nullptr) {
      std::cout << "\n";
      return std::nullopt;
    }
    std::string out(line);
    std::free(line);
    if (!out.empty()) add_history(out.c_str());
    return out;
  }

 private:
  bool tty_;
  std::string prompt_ = "\u276f ";
};

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\t')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

absl::Status Chat(const Globals& g, const std::string& name) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  auto target = ResolveChat(*conn, name);
  if (!target.ok()) return target.status();
  const ChatTarget& t = *target;
  if (t.phase == "Complete" || t.phase == "Error") {
    return absl::FailedPreconditionError("session " + t.name + " has finished (" + t.phase +
                                         "); start another with pai run or pai chat " +
                                         (t.agent.empty() ? std::string("AGENT") : t.agent));
  }
  const Colors colors = TerminalColors();
  std::cout << "  Session chat  " << t.name << "  (" << (t.agent.empty() ? kNone : t.agent)
            << ")\n";
  if (!t.task.empty()) std::cout << "Started with: " << t.task << "\n";
  std::cout << "Type a message and press Enter. Ctrl-C or /exit to quit.\n\n" << std::flush;
  CatchInterrupt();
  auto last = LastSequence(*conn, t.name);
  if (!last.ok()) return last.status();
  int64_t last_seq = *last;

  // follow(): one turn; Ctrl-C during it sends user.interrupt, a second one leaves.
  auto follow = [&]() -> absl::StatusOr<Outcome> {
    bool interrupt_sent = false;
    for (;;) {
      auto f = FollowEvents(*conn, t.name, &last_seq, Style::kChat, colors);
      if (!f.ok()) return f.status();
      if (f->outcome == Outcome::kError && !f->reason.empty()) {
        std::cout << Red("Session failed: " + f->reason, colors) << "\n";
      }
      if (f->outcome != Outcome::kInterrupted || interrupt_sent) return f->outcome;
      g_interrupted = 0;
      interrupt_sent = true;
      std::cout << "\n(interrupting; Ctrl-C again to leave)\n" << std::flush;
      auto r = conn->client->Call("POST", SessionPath(*conn, t.name) + "/events", UserInterrupt());
      if (!r.ok()) return r.status();
    }
  };
  auto finish = [&](Outcome o) -> absl::Status {
    if (o == Outcome::kComplete) {
      std::cout << "\nSession " << t.name << " complete.\n";
      return absl::OkStatus();
    }
    if (o == Outcome::kError) {
      std::cout << std::flush;
      std::cerr << "pai: session " << t.name << " failed\n";
      return Silent();
    }
    std::cout << "Left the chat; session " << t.name << " stays as it is (pai chat " << t.name
              << " to come back).\n";
    return absl::OkStatus();
  };

  if (t.phase == "Pending" || t.phase == "Running" || t.phase.empty()) {
    std::cout << "(waiting for the agent's turn to end)\n" << std::flush;
    auto o = follow();
    if (!o.ok()) return o.status();
    if (*o != Outcome::kIdle) return finish(*o);
  }
  LineReader reader;
  for (;;) {
    auto line = reader.Next();
    if (!line) break;
    const std::string text = Trim(*line);
    if (text.empty()) continue;
    if (text == "/exit" || text == "/quit") break;
    json::value body = text == "/interrupt" ? UserInterrupt() : UserMessage(*line);
    auto posted = conn->client->Call("POST", SessionPath(*conn, t.name) + "/events", body);
    if (!posted.ok()) {
      if (absl::IsAlreadyExists(posted.status())) {
        return absl::FailedPreconditionError(
            "session " + t.name + " has finished: " + std::string(posted.status().message()));
      }
      return posted.status();
    }
    if (text == "/interrupt") {
      std::cout << "(interrupt sent)\n" << std::flush;
      continue;
    }
    // Our own message is not printed again: stream from its sequence on.
    if (const json::value* items = At(posted->body, {"items"});
        items != nullptr && items->is_array()) {
      for (const auto& e : items->get_array()) {
        if (auto s = EventSequence(e); s && *s > last_seq) last_seq = *s;
      }
    }
    auto o = follow();
    if (!o.ok()) return o.status();
    if (*o == Outcome::kIdle) {
      std::cout << "\n" << std::flush;
      continue;
    }
    return finish(*o);
  }
  return finish(Outcome::kInterrupted);
}

// --- logs ---

absl::Status Logs(const Globals& g, const std::string& name, int64_t tail, bool follow) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  auto base = ResolveWorkload(*conn, name);
  if (!base.ok()) return base.status();
  const std::string path =
      *base + "/logs?tailLines=" + std::to_string(tail) + "&follow=" + (follow ? "true" : "false");
  CatchInterrupt();
  Client::StreamOptions options;
  options.accept = "text/plain";
  options.cancelled = &Interrupted;
  auto r = conn->client->Stream(path, options, [](std::string_view chunk) {
    std::fwrite(chunk.data(), 1, chunk.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  if (!r.ok()) return r.status();
  if (*r == Client::StreamEnd::kCancelled) return ExitWith(kInterruptedExit);
  return absl::OkStatus();
}

// --- exec ---

struct ExecArgs {
  std::string name;
  std::vector<std::string> command;
  bool interactive = false;  // -i
  bool tty = false;          // -t
};

absl::Status Exec(const Globals& g, const ExecArgs& a) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  auto base = ResolveWorkload(*conn, a.name);
  if (!base.ok()) return base.status();
  auto server = ParseServerUrl(conn->ctx.server);
  if (!server.ok()) return server.status();
  const bool stdin_tty = ::isatty(STDIN_FILENO) != 0;
  // -t, or no command (a shell): a terminal session with stdin. Without a local terminal there
  // is no raw mode to give, but the remote side still gets a pty. Otherwise stdin goes along
  // when it is not a terminal (a pipe, a file, /dev/null) or with -i.
  const bool tty = a.tty || a.command.empty();
  const bool send_stdin = tty || a.interactive || !stdin_tty;
  ExecRequest req;
  req.server = *server;
  req.target = server->base_path + ExecTarget(*base, a.command, tty, send_stdin);
  req.token = conn->ctx.token;
  req.tty = tty ? Tty::kYes : Tty::kNo;
  req.send_stdin = send_stdin ? SendStdin::kYes : SendStdin::kNo;
  std::cout << std::flush;
  auto code = RunExec(req);
  if (!code.ok()) return code.status();
  return *code == 0 ? absl::OkStatus() : ExitWith(*code);
}

// --- cp ---

absl::Status Copy(const Globals& g, const std::string& src, const std::string& dst) {
  auto args = ParseCpArgs(src, dst, [](const std::string& p) {
    std::error_code ec;
    return fs::exists(p, ec);
  });
  if (!args.ok()) return args.status();
  const CpArgs& a = *args;
  const std::string remote = a.name + ":" + a.remote_path;
  std::string upload;
  if (a.direction == CpArgs::Direction::kUpload) {
    std::error_code ec;
    if (a.local_path == "-") {
      auto in = ReadInput("-");
      if (!in.ok()) return in.status();
      upload = std::move(*in);
    } else if (fs::is_directory(a.local_path, ec)) {
      return absl::InvalidArgumentError("cp: " + a.local_path +
                                        " is a directory (pai cp copies single files)");
    } else {
      std::ifstream in(a.local_path, std::ios::binary);
      if (!in) {
        return absl::NotFoundError("cp: " + a.local_path + ": " + std::strerror(errno));
      }
      std::stringstream ss;
      ss << in.rdbuf();
      upload = ss.str();
    }
  }
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  auto base = ResolveWorkload(*conn, a.name);
  if (!base.ok()) return base.status();
  const std::string path = *base + "/files?path=" + PercentEncode(a.remote_path);
  if (a.direction == CpArgs::Direction::kUpload) {
    auto r = conn->client->CallBytes("PUT", path, upload, "application/octet-stream");
    if (!r.ok())
      return absl::Status(r.status().code(),
                          "cp: " + remote + ": " + std::string(r.status().message()));
    return absl::OkStatus();
  }
  auto r = conn->client->CallBytes("GET", path, "", "", "application/octet-stream");
  if (!r.ok()) {
    if (absl::IsInvalidArgument(r.status())) {
      return absl::InvalidArgumentError("cp: " + remote + ": " + std::string(r.status().message()) +
                                        " (pai cp copies single files)");
    }
    return absl::Status(r.status().code(),
                        "cp: " + remote + ": " + std::string(r.status().message()));
  }
  if (a.local_path == "-") {
    std::cout.write(r->raw.data(), static_cast<std::streamsize>(r->raw.size()));
    return absl::OkStatus();
  }
  fs::path out = a.local_path;
  std::error_code ec;
  if (fs::is_directory(out, ec) || a.local_path.back() == '/') out /= Basename(a.remote_path);
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  if (!f) return absl::PermissionDeniedError("cp: " + out.string() + ": " + std::strerror(errno));
  f.write(r->raw.data(), static_cast<std::streamsize>(r->raw.size()));
  f.close();
  if (!f) return absl::InternalError("cp: " + out.string() + ": write failed");
  return absl::OkStatus();
}

}  // namespace

void RegisterSessionCommands(CLI::App& app, Cli& cli) {
  {
    auto a = std::make_shared<RunArgs>();
    auto* run = app.add_subcommand("run", "Start a Session of an Agent and stream its events");
    run->add_option("name", a->name, "Session name")->required();
    run->add_option("--agent", a->agent, "Agent to run")->required();
    run->add_option("--task", a->task, "Initial prompt (without it the Session starts idle)");
    run->callback([&cli, a] { cli.action = [&cli, a] { return Run(cli.globals, *a); }; });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* chat = app.add_subcommand("chat", "Interactive chat with a Session (or an Agent's)");
    chat->add_option("name", *name, "Session, or Agent (resumes your Idle Session of it)")
        ->required();
    chat->callback(
        [&cli, name] { cli.action = [&cli, name] { return Chat(cli.globals, *name); }; });
  }
  {
    auto name = std::make_shared<std::string>();
    auto tail = std::make_shared<int64_t>(50);
    auto follow = std::make_shared<bool>(false);
    auto no_follow = std::make_shared<bool>(false);
    auto* logs = app.add_subcommand("logs", "Stream or tail the logs of a Session or Agent");
    logs->add_option("name", *name, "Session or Agent")->required();
    logs->add_option("--tail", *tail, "Number of recent lines to show (default 50)")
        ->check(CLI::Range(int64_t{0}, int64_t{1000000}));
    auto* f = logs->add_flag("-f,--follow", *follow, "Follow the output (default)");
    logs->add_flag("--no-follow", *no_follow, "Print the tail and exit")->excludes(f);
    // Every flag's storage lives as long as the callback (CLI11 writes into it while parsing).
    logs->callback([&cli, name, tail, follow, no_follow] {
      cli.action = [&cli, name, tail, no_follow] {
        return Logs(cli.globals, *name, *tail, !*no_follow);
      };
    });
  }
  {
    auto a = std::make_shared<ExecArgs>();
    auto* exec = app.add_subcommand("exec", "Run a command inside a running Session or Agent");
    exec->add_flag("-i,--stdin", a->interactive, "Pass stdin to the command");
    exec->add_flag("-t,--tty", a->tty, "Allocate a TTY (-it is the default without a command)");
    exec->add_option("name", a->name, "Session or Agent")->required();
    exec->add_option("command", a->command, "Command and arguments (after --)");
    exec->callback([&cli, a] { cli.action = [&cli, a] { return Exec(cli.globals, *a); }; });
  }
  {
    auto src = std::make_shared<std::string>();
    auto dst = std::make_shared<std::string>();
    auto* cp = app.add_subcommand("cp", "Copy a file to or from a Session or Agent (NAME:PATH)");
    cp->add_option("src", *src, "Source: a local file or NAME:PATH")->required();
    cp->add_option("dst", *dst, "Destination: a local path or NAME:PATH")->required();
    cp->callback([&cli, src, dst] {
      cli.action = [&cli, src, dst] { return Copy(cli.globals, *src, *dst); };
    });
  }
}

}  // namespace pai::cli
