#include "cli/pai/views.h"

#include <catch2/catch.hpp>

#include "boost/json/parse.hpp"
#include "cli/pai/text.h"

namespace pai::cli {
namespace {

namespace json = boost::json;

const int64_t kNow = *ParseRfc3339("2026-04-14T14:00:00Z");

std::vector<json::value> Parse(std::initializer_list<const char*> docs) {
  std::vector<json::value> out;
  for (const char* d : docs) out.push_back(json::parse(d));
  return out;
}

TEST_CASE("agents table matches the seeds' columns", "[cli]") {
  auto items = Parse({
      R"({"metadata":{"name":"dev-assistant","creationTimestamp":"2026-04-09T14:00:00Z"},
          "spec":{"models":["anthropic/claude-sonnet"]}})",
      R"({"metadata":{"name":"my-app","creationTimestamp":"2026-04-14T12:00:00Z"},
          "spec":{"longRunning":true,"models":["google/gemini-flash"]},
          "status":{"phase":"Running","tokensToday":12450,"url":"https://a7x3k9.pairun.dev"}})",
      R"({"metadata":{"name":"analyze-q4-data","creationTimestamp":"2026-04-14T13:50:00Z"},
          "spec":{"type":"task","models":["anthropic/claude-sonnet"],
                  "task":"Analyze Q4 sales data and produce a report for the board"},
          "status":{"phase":"Complete","tokensToday":4120}})",
      R"({"metadata":{"name":"broken","creationTimestamp":"2026-04-14T13:59:50Z"},
          "spec":{},"status":{"ready":false}})",
  });
  const std::string out = ResourceTable("Agent", items, kNow, false).Render();
  CHECK(out ==
        "NAME              TYPE      STATUS     MODELS          TOKENS/DAY   URL / TASK            "
        "                     AGE\n"
        "dev-assistant                          claude-sonnet   \u2014            \u2014           "
        "                               5d\n"
        "my-app            service   Running    gemini-flash    12,450       "
        "https://a7x3k9.pairun.dev                  2h\n"
        "analyze-q4-data   task      Complete   claude-sonnet   4,120        Analyze Q4 sales data "
        "and produce a rep\u2026   10m\n"
        "broken                      NotReady   \u2014               \u2014            \u2014      "
        "                                    10s\n");
}

TEST_CASE("agents table: Sessions are task rows - caps, schedules", "[cli]") {
  auto agents = Parse({
      R"({"metadata":{"name":"openclaw","namespace":"a","creationTimestamp":"2026-04-09T14:00:00Z"},
          "spec":{"models":["anthropic/claude-sonnet"],"tokens":{"maxPerDay":1000000}},
          "status":{"tokensToday":12450}})",
      R"({"metadata":{"name":"daily-report","namespace":"a","creationTimestamp":"2026-04-12T14:00:00Z"},
          "spec":{"models":["google/gemini-flash"],"triggers":[{"schedule":"0 9 * * *"}]}})",
  });
  auto sessions = Parse({
      R"({"kind":"Session","metadata":{"name":"fix-bug-42","namespace":"a",
          "creationTimestamp":"2026-04-14T13:50:00Z"},
          "spec":{"agent":"openclaw","task":"Fix the null pointer in auth middleware"},
          "status":{"phase":"Complete","tokensUsed":4120}})",
      R"({"kind":"Session","metadata":{"name":"research-abc","namespace":"a",
          "creationTimestamp":"2026-04-14T13:58:00Z"},
          "spec":{"agent":"gone","models":["google/gemini-flash"]},
          "status":{"phase":"Running","tokensUsed":1800}})",
  });
  CHECK(AgentsTable(agents, sessions, kNow, false).Render() ==
        "NAME           TYPE   STATUS     MODELS          TOKENS/DAY           URL / TASK          "
        "                      AGE\n"
        "openclaw                         claude-sonnet   12,450 / 1,000,000   \u2014              "
        "                           5d\n"
        "daily-report                     gemini-flash    \u2014                    0 9 * * *      "
        "                           2d\n"
        "fix-bug-42     task   Complete   claude-sonnet   4,120                Fix the null "
        "pointer in auth middleware   10m\n"
        "research-abc   task   Running    gemini-flash    1,800                \u2014              "
        "                           2m\n");
  // The model lookup may use Agents that are not shown (--type task).
  CHECK(AgentsTable({}, {sessions[0]}, kNow, true, &agents).Render() ==
        "NAMESPACE   NAME         TYPE   STATUS     MODELS          TOKENS/DAY   URL / TASK        "
        "                        AGE\n"
        "a           fix-bug-42   task   Complete   claude-sonnet   4,120        Fix the null "
        "pointer in auth middleware   10m\n");
}

TEST_CASE("agent type: longRunning is service, legacy type task is task, else blank", "[cli]") {
  CHECK(AgentType(json::parse(R"({"spec":{"longRunning":true}})")) == "service");
  CHECK(AgentType(json::parse(R"({"spec":{"type":"task"}})")) == "task");
  CHECK(AgentType(json::parse(R"({"spec":{"type":"service"}})")) == "service");
  CHECK(AgentType(json::parse(R"({"spec":{}})")) == "");
}

TEST_CASE("a NAMESPACE column comes first with all namespaces", "[cli]") {
  auto items = Parse({R"({"metadata":{"name":"k","namespace":"team-a"},"type":"Opaque",
                          "keys":["api-key","other"]})"});
  CHECK(ResourceTable("Secret", items, kNow, true).Render() ==
        "NAMESPACE   NAME   TYPE     KEYS            AGE\n"
        "team-a      k      Opaque   api-key,other   \u2014\n");
}

TEST_CASE("sessions, model providers, providers, skills and guard bindings", "[cli]") {
  CHECK(ResourceTable("Session",
                      Parse({R"({"metadata":{"name":"fix-bug-42"},"spec":{"agent":"openclaw",
                      "task":"Fix the null pointer in auth middleware"},
                      "status":{"phase":"Complete","tokensUsed":4120}})"}),
                      kNow, false)
            .Render() ==
        "NAME         AGENT-DEFINITION   PHASE      TOKENS   TASK\n"
        "fix-bug-42   openclaw           Complete   4,120    Fix the null pointer in auth "
        "middleware\n");
  CHECK(ResourceTable("ModelProvider",
                      Parse({R"({"metadata":{"name":"anthropic"},"spec":{"provider":"anthropic",
                      "maxTokensDay":5000000},"status":{"ready":true}})"}),
                      kNow, false)
            .Render() ==
        "NAME        PROVIDER    READY   MAX-TOKENS/DAY   AGE\n"
        "anthropic   anthropic   true    5,000,000        \u2014\n");
  CHECK(ResourceTable("Provider", Parse({R"({"metadata":{"name":"gh"},"spec":{"provider":"github",
                      "secretRef":"gh-token","repos":["a/b","c/d"]}})"}),
                      kNow, false)
            .Render() ==
        "NAME   PROVIDER   SECRET     REPOS     AGE\n"
        "gh     github     gh-token   a/b,c/d   \u2014\n");
  CHECK(ResourceTable("Skill",
                      Parse({R"({"metadata":{"name":"s"},"spec":{"description":"Team standards",
                      "files":[{"path":"a","data":""},{"path":"b","data":""}]}})"}),
                      kNow, false)
            .Render() ==
        "NAME   FILES   DESCRIPTION      AGE\n"
        "s      2       Team standards   \u2014\n");
  CHECK(ResourceTable("GuardBinding",
                      Parse({R"({"metadata":{"name":"g"},"spec":{"classifier":{"type":"builtin"},
                      "threshold":0.8,"enforcement":"enforce"}})"}),
                      kNow, false)
            .Render() ==
        "NAME   CLASSIFIER   THRESHOLD   ENFORCEMENT   AGE\n"
        "g      builtin      0.8         enforce       \u2014\n");
}

TEST_CASE("access token status: revoked, expired, active", "[cli]") {
  CHECK(TokenStatus(json::parse(R"({"status":{"revokedAt":"2026-01-01T00:00:00Z"}})"), kNow) ==
        "revoked");
  CHECK(TokenStatus(json::parse(R"({"spec":{"expiresAt":"2026-01-01T00:00:00Z"}})"), kNow) ==
        "expired");
  CHECK(TokenStatus(json::parse(R"({"spec":{"expiresAt":"2027-01-01T00:00:00Z"}})"), kNow) ==
        "active");
  CHECK(TokenStatus(json::parse(R"({"spec":{"expiresAt":"2026-01-01"}})"), kNow) == "expired");
  CHECK(TokenStatus(json::parse(R"({"spec":{}})"), kNow) == "active");
}

TEST_CASE("audit table: header, UTC timestamps, per-type details", "[cli]") {
  const auto records = json::parse(R"([
    {"seq":7,"time":"2026-04-14T14:18:45.120Z","type":"LLM_CALL","agent":"jane",
     "detail":{"model":"anthropic/claude-sonnet-4-6","input_tokens":1460,"output_tokens":94,
               "latency_ms":2683,"status":200}},
    {"seq":8,"time":"2026-04-14T14:20:10Z","type":"GUARD.VIOLATION_AUDIT","agent":"jane",
     "detail":{"binding":"prompt-guard-audit","target":"prompt","score":1.0,"threshold":0.8,
               "rules":["ignore-previous"]}},
    {"seq":9,"time":"2026-04-14T14:20:11Z","type":"BUDGET_EXCEEDED","agent":"jane",
     "detail":{"limit":"tokens_per_day","limit_value":1000,"used":990,"requested":50,
               "model":"anthropic/claude-sonnet-4-6"}},
    {"seq":10,"time":"2026-04-14T14:20:12Z","type":"TOOL_CALL","agent":"jane",
     "detail":{"tool_name":"get_weather","model":"openai/gpt-4o"}}
  ])")
                           .as_array();
  CHECK(AuditTable(records) ==
        "  #   TIMESTAMP             EVENT                     DETAIL\n"
        "  0   2026-04-14 14:18:45   LLM_CALL                  jane claude-sonnet-4-6 in=1460 "
        "out=94 2683ms\n"
        "  1   2026-04-14 14:20:10   GUARD.VIOLATION_AUDIT     prompt-guard-audit prompt "
        "injection=1.0000 threshold=0.80 rules=ignore-previous\n"
        "  2   2026-04-14 14:20:11   BUDGET_EXCEEDED           tokens_per_day limit=1000 used=990 "
        "requested=50 claude-sonnet-4-6\n"
        "  3   2026-04-14 14:20:12   TOOL_CALL                 get_weather gpt-4o\n");
}

TEST_CASE("eval list and get follow the seeds' layout", "[cli]") {
  const auto eval = json::parse(R"({"metadata":{"name":"math-tutor-eval"},
    "spec":{"targetAgent":"math-tutor","judgeModel":"anthropic/claude-haiku-4-5"},
    "status":{"phase":"Passed","lastScore":1.0,"passed":2,"failed":0,"total":2,"lastResult":"Pass",
              "lastRunAt":"2026-05-05T19:51:40Z","runDuration":"11s",
              "fixtureResults":[{"name":"tutor-add","score":1,"result":"Pass","severity":"medium",
                                 "message":"all 4 assertions passed"}]}})");
  const std::string list = EvalList({eval});
  CHECK(list.rfind(
            "  Evals\n\nNAME              TARGET       SCORE   PASS/TOTAL   RESULT   LAST-RUN\n",
            0) == 0);
  // The rule under the header is the seeds' 75 columns of U+2500.
  std::string rule;
  for (int i = 0; i < 75; ++i) rule += "\u2500";
  CHECK(list.find("LAST-RUN\n" + rule + "\n") != std::string::npos);
  CHECK(list.find(
            "math-tutor-eval   math-tutor   1.00    2/2          Pass     2026-05-05T19:51:40\n") !=
        std::string::npos);
  const std::string get = EvalGet(eval);
  CHECK(get.rfind("  math-tutor-eval  eval\n\n  Phase            Passed\n", 0) == 0);
  CHECK(get.find("  Pass/Fail/Total  2 / 0 / 2\n") != std::string::npos);
  CHECK(get.find("  Judge model      anthropic/claude-haiku-4-5\n") != std::string::npos);
  CHECK(get.find("\nFixture results:\n\nFIXTURE     SCORE   RESULT   SEVERITY   MESSAGE\n\u2500") !=
        std::string::npos);
  CHECK(get.find("tutor-add   1.00    Pass     medium     all 4 assertions passed\n") !=
        std::string::npos);
}

TEST_CASE("metrics view has a usage table, a blank line, a per-day table", "[cli]") {
  const auto m = json::parse(R"({"items":[{"namespace":"default","agent":"coder",
    "model":"mock/gpt-4o-mini","requests":3,"inputTokens":1200,"outputTokens":30,"costUSD":0.0012}],
    "agents":[{"namespace":"default","agent":"coder","tokensToday":1230,"costTodayUSD":0.0012}]})");
  CHECK(MetricsView(m, false) ==
        "AGENT   MODEL              REQUESTS   TOKENS-IN   TOKENS-OUT   COST-USD\n"
        "coder   mock/gpt-4o-mini   3          1,200       30           0.0012\n"
        "\n"
        "AGENT   TOKENS/DAY   COST/DAY-USD\n"
        "coder   1,230        0.0012\n");
}

TEST_CASE("env list is sorted with the seeds' comment line", "[cli]") {
  CHECK(EnvList(
            json::parse(R"({"GIT_AUTHOR_NAME":"Jane Smith","GIT_AUTHOR_EMAIL":"jane@example.com"})")
                .as_object()) ==
        "# User env vars (injected into all new agent pods)\n"
        "GIT_AUTHOR_EMAIL = jane@example.com\n"
        "GIT_AUTHOR_NAME = Jane Smith\n");
}

TEST_CASE("migrate view lists changes, marks dry runs, says when nothing is legacy", "[cli]") {
  CHECK(MigrateView(json::parse(R"({"items":[]})"), false) == "no legacy Agents\n");
  CHECK(MigrateView(json::parse(R"({"items":[{"name":"old","changes":["modelBindings -> models"],
        "session":null,"unresolved":[]}]})"),
                    true) == "agent/old: modelBindings -> models\n(dry run: nothing written)\n");
}

TEST_CASE("display kinds are the CLI's singular names", "[cli]") {
  CHECK(DisplayKind("Agent") == "agent");
  CHECK(DisplayKind("AgentWorkload") == "agent");
  CHECK(DisplayKind("ModelProvider") == "model-provider");
  CHECK(DisplayKind("GuardBinding") == "guard-binding");
  CHECK(DisplayKind("PaiFile") == "paifile");
}

}  // namespace
}  // namespace pai::cli
