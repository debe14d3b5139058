#include "cli/pai/events.h"

#include <catch2/catch.hpp>

#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"

namespace pai::cli {
namespace {

namespace json = boost::json;

std::string Render(const char* event, Style style = Style::kRun, Colors colors = Colors::kOff) {
  return RenderEvent(json::parse(event), style, colors);
}

TEST_CASE("events: agent messages print their text - chat prefixes Agent", "[cli]") {
  const char* msg =
      R"({"type":"agent.message","content":[{"type":"text","text":"I've modified auth/middleware.go"}]})";
  CHECK(Render(msg) == "I've modified auth/middleware.go\n");
  CHECK(Render(msg, Style::kChat) == "\nAgent I've modified auth/middleware.go\n");
  CHECK(Render(R"({"type":"agent.message","content":[{"type":"text","text":"a\nb"}]})",
               Style::kChat) == "\nAgent a\n      b\n");
  CHECK(Render(R"({"type":"agent.message","content":"plain"})") == "plain\n");
}

TEST_CASE("events: a tool call is one arrow line", "[cli]") {
  CHECK(Render(R"({"type":"agent.tool_use","name":"bash","input":{"command":"ls -la\ncat x"}})") ==
        "\u2192 bash: ls -la \u21b5 cat x\n");
  CHECK(Render(R"({"type":"agent.tool_use","name":"read","input":{"path":"/workspace/a.go"}})") ==
        "\u2192 read: /workspace/a.go\n");
  CHECK(Render(R"({"type":"agent.tool_use","name":"web_search","input":{"q":1}})") ==
        "\u2192 web_search: {\"q\":1}\n");
  CHECK(Render(R"({"type":"agent.custom_tool_use","name":"deploy","input":{}})") ==
        "\u2192 deploy (custom)\n");
  const std::string long_line =
      Render((R"({"type":"agent.tool_use","name":"bash","input":{"command":")" +
              std::string(300, 'x') + "\"}}")
                 .c_str());
  CHECK(long_line.size() < 140);
  CHECK(long_line.find("\u2026\n") != std::string::npos);
}

TEST_CASE("events: tool results show three lines, dimmed on a terminal, red on error", "[cli]") {
  const char* result =
      R"({"type":"agent.tool_result","content":[{"type":"text","text":"1\n2\n3\n4\n5\n"}]})";
  CHECK(Render(result) == "  1\n  2\n  3\n  \u2026 (2 more lines)\n");
  CHECK(Render(result, Style::kRun, Colors::kOn) ==
        "\x1b[2m  1\x1b[0m\n\x1b[2m  2\x1b[0m\n\x1b[2m  3\x1b[0m\n"
        "\x1b[2m  \u2026 (2 more lines)\x1b[0m\n");
  CHECK(
      Render(
          R"({"type":"agent.tool_result","is_error":true,"content":[{"type":"text","text":"boom"}]})",
          Style::kRun, Colors::kOn) == "\x1b[31m  boom\x1b[0m\n");
}

TEST_CASE("events: terminal escapes from the model are neutralised", "[cli]") {
  CHECK(Render(R"({"type":"agent.message","content":[{"type":"text","text":"a\u001b[2Jb\r"}]})") ==
        "a?[2Jb\n");
}

TEST_CASE("events: errors and failures are red only on a terminal", "[cli]") {
  const char* err =
      R"({"type":"session.error","error":{"type":"budget_exceeded","message":"tokens_per_day"}})";
  CHECK(Render(err) == "error: budget_exceeded: tokens_per_day\n");
  CHECK(Render(err, Style::kRun, Colors::kOn) ==
        "\x1b[31merror: budget_exceeded: tokens_per_day\x1b[0m\n");
  CHECK(Render(R"({"type":"session.status_terminated","phase":"Error","reason":"OOM"})") ==
        "Session failed: OOM\n");
  CHECK(Render(R"({"type":"session.status_terminated","phase":"Complete"})").empty());
}

TEST_CASE("events: status and span events are quiet - user messages only in run", "[cli]") {
  CHECK(Render(R"({"type":"session.status_running"})").empty());
  CHECK(Render(R"({"type":"session.status_idle","stop_reason":{"type":"end_turn"}})").empty());
  CHECK(Render(R"({"type":"session.status_idle","stop_reason":{"type":"interrupted"}})") ==
        "(interrupted)\n");
  CHECK(Render(R"({"type":"span.model_request_end","model":"m"})").empty());
  const char* user = R"({"type":"user.message","content":[{"type":"text","text":"hi"}]})";
  CHECK(Render(user) == "\u276f hi\n");
  CHECK(Render(user, Style::kChat).empty());
}

TEST_CASE("events: the end of a turn", "[cli]") {
  CHECK(TurnEndOf(json::parse(R"({"type":"session.status_idle"})")) == TurnEnd::kIdle);
  CHECK(TurnEndOf(json::parse(R"({"type":"session.status_terminated","phase":"Complete"})")) ==
        TurnEnd::kComplete);
  CHECK(TurnEndOf(json::parse(R"({"type":"session.status_terminated","phase":"Error"})")) ==
        TurnEnd::kError);
  CHECK(TurnEndOf(json::parse(R"({"type":"agent.message"})")) == TurnEnd::kNone);
  CHECK(TerminatedReason(json::parse(R"({"reason":"idle timeout"})")) == "idle timeout");
}

TEST_CASE("events: sequences from the field, the event id or the SSE id", "[cli]") {
  CHECK(EventSequence(json::parse(R"({"sequence":42,"id":"sevt_000000000041"})")) == 42);
  CHECK(EventSequence(json::parse(R"({"id":"sevt_000000000042"})")) == 42);
  CHECK(!EventSequence(json::parse(R"({"id":"x"})")).has_value());
  CHECK(SequenceOfId("17") == 17);
  CHECK(SequenceOfId("sevt_000000000017") == 17);
  CHECK(!SequenceOfId("").has_value());
  CHECK(!SequenceOfId("abc12").has_value());
}

TEST_CASE("events: the bodies pai chat posts", "[cli]") {
  CHECK(json::serialize(UserMessage("hi")) ==
        R"({"events":[{"type":"user.message","content":[{"type":"text","text":"hi"}]}]})");
  CHECK(json::serialize(UserInterrupt()) == R"({"events":[{"type":"user.interrupt"}]})");
}

TEST_CASE("events table: SEQ TIME TYPE SUMMARY", "[cli]") {
  std::vector<json::value> events = {
      json::parse(R"({"id":"sevt_000000000001","sequence":1,"type":"user.message",
                      "created_at":"2026-04-14T14:18:30.123Z",
                      "content":[{"type":"text","text":"Fix the bug"}]})"),
      json::parse(R"({"sequence":2,"type":"agent.tool_use","created_at":"2026-04-14T14:18:31.000Z",
                      "name":"bash","input":{"command":"go test ./..."}})"),
      json::parse(
          R"({"sequence":3,"type":"span.model_request_end","created_at":"2026-04-14T14:18:32Z",
                      "model":"mock/gpt-4o-mini","usage":{"total_tokens":1230}})"),
      json::parse(R"({"sequence":4,"type":"session.status_idle","created_at":"2026-04-14T14:18:33Z",
                      "stop_reason":{"type":"end_turn"}})"),
      json::parse(R"({"sequence":5,"type":"session.status_running"})"),
  };
  CHECK(EventsTable(events).Render() ==
        "SEQ   TIME                  TYPE                     SUMMARY\n"
        "1     2026-04-14 14:18:30   user.message             Fix the bug\n"
        "2     2026-04-14 14:18:31   agent.tool_use           bash: go test ./...\n"
        "3     2026-04-14 14:18:32   span.model_request_end   mock/gpt-4o-mini 1,230 tokens\n"
        "4     2026-04-14 14:18:33   session.status_idle      end_turn\n"
        "5     \u2014                     session.status_running   \u2014\n");
}

}  // namespace
}  // namespace pai::cli
