// Triggers and session timing with an injected clock: cron ticks (UTC), no-overlap skipping,
// the schedule's run history, webhook CIDRs and Linear signatures, idle timeouts and TTLs.
#include "server/triggers.h"

#include <openssl/hmac.h>
#include <stdlib.h>
#include <time.h>

#include <set>

#include "absl/strings/escaping.h"
#include "server/clock.h"
#include "server/runtime.h"
#include "server/sessions.h"
#include "test_util.h"

namespace pai::server {
namespace {

using testing::kNs;
using testing::Server;
namespace json = boost::json;

absl::Time At(const std::string& rfc3339) {
  absl::Time t = ParseRfc3339(rfc3339);
  REQUIRE(t != absl::InfinitePast());
  return t;
}

// Schedules are computed in the process's local time zone, which pai-server sets to UTC.
void Utc() {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
}

TEST_CASE("cron ticks are 5-field UTC expressions") {
  Utc();
  auto next = NextCronTick("*/5 * * * *", At("2026-12-05T10:02:30Z"));
  REQUIRE(next.ok());
  CHECK(Rfc3339(*next) == "2026-12-05T10:05:00Z");
  // 2026-12-05 is a Saturday: the next Monday 09:00.
  next = NextCronTick("0 9 * * 1", At("2026-12-05T10:00:00Z"));
  REQUIRE(next.ok());
  CHECK(Rfc3339(*next) == "2026-12-07T09:00:00Z");
  next = NextCronTick("0 0 1 * *", At("2026-12-05T10:00:00Z"));
  REQUIRE(next.ok());
  CHECK(Rfc3339(*next) == "2027-01-01T00:00:00Z");
  // Exactly on a tick: the next one.
  next = NextCronTick("*/5 * * * *", At("2026-12-05T10:05:00Z"));
  REQUIRE(next.ok());
  CHECK(Rfc3339(*next) == "2026-12-05T10:10:00Z");
  next = NextCronTick("@daily", At("2026-12-05T10:00:00Z"));
  REQUIRE(next.ok());
  CHECK(Rfc3339(*next) == "2026-12-06T00:00:00Z");
  next = NextCronTick("0  9\t* * 1", At("2026-12-05T10:00:00Z"));
  REQUIRE(next.ok());
  CHECK(Rfc3339(*next) == "2026-12-07T09:00:00Z");
  CHECK(absl::IsInvalidArgument(NextCronTick("61 * * * *", absl::Now()).status()));
  CHECK(absl::IsInvalidArgument(NextCronTick("not cron", absl::Now()).status()));
}

TEST_CASE("CIDRs match IPv4, IPv6 and IPv4-mapped callers") {
  CHECK(CidrContains("10.0.0.0/8", "10.1.2.3"));
  CHECK_FALSE(CidrContains("10.0.0.0/8", "11.0.0.1"));
  CHECK(CidrContains("127.0.0.1/32", "127.0.0.1"));
  CHECK(CidrContains("127.0.0.1", "127.0.0.1"));
  CHECK(CidrContains("0.0.0.0/0", "8.8.8.8"));
  CHECK(CidrContains("10.0.0.0/8", "::ffff:10.0.0.9"));
  CHECK(CidrContains("fd00::/8", "fd12::1"));
  CHECK_FALSE(CidrContains("fd00::/8", "fe80::1"));
  CHECK_FALSE(CidrContains("10.0.0.0/33", "10.0.0.1"));
  CHECK_FALSE(CidrContains("garbage", "10.0.0.1"));
}

// World: the API and a controller over one store, with a manual clock and no runtime (Sessions
// stay Pending, hence active).
struct World {
  Server s;
  NoRuntime runtime;
  ManualClock clock;
  Controller controller{*s.store, runtime, s.gw_tokens, Options()};

  ControllerOptions Options() {
    ControllerOptions o;
    o.gateway_config_path = s.dir / "gateway/pai.yaml";
    o.gateway_state_dir = s.gateway_dir;
    o.gateway_url = "http://127.0.0.1:4000/v1";
    o.clock = &clock;
    o.public_url = "http://pai.example:7070";
    return o;
  }
  void Apply(const std::string& name, const std::string& spec) {
    (void)s.Admin(
        "PUT", kNs + "default/modelproviders/mock",
        R"({"kind":"ModelProvider","metadata":{"name":"mock"},"spec":{"provider":"mock"}})");
    ApiResponse r =
        s.Admin("PUT", kNs + "default/agents/" + name,
                R"({"kind":"Agent","metadata":{"name":")" + name + R"("},"spec":)" + spec + "}");
    INFO(r.body);
    REQUIRE((r.status == 200 || r.status == 201));
  }
  void Reconcile() {
    absl::Status st = controller.ReconcileOnce();
    INFO(st.message());
    REQUIRE(st.ok());
  }
  std::vector<Resource> Runs(const std::string& agent) {
    auto list = s.store->List("Session", "default", Store::Scope::kNamespace);
    REQUIRE(list.ok());
    std::vector<Resource> out;
    for (auto& r : *list) {
      if (r.object.at("spec").as_object().at("agent").as_string() == agent) out.push_back(r);
    }
    return out;
  }
  json::object AgentStatus(const std::string& name) {
    auto r = s.store->Get("Agent", "default", name);
    REQUIRE(r.ok());
    return r->object.at("status").as_object();
  }
};

TEST_CASE("a schedule starts one run per tick and skips a tick while its run is active") {
  Utc();
  World w;
  w.Apply("nightly", R"({"models":["mock/gpt-4o-mini"],"triggers":[{"schedule":"*/5 * * * *"}]})");
  w.Reconcile();
  w.Reconcile();
  json::object st = w.AgentStatus("nightly");
  CHECK(st.at("phase").as_string() == "Scheduled");
  CHECK(st.at("cronJobName").as_string() == "default.nightly.cron");
  const size_t before = w.Runs("nightly").size();
  CHECK(before <= 1);  // a tick may fall between the Agent's creation and now
  w.clock.Advance(absl::Minutes(5));
  w.Reconcile();
  auto runs = w.Runs("nightly");
  REQUIRE(runs.size() == before + 1);
  const json::object& labels =
      runs.back().object.at("metadata").as_object().at("labels").as_object();
  CHECK(labels.at(kTriggerLabel).as_string() == "schedule");
  // The run is still active (nothing runs it here): the next tick is skipped and recorded.
  w.clock.Advance(absl::Minutes(5));
  w.Reconcile();
  CHECK(w.Runs("nightly").size() == before + 1);
  st = w.AgentStatus("nightly");
  CHECK(st.at("skippedRuns").as_int64() >= 1);
  CHECK(st.contains("lastSkippedAt"));
  CHECK(st.at("lastRunPhase").as_string() == "Pending");
  CHECK(st.contains("nextScheduleTime"));
}

TEST_CASE(
    "a schedule keeps its last 3 Complete runs and removes older ones a day after they finished") {
  Utc();
  World w;
  w.Apply("daily", R"({"models":["mock/gpt-4o-mini"],"triggers":[{"schedule":"0 3 * * *"}]})");
  w.Reconcile();
  auto agent = w.s.store->Get("Agent", "default", "daily");
  REQUIRE(agent.ok());
  const std::string done = Rfc3339(w.clock.Now() - absl::Hours(25));
  for (int i = 1; i <= 5; ++i) {
    const std::string name = "daily-run-" + std::to_string(i);
    auto created =
        w.s.store->Create(NewSession(*agent, name, json::object{{"task", "t"}}, "schedule"));
    REQUIRE(created.ok());
    const std::string phase = i == 1 ? "Error" : "Complete";
    REQUIRE(w.s.store
                ->UpdateStatus("Session", "default", name, created->uid(),
                               json::object{{"phase", phase}, {"completedAt", done}})
                .ok());
  }
  w.Reconcile();
  std::set<std::string> left;
  for (const auto& r : w.Runs("daily")) left.insert(r.name);
  // Newest first by name (same creation second): runs 5, 4, 3 stay; run 2 goes; the only
  // Error run (1) is within the 3 failed kept.
  CHECK(left == std::set<std::string>{"daily-run-1", "daily-run-3", "daily-run-4", "daily-run-5"});
}

TEST_CASE("webhooks: a URL per Agent, CIDRs and the Linear signature are enforced") {
  World w;
  EventHub hub;
  SessionEvents events(*w.s.store, hub, w.clock, nullptr);
  w.s.MustAdmin("PUT", kNs + "default/secrets/linear",
                R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"linear"},)"
                R"("stringData":{"webhook-secret":"s3cret"}})",
                201);
  w.Apply("hooked", R"({"models":["mock/gpt-4o-mini"],"triggers":[{"webhook":)"
                    R"({"allowCIDRs":["10.0.0.0/8"],"linearSignatureSecret":"linear"}}]})");
  w.Reconcile();
  const std::string url(w.AgentStatus("hooked").at("webhookURL").as_string());
  const std::string prefix = "http://pai.example:7070/hooks/";
  REQUIRE(url.rfind(prefix, 0) == 0);
  const std::string token = url.substr(prefix.size());
  CHECK(token.size() >= 40);  // 32 random bytes

  const std::string body = R"({"action":"create"})";
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), "s3cret", 6, reinterpret_cast<const unsigned char*>(body.data()), body.size(),
       mac, &len);
  const std::string good = absl::BytesToHexString(std::string(reinterpret_cast<char*>(mac), len));

  CHECK(HandleWebhook(*w.s.store, events, w.runtime, {"wrong", "10.0.0.1", good, body}).status ==
        404);
  WebhookResult r =
      HandleWebhook(*w.s.store, events, w.runtime, {token, "192.168.1.1", good, body});
  CHECK(r.status == 403);
  r = HandleWebhook(*w.s.store, events, w.runtime,
                    {token, "10.0.0.1", "00" + good.substr(2), body});
  CHECK(r.status == 403);
  CHECK(w.Runs("hooked").empty());
  r = HandleWebhook(*w.s.store, events, w.runtime, {token, "10.0.0.1", good, body});
  INFO(r.message);
  REQUIRE(r.status == 202);
  auto runs = w.Runs("hooked");
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].name == r.session);
  const std::string task(runs[0].object.at("spec").as_object().at("task").as_string());
  CHECK(task.find(body) != std::string::npos);

  // Without the trigger the URL stops working.
  w.Apply("hooked", R"({"models":["mock/gpt-4o-mini"]})");
  w.Reconcile();
  CHECK(HandleWebhook(*w.s.store, events, w.runtime, {token, "10.0.0.1", good, body}).status ==
        404);
}

TEST_CASE("idle timeouts and TTLs resolve Session, then Agent, then the defaults") {
  Resource s;
  s.object = json::object{{"metadata", json::object{{"name", "x"}}},
                          {"spec", json::object{{"agent", "a"}}}};
  json::object agent;
  CHECK(IdleTimeout(s, agent) == absl::Minutes(15));
  agent["idleTimeoutMinutes"] = 30;
  CHECK(IdleTimeout(s, agent) == absl::Minutes(30));
  agent["idleTimeout"] = "5m";
  CHECK(IdleTimeout(s, agent) == absl::Minutes(30));  // interactive: the minutes setting
  s.object["metadata"].as_object()["labels"] = json::object{{kTriggerLabel, "webhook"}};
  CHECK(IdleTimeout(s, agent) == absl::Minutes(5));  // trigger-woken: the duration
  s.object["spec"].as_object()["idleTimeoutMinutes"] = 2;
  CHECK(IdleTimeout(s, agent) == absl::Minutes(2));  // the Session's own wins
  CHECK(TtlAfterFinished(s, {}, "Complete") == 7 * 86400);
  CHECK(TtlAfterFinished(s, {}, "Error") == 14 * 86400);
  agent["ttlSecondsAfterFinished"] = 0;
  CHECK(TtlAfterFinished(s, agent, "Complete") == 0);  // 0 keeps it forever
}

TEST_CASE(
    "the session configuration resolves tools: all built-ins, a listed subset, enabled false") {
  Resource s;
  s.ns = "default";
  s.name = "run";
  s.object = json::object{{"spec", json::object{{"agent", "a"}, {"task", "do it"}}}};
  auto names = [](const json::object& cfg) {
    std::vector<std::string> out;
    for (const auto& t : cfg.at("tools").as_array()) {
      out.emplace_back(t.as_object().at("name").as_string());
    }
    return out;
  };
  json::object cfg = SessionConfig(s, json::object{{"system", "be brief"}}, "interactive");
  CHECK(names(cfg) == BuiltinTools());
  CHECK(cfg.at("task").as_string() == "do it");
  CHECK(cfg.at("system").as_string() == "be brief");
  cfg = SessionConfig(
      s,
      testing::Parse(
          R"({"tools":[{"type":"bash"},{"type":"read"},{"type":"custom","name":"approve",)"
          R"("inputSchema":{"type":"object"}}]})")
          .as_object(),
      "task");
  CHECK(names(cfg) == std::vector<std::string>{"bash", "read", "approve"});
  CHECK(cfg.at("mode").as_string() == "task");
  cfg = SessionConfig(
      s, testing::Parse(R"({"tools":[{"type":"web_fetch","enabled":false}]})").as_object(),
      "interactive");
  auto n = names(cfg);
  CHECK(std::find(n.begin(), n.end(), "web_fetch") == n.end());
  CHECK(n.size() == BuiltinTools().size() - 1);
}

}  // namespace
}  // namespace pai::server
