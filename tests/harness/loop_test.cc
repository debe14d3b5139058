// The whole harness: the real pai-harness binary against a scripted OpenAI-style streaming
// server, with stdin and fd 3 on pipes.
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <future>

#include "test_util.h"

namespace pai::harness {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using testing::HarnessProcess;
using testing::HttpRequest;
using testing::HttpResponse;
using testing::HttpServer;
using testing::SseResponse;
using testing::Str;
using testing::TypeOf;

json::object Config(const fs::path& workspace, json::object extra = {}) {
  json::object c{{"session", "ns/s1"},
                 {"agent", "coder"},
                 {"system", "You are a test agent."},
                 {"models", json::array{"test-model", "fallback-model"}},
                 {"mode", "interactive"},
                 {"workspace", workspace.string()},
                 {"limits", json::object{{"tool_timeout_seconds", 30},
                                         {"tool_output_bytes", 4096},
                                         {"max_steps_per_turn", 10}}}};
  for (auto& [k, v] : extra) c[k] = v;
  return c;
}

fs::path WriteConfig(const testing::TempDir& dir, const json::object& c) {
  const fs::path p = dir.path() / "session.json";
  testing::WriteFile(p, json::serialize(c));
  return p;
}

json::object UserMessage(std::string_view id, std::string_view text) {
  json::array content;
  content.push_back(json::object{{"type", "text"}, {"text", json::string(text)}});
  return json::object{{"id", json::string(id)}, {"type", "user.message"}, {"content", content}};
}

// Expect() reads the next event and checks its type.
json::object Expect(HarnessProcess& h, std::string_view type) {
  auto e = h.NextEvent();
  INFO("expected " << type);
  REQUIRE(e.has_value());
  INFO("got " << json::serialize(*e));
  REQUIRE(TypeOf(*e) == type);
  return *e;
}

json::object ExpectControl(HarnessProcess& h, std::string_view control) {
  auto e = h.Next();
  REQUIRE(e.has_value());
  INFO("got " << json::serialize(*e));
  REQUIRE(Str(e->at("control")) == control);
  return *e;
}

json::object Body(const HttpRequest& r) { return json::parse(r.body).as_object(); }

const json::array& Messages(const HttpRequest& r, json::object& holder) {
  holder = Body(r);
  return holder.at("messages").as_array();
}

// A model that asks for write, then bash, then answers; later turns get "pong".
HttpResponse ScriptedModel(const HttpRequest&, int n) {
  using namespace testing;
  switch (n) {
    case 0:
      return SseResponse({SseContent("Writing the file."),
                          SseToolCallStart(0, "call_w", "write", "{\"path\": \"out/"),
                          SseToolCallArgs(0, "hello.txt\", \"content\": "),
                          SseToolCallArgs(0, "\"hi there\\n\"}"), SseFinish("tool_calls"),
                          SseUsage(100, 20), SseDone()});
    case 1:
      return SseResponse({SseToolCallStart(0, "call_b", "bash", ""),
                          SseToolCallArgs(0, "{\"command\": \"cat out/hello.txt"),
                          SseToolCallArgs(0, " && echo checked\"}"), SseFinish("tool_calls"),
                          SseUsage(150, 10), SseDone()});
    case 2:
      return SseResponse({SseContent("All "), SseContent("done."), SseFinish("stop"),
                          SseUsage(200, 5), SseDone()});
    default:
      return SseResponse({SseContent("pong"), SseFinish("stop"), SseUsage(10, 1), SseDone()});
  }
}

TEST_CASE("harness runs a task with write and bash tools, then a chat turn, then exits on EOF") {
  testing::TempDir dir;
  const fs::path ws = dir.path() / "ws";
  std::atomic<int> n{0};
  HttpServer server([&n](const HttpRequest& r) { return ScriptedModel(r, n++); });
  HarnessProcess h(WriteConfig(dir, Config(ws, {{"task", "Write hello.txt and check it."}})),
                   server.url());

  Expect(h, "session.status_running");
  json::object span = Expect(h, "span.model_request_end");
  CHECK(Str(span.at("model")) == "test-model-served");
  CHECK(span.at("usage").at("prompt_tokens").as_int64() == 100);
  CHECK(span.at("usage").at("total_tokens").as_int64() == 120);
  json::object msg = Expect(h, "agent.message");
  CHECK(Str(msg.at("content").at(0).at("text")) == "Writing the file.");
  json::object use = Expect(h, "agent.tool_use");
  CHECK(Str(use.at("tool_use_id")) == "call_w");
  CHECK(Str(use.at("name")) == "write");
  CHECK(Str(use.at("input").at("path")) == "out/hello.txt");
  json::object result = Expect(h, "agent.tool_result");
  CHECK(Str(result.at("tool_use_id")) == "call_w");
  CHECK(result.at("is_error") == false);
  Expect(h, "span.model_request_end");
  use = Expect(h, "agent.tool_use");
  CHECK(Str(use.at("name")) == "bash");
  result = Expect(h, "agent.tool_result");
  CHECK(Str(result.at("content").at(0).at("text")) == "hi there\nchecked\n[exit code 0]");
  Expect(h, "span.model_request_end");
  msg = Expect(h, "agent.message");
  CHECK(Str(msg.at("content").at(0).at("text")) == "All done.");
  json::object idle = Expect(h, "session.status_idle");
  CHECK(Str(idle.at("stop_reason").at("type")) == "end_turn");
  CHECK(testing::ReadFile(ws / "out/hello.txt") == "hi there\n");

  // What the model was sent.
  auto reqs = server.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].target == "/v1/chat/completions");
  CHECK(reqs[0].headers.find("Bearer test-token") != std::string::npos);
  json::object body = Body(reqs[0]);
  CHECK(Str(body.at("model")) == "test-model");
  CHECK(body.at("stream") == true);
  CHECK(body.at("stream_options").at("include_usage") == true);
  CHECK(body.at("tools").as_array().size() == 11);
  json::object holder;
  const json::array& m3 = Messages(reqs[2], holder);
  REQUIRE(m3.size() == 6);  // system, user, assistant+write, tool, assistant+bash, tool
  CHECK(Str(m3[0].at("role")) == "system");
  CHECK(Str(m3[1].at("content")) == "Write hello.txt and check it.");
  CHECK(Str(m3[2].at("tool_calls").at(0).at("function").at("arguments")) ==
        "{\"path\": \"out/hello.txt\", \"content\": \"hi there\\n\"}");
  CHECK(Str(m3[3].at("role")) == "tool");
  CHECK(Str(m3[3].at("tool_call_id")) == "call_w");
  CHECK(Str(m3[5].at("tool_call_id")) == "call_b");

  // A chat turn keeps the history.
  h.Send(UserMessage("sevt_000000000007", "ping"));
  json::object processed = ExpectControl(h, "processed");
  CHECK(Str(processed.at("event_id")) == "sevt_000000000007");
  Expect(h, "session.status_running");
  Expect(h, "span.model_request_end");
  msg = Expect(h, "agent.message");
  CHECK(Str(msg.at("content").at(0).at("text")) == "pong");
  Expect(h, "session.status_idle");
  const json::array& m4 = Messages(server.requests().at(3), holder);
  CHECK(m4.size() == 8);
  CHECK(Str(m4.back().at("content")) == "ping");

  h.CloseStdin();
  CHECK(h.WaitExit() == 0);
}

TEST_CASE("harness without a task goes idle at once and exits 0 on EOF") {
  testing::TempDir dir;
  HttpServer server([](const HttpRequest&) { return HttpResponse{}; });
  HarnessProcess h(WriteConfig(dir, Config(dir.path() / "ws")), server.url());
  json::object idle = Expect(h, "session.status_idle");
  CHECK(Str(idle.at("stop_reason").at("type")) == "end_turn");
  h.CloseStdin();
  CHECK(h.WaitExit() == 0);
  CHECK(h.drained().empty());
  CHECK(server.requests().empty());
}

TEST_CASE("harness in task mode exits 0 after the task turn") {
  testing::TempDir dir;
  HttpServer server([](const HttpRequest&) {
    return SseResponse({testing::SseContent("done"), testing::SseUsage(1, 1), testing::SseDone()});
  });
  HarnessProcess h(WriteConfig(dir, Config(dir.path() / "ws", {{"task", "t"}, {"mode", "task"}})),
                   server.url());
  CHECK(h.WaitExit() == 0);
  REQUIRE(h.drained().size() == 4);
  CHECK(TypeOf(h.drained()[3]) == "session.status_idle");
}

TEST_CASE("a budget refusal is a budget_exceeded session error and exit code 3") {
  testing::TempDir dir;
  HttpServer server([](const HttpRequest&) {
    HttpResponse r;
    r.status = 429;
    r.headers = {{"Retry-After", "3600"}};
    r.body =
        R"({"error":{"message":"Agent coder: tokens.maxPerDay 1000 reached","type":"insufficient_quota","param":null,"code":"insufficient_quota"}})";
    return r;
  });
  HarnessProcess h(WriteConfig(dir, Config(dir.path() / "ws", {{"task", "t"}})), server.url());
  Expect(h, "session.status_running");
  json::object err = Expect(h, "session.error");
  CHECK(Str(err.at("error").at("type")) == "budget_exceeded");
  CHECK(Str(err.at("error").at("message")) == "Agent coder: tokens.maxPerDay 1000 reached");
  CHECK(h.WaitExit() == 3);
  CHECK(h.drained().empty());
  CHECK(server.requests().size() == 1);
}

TEST_CASE("a 401 right after start is retried: a fresh identity reaches the gateway late") {
  testing::TempDir dir;
  std::atomic<int> calls{0};
  HttpServer server([&calls](const HttpRequest&) {
    if (calls.fetch_add(1) < 2) {
      HttpResponse r;
      r.status = 401;
      r.body = R"({"error":{"message":"invalid token","type":"authentication_error"}})";
      return r;
    }
    return SseResponse({testing::SseContent("done"), testing::SseUsage(1, 1), testing::SseDone()});
  });
  HarnessProcess h(WriteConfig(dir, Config(dir.path() / "ws", {{"task", "t"}, {"mode", "task"}})),
                   server.url());
  CHECK(h.WaitExit() == 0);
  CHECK(calls.load() == 3);
  for (const auto& e : h.drained()) CHECK(TypeOf(e) != "session.error");
}

TEST_CASE("a refused token is a session error and exit code 4") {
  testing::TempDir dir;
  HttpServer server([](const HttpRequest&) {
    HttpResponse r;
    r.status = 401;
    r.body = R"({"error":{"message":"invalid token","type":"authentication_error","code":null}})";
    return r;
  });
  HarnessProcess h(WriteConfig(dir, Config(dir.path() / "ws", {{"task", "t"}})), server.url());
  Expect(h, "session.status_running");
  json::object err = Expect(h, "session.error");
  CHECK(Str(err.at("error").at("type")) == "model_error");
  CHECK(h.WaitExit() == 4);
}

TEST_CASE("a bad request is a model_error and the session stays idle") {
  testing::TempDir dir;
  HttpServer server([](const HttpRequest&) {
    HttpResponse r;
    r.status = 400;
    r.body =
        R"({"error":{"message":"context too long","type":"invalid_request_error","code":"context_length_exceeded"}})";
    return r;
  });
  HarnessProcess h(WriteConfig(dir, Config(dir.path() / "ws", {{"task", "t"}})), server.url());
  Expect(h, "session.status_running");
  json::object err = Expect(h, "session.error");
  CHECK(Str(err.at("error").at("type")) == "model_error");
  CHECK(Str(err.at("error").at("message")) == "context too long");
  Expect(h, "session.status_idle");
  h.CloseStdin();
  CHECK(h.WaitExit() == 0);
}

TEST_CASE("an interrupt stops a long bash command and the session goes idle") {
  // Orphans of the killed shell are reparented to this process, so it can watch them die.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  testing::TempDir dir;
  const fs::path ws = dir.path() / "ws";
  fs::create_directories(ws);
  REQUIRE(::mkfifo((ws / "ready").c_str(), 0600) == 0);
  std::atomic<int> n{0};
  HttpServer server([&n](const HttpRequest&) {
    using namespace testing;
    if (n++ == 0) {
      return SseResponse({SseToolCallStart(0, "call_s", "bash",
                                           R"({"command":"sleep 30 & echo $! > ready; wait"})"),
                          SseFinish("tool_calls"), SseDone()});
    }
    return SseResponse({SseContent("ok"), SseDone()});
  });
  HarnessProcess h(WriteConfig(dir, Config(ws)), server.url());
  Expect(h, "session.status_idle");
  h.Send(UserMessage("sevt_000000000001", "sleep please"));
  ExpectControl(h, "processed");
  Expect(h, "session.status_running");
  Expect(h, "span.model_request_end");
  Expect(h, "agent.tool_use");
  // Blocks until the command runs and names its sleeper.
  const pid_t sleeper = static_cast<pid_t>(std::stol(testing::ReadFile(ws / "ready")));
  const auto start = std::chrono::steady_clock::now();
  h.Send(json::object{{"id", "sevt_000000000002"}, {"type", "user.interrupt"}});
  json::object processed = ExpectControl(h, "processed");
  CHECK(Str(processed.at("event_id")) == "sevt_000000000002");
  json::object result = Expect(h, "agent.tool_result");
  CHECK(result.at("is_error") == true);
  CHECK(Str(result.at("content").at(0).at("text")).find("interrupted") != std::string::npos);
  json::object idle = Expect(h, "session.status_idle");
  CHECK(Str(idle.at("stop_reason").at("type")) == "interrupted");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  // The sleeper was killed with its group: it exits (as this process's zombie, or reaped).
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, sleeper, 0));
  if (pidfd < 0) {
    CHECK(errno == ESRCH);
  } else {
    pollfd p{pidfd, POLLIN, 0};
    CHECK(::poll(&p, 1, 5000) == 1);
    ::close(pidfd);
  }
  ::waitpid(sleeper, nullptr, WNOHANG);

  // The next turn sees a tool answer for the interrupted call.
  h.Send(UserMessage("sevt_000000000003", "go on"));
  ExpectControl(h, "processed");
  Expect(h, "session.status_running");
  Expect(h, "span.model_request_end");
  Expect(h, "agent.message");
  Expect(h, "session.status_idle");
  json::object holder;
  const json::array& m = Messages(server.requests().at(1), holder);
  REQUIRE(m.size() == 5);  // system, user, assistant+bash, tool, user
  CHECK(Str(m[3].at("role")) == "tool");
  CHECK(Str(m[3].at("tool_call_id")) == "call_s");
  h.CloseStdin();
  CHECK(h.WaitExit() == 0);
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_CASE("an interrupt aborts the model stream in progress") {
  testing::TempDir dir;
  std::promise<void> started;
  std::promise<void> closed;
  HttpServer server([&](const HttpRequest&) {
    HttpResponse r = SseResponse({testing::SseContent("thinking...")});
    r.hold_open = true;
    r.client_closed = [&closed] { closed.set_value(); };
    started.set_value();
    return r;
  });
  HarnessProcess h(WriteConfig(dir, Config(dir.path() / "ws")), server.url());
  Expect(h, "session.status_idle");
  h.Send(UserMessage("sevt_000000000001", "think hard"));
  ExpectControl(h, "processed");
  Expect(h, "session.status_running");
  REQUIRE(started.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  h.Send(json::object{{"id", "sevt_000000000002"}, {"type", "user.interrupt"}});
  ExpectControl(h, "processed");
  json::object idle = Expect(h, "session.status_idle");
  CHECK(Str(idle.at("stop_reason").at("type")) == "interrupted");
  CHECK(closed.get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  h.CloseStdin();
  CHECK(h.WaitExit() == 0);
  CHECK(h.drained().empty());  // no span, no message from the aborted answer
}

TEST_CASE("rate limits are retried, then reported as rate_limited, and the session stays idle") {
  testing::TempDir dir;
  HttpServer server([](const HttpRequest&) {
    HttpResponse r;
    r.status = 429;
    r.headers = {{"Retry-After", "0"}};
    r.body =
        R"({"error":{"message":"Agent coder: maxRequestsPerMinute 2 reached","type":"requests","code":"rate_limit_exceeded"}})";
    return r;
  });
  HarnessProcess h(WriteConfig(dir, Config(dir.path() / "ws", {{"task", "t"}})), server.url());
  Expect(h, "session.status_running");
  json::object err = Expect(h, "session.error");
  CHECK(Str(err.at("error").at("type")) == "rate_limited");
  Expect(h, "session.status_idle");
  CHECK(server.requests().size() == 4);
  h.CloseStdin();
  CHECK(h.WaitExit() == 0);
}

TEST_CASE("a custom tool round trip waits for the user's result") {
  testing::TempDir dir;
  std::atomic<int> n{0};
  HttpServer server([&n](const HttpRequest&) {
    using namespace testing;
    if (n++ == 0) {
      return SseResponse({SseToolCallStart(0, "call_c", "approve_pr", "{\"pr\":"),
                          SseToolCallArgs(0, "42}"), SseFinish("tool_calls"), SseDone()});
    }
    return SseResponse({SseContent("Merged."), SseDone()});
  });
  json::array tools;
  tools.push_back(json::object{{"name", "bash"}});
  tools.push_back(json::object{{"name", "read"}, {"enabled", false}});
  tools.push_back(json::object{
      {"name", "approve_pr"},
      {"type", "custom"},
      {"description", "Ask the user to approve a PR"},
      {"input_schema", json::object{{"type", "object"},
                                    {"properties", json::object{{"pr", {{"type", "integer"}}}}}}}});
  HarnessProcess h(
      WriteConfig(dir, Config(dir.path() / "ws", {{"task", "merge it"}, {"tools", tools}})),
      server.url());
  Expect(h, "session.status_running");
  Expect(h, "span.model_request_end");
  json::object use = Expect(h, "agent.custom_tool_use");
  CHECK(Str(use.at("tool_use_id")) == "call_c");
  CHECK(Str(use.at("name")) == "approve_pr");
  CHECK(use.at("input").at("pr").as_int64() == 42);
  json::object idle = Expect(h, "session.status_idle");
  CHECK(Str(idle.at("stop_reason").at("type")) == "requires_action");
  CHECK(Str(idle.at("stop_reason").at("event_ids").at(0)) == "call_c");

  json::array content;
  content.push_back(json::object{{"type", "text"}, {"text", "approved by alice"}});
  h.Send(json::object{{"id", "sevt_000000000005"},
                      {"type", "user.custom_tool_result"},
                      {"custom_tool_use_id", "call_c"},
                      {"content", content},
                      {"is_error", false}});
  json::object processed = ExpectControl(h, "processed");
  CHECK(Str(processed.at("event_id")) == "sevt_000000000005");
  Expect(h, "session.status_running");
  Expect(h, "span.model_request_end");
  Expect(h, "agent.message");
  idle = Expect(h, "session.status_idle");
  CHECK(Str(idle.at("stop_reason").at("type")) == "end_turn");

  auto reqs = server.requests();
  json::object body = Body(reqs[0]);
  const json::array& offered = body.at("tools").as_array();
  REQUIRE(offered.size() == 2);
  CHECK(Str(offered[0].at("function").at("name")) == "bash");
  CHECK(Str(offered[1].at("function").at("name")) == "approve_pr");
  json::object holder;
  const json::array& m = Messages(reqs[1], holder);
  CHECK(Str(m.back().at("content")) == "approved by alice");
  h.CloseStdin();
  CHECK(h.WaitExit() == 0);
}

TEST_CASE("register_file goes to the runtime as a control line and back") {
  testing::TempDir dir;
  const fs::path ws = dir.path() / "ws";
  testing::WriteFile(ws / "report.md", "# report\n");
  std::atomic<int> n{0};
  HttpServer server([&n](const HttpRequest&) {
    using namespace testing;
    if (n++ == 0) {
      return SseResponse({SseToolCallStart(0, "call_r", "register_file",
                                           R"({"file":"reports","path":"report.md"})"),
                          SseDone()});
    }
    return SseResponse({SseContent("Published."), SseDone()});
  });
  HarnessProcess h(WriteConfig(dir, Config(ws, {{"task", "publish"}})), server.url());
  Expect(h, "session.status_running");
  Expect(h, "span.model_request_end");
  Expect(h, "agent.tool_use");
  json::object req = ExpectControl(h, "register_file");
  CHECK(Str(req.at("file")) == "reports");
  CHECK(Str(req.at("path")) == (ws / "report.md").string());
  h.Send(json::object{
      {"control", "register_file_result"}, {"request_id", req.at("request_id")}, {"version", 7}});
  json::object result = Expect(h, "agent.tool_result");
  CHECK(result.at("is_error") == false);
  CHECK(Str(result.at("content").at(0).at("text")) ==
        "Registered report.md as version 7 of file reports");
  h.CloseStdin();
  CHECK(h.WaitExit() == 0);
}

TEST_CASE("the step limit ends a turn with a message") {
  testing::TempDir dir;
  HttpServer server([](const HttpRequest&) {
    using namespace testing;
    return SseResponse({SseToolCallStart(0, "call_x", "bash", R"({"command":"true"})"), SseDone()});
  });
  json::object c = Config(dir.path() / "ws", {{"task", "loop"}});
  c["limits"].as_object()["max_steps_per_turn"] = 2;
  HarnessProcess h(WriteConfig(dir, c), server.url());
  h.CloseStdin();
  CHECK(h.WaitExit() == 0);
  const auto& lines = h.drained();
  REQUIRE(lines.size() >= 2);
  const json::object& last_msg = lines[lines.size() - 2];
  CHECK(TypeOf(last_msg) == "agent.message");
  CHECK(Str(last_msg.at("content").at(0).at("text")).find("limit of 2 model steps") !=
        std::string::npos);
  CHECK(server.requests().size() == 2);
}

TEST_CASE("a broken session.json is a harness_error and exit code 2") {
  testing::TempDir dir;
  testing::WriteFile(dir.path() / "session.json", R"({"models": []})");
  HarnessProcess h(dir.path() / "session.json", "http://127.0.0.1:9");
  json::object err = Expect(h, "session.error");
  CHECK(Str(err.at("error").at("type")) == "harness_error");
  CHECK(h.WaitExit() == 2);
}

}  // namespace
}  // namespace pai::harness
