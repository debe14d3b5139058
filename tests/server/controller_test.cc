// The controller: the rendered gateway configuration, Agent statuses, gateway identities and
// tenant isolation of provider keys, from a real store.
#include <sys/stat.h>

#include "auth/token_store.h"
#include "config/manifest.h"
#include "server/runtime.h"
#include "test_util.h"

namespace pai::server {
namespace {

using testing::kNs;
using testing::Server;
namespace json = boost::json;

// World: a Server (store + API) and a Controller writing into the same temp directory.
struct World {
  Server s;
  NoRuntime runtime;
  std::string config_path = s.dir / "gateway/pai.yaml";
  Controller controller{*s.store, runtime, s.gw_tokens, Options()};

  ControllerOptions Options() {
    ControllerOptions o;
    o.gateway_config_path = config_path;
    o.gateway_state_dir = s.gateway_dir;
    o.gateway_url = "http://127.0.0.1:4000/v1";
    return o;
  }

  void Secret(const std::string& ns, const std::string& name, const std::string& key = "api-key") {
    s.MustAdmin("PUT", kNs + ns + "/secrets/" + name,
                R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":")" + name +
                    R"("},"stringData":{")" + key + R"(":"sk-test-123"}})",
                201);
  }
  void Provider(const std::string& ns, const std::string& name, const std::string& spec) {
    s.MustAdmin(
        "PUT", kNs + ns + "/modelproviders/" + name,
        R"({"kind":"ModelProvider","metadata":{"name":")" + name + R"("},"spec":)" + spec + "}",
        201);
  }
  void OpenAi(const std::string& ns) {
    Secret(ns, "openai-key");
    Provider(ns, "openai",
             R"({"provider":"openai","apiKeySecretRef":{"name":"openai-key","key":"api-key"}})");
  }
  void Agent(const std::string& ns, const std::string& name, const std::string& spec) {
    ApiResponse r =
        s.Admin("PUT", kNs + ns + "/agents/" + name,
                R"({"kind":"Agent","metadata":{"name":")" + name + R"("},"spec":)" + spec + "}");
    INFO(r.body);
    REQUIRE((r.status == 200 || r.status == 201));
  }
  void Reconcile() {
    absl::Status st = controller.ReconcileOnce();
    INFO(st.message());
    REQUIRE(st.ok());
  }
  config::Config Parsed() {
    auto c = config::ParseManifests({{config_path, testing::ReadFile(config_path)}}, {});
    INFO(c.status().message());
    REQUIRE(c.ok());
    return *c;
  }
  Resource Get(const std::string& kind, const std::string& ns, const std::string& name) {
    auto r = s.store->Get(kind, ns, name);
    REQUIRE(r.ok());
    return *r;
  }
  static json::object Status(const Resource& r) {
    const json::value* st = r.object.if_contains("status");
    REQUIRE(st);
    REQUIRE(st->is_object());
    return st->as_object();
  }
  static std::string Message(const json::object& st) {
    const json::value* m = st.if_contains("message");
    return m && m->is_string() ? std::string(m->as_string()) : "";
  }
};

TEST_CASE("controller renders a gateway configuration the gateway accepts, with the agent") {
  World w;
  w.OpenAi("a");
  w.Agent("a", "x",
          R"({"models":["openai/gpt-4o"],"tools":[{"type":"bash"},{"type":"web_search"}]})");
  w.Reconcile();
  config::Config c = w.Parsed();
  REQUIRE(c.agents.contains("a/x"));
  CHECK(c.agents.at("a/x").models == std::vector<std::string>{"openai/gpt-4o"});
  CHECK(c.providers.contains("a/openai"));

  Resource agent = w.Get("Agent", "a", "x");
  json::object st = World::Status(agent);
  INFO(json::serialize(st));
  CHECK(st.at("ready") == true);
  CHECK(st.at("observedGeneration") == agent.generation());
  CHECK(st.at("toolSummary") == "bash,web_search");
  CHECK(World::Status(w.Get("ModelProvider", "a", "openai")).at("ready") == true);
}

TEST_CASE("controller status of an agent without tools lists every built-in tool") {
  World w;
  w.OpenAi("a");
  w.Agent("a", "x", R"({"models":["openai/gpt-4o"]})");
  w.Reconcile();
  const std::string summary(World::Status(w.Get("Agent", "a", "x")).at("toolSummary").as_string());
  CHECK(summary.find("bash") != std::string::npos);
  CHECK(summary.find("web_fetch") != std::string::npos);
}

TEST_CASE("controller pass with nothing to change writes nothing") {
  World w;
  w.OpenAi("a");
  w.Agent("a", "x", R"({"models":["openai/gpt-4o"]})");
  w.Reconcile();
  const int64_t v = w.s.store->Version();
  w.Reconcile();
  CHECK(w.s.store->Version() == v);
}

TEST_CASE("controller follows a spec change with observedGeneration") {
  World w;
  w.OpenAi("a");
  w.Agent("a", "x", R"({"models":["openai/gpt-4o"]})");
  w.Reconcile();
  w.Agent("a", "x", R"({"models":["openai/gpt-4.1"]})");
  w.Reconcile();
  Resource agent = w.Get("Agent", "a", "x");
  REQUIRE(agent.generation() == 2);
  CHECK(World::Status(agent).at("observedGeneration") == 2);
  CHECK(w.Parsed().agents.at("a/x").models == std::vector<std::string>{"openai/gpt-4.1"});
}

TEST_CASE("controller marks an agent with a missing ModelProvider not ready, then ready") {
  World w;
  w.Agent("a", "x", R"({"models":["anthropic/claude-sonnet-4-6"]})");
  w.Reconcile();
  json::object st = World::Status(w.Get("Agent", "a", "x"));
  CHECK(st.at("ready") == false);
  CHECK(World::Message(st).find("ModelProvider \"anthropic\"") != std::string::npos);
  CHECK_FALSE(w.Parsed().agents.contains("a/x"));

  w.Secret("a", "anthropic-key");
  w.Provider(
      "a", "anthropic",
      R"({"provider":"anthropic","apiKeySecretRef":{"name":"anthropic-key","key":"api-key"}})");
  w.Reconcile();
  st = World::Status(w.Get("Agent", "a", "x"));
  INFO(json::serialize(st));
  CHECK(st.at("ready") == true);
  CHECK(w.Parsed().agents.contains("a/x"));
}

TEST_CASE("controller does not serve an agent whose guard binding is missing") {
  World w;
  w.OpenAi("a");
  w.Agent("a", "x", R"({"models":["openai/gpt-4o"],"guards":[{"binding":"pg"}]})");
  w.Agent("a", "plain", R"({"models":["openai/gpt-4o"]})");
  w.Reconcile();
  config::Config c = w.Parsed();
  CHECK_FALSE(c.agents.contains("a/x"));
  CHECK(c.agents.contains("a/plain"));
  json::object st = World::Status(w.Get("Agent", "a", "x"));
  CHECK(st.at("ready") == false);
  CHECK(World::Message(st).find("GuardBinding \"pg\"") != std::string::npos);

  w.s.MustAdmin("POST", kNs + "a/guardbindings",
                R"({"kind":"GuardBinding","metadata":{"name":"pg"},)"
                R"("spec":{"classifier":{"type":"builtin"},"enforcement":"enforce"}})",
                201);
  w.Reconcile();
  c = w.Parsed();
  REQUIRE(c.agents.contains("a/x"));
  CHECK(c.agents.at("a/x").guards.size() == 1);
}

TEST_CASE("controller gives every agent a gateway identity and revokes it with the agent") {
  World w;
  w.OpenAi("a");
  w.Agent("a", "x", R"({"models":["openai/gpt-4o"]})");
  w.Reconcile();
  auto ids = w.s.store->Identities();
  REQUIRE(ids.ok());
  REQUIRE(ids->size() == 1);
  const GatewayIdentity id = ids->front();
  CHECK(id.purpose == "agent");
  CHECK(id.ns == "a");
  CHECK(id.agent == "x");
  CHECK(id.agent_uid == w.Get("Agent", "a", "x").uid());
  CHECK(id.revoked.empty());
  REQUIRE_FALSE(id.token.empty());
  auto ts = auth::TokenStore::Load(w.s.gateway_dir);
  REQUIRE(ts.ok());
  auto who = (*ts)->Authenticate(id.token);
  REQUIRE(who.ok());
  CHECK(*who == "a/x");

  // A second pass mints nothing new.
  w.Reconcile();
  ids = w.s.store->Identities();
  REQUIRE(ids.ok());
  CHECK(ids->size() == 1);

  w.s.MustAdmin("DELETE", kNs + "a/agents/x", "", 200);
  w.Reconcile();
  ids = w.s.store->Identities();
  REQUIRE(ids.ok());
  REQUIRE(ids->size() == 1);
  CHECK_FALSE(ids->front().revoked.empty());
  CHECK(ids->front().token.empty());
  ts = auth::TokenStore::Load(w.s.gateway_dir);
  REQUIRE(ts.ok());
  CHECK(absl::IsUnauthenticated((*ts)->Authenticate(id.token).status()));
}

TEST_CASE("controller revokes the identity of an agent deleted and created again") {
  World w;
  w.OpenAi("a");
  w.Agent("a", "x", R"({"models":["openai/gpt-4o"]})");
  w.Reconcile();
  auto first = w.s.store->Identities();
  REQUIRE(first.ok());
  REQUIRE(first->size() == 1);
  const std::string old_token = first->front().token;
  w.s.MustAdmin("DELETE", kNs + "a/agents/x", "", 200);
  w.Agent("a", "x", R"({"models":["openai/gpt-4o"]})");
  w.Reconcile();
  auto ids = w.s.store->Identities();
  REQUIRE(ids.ok());
  int live = 0;
  for (const auto& id : *ids) live += id.revoked.empty() ? 1 : 0;
  CHECK(live == 1);
  auto ts = auth::TokenStore::Load(w.s.gateway_dir);
  REQUIRE(ts.ok());
  CHECK_FALSE((*ts)->Authenticate(old_token).ok());
}

TEST_CASE("controller does not serve apiKeyEnv outside namespace default") {
  World w;
  w.Provider("b", "openai", R"({"provider":"openai","apiKeyEnv":"OPENAI_API_KEY"})");
  w.Agent("b", "z", R"({"models":["openai/gpt-4o"]})");
  w.Reconcile();
  json::object st = World::Status(w.Get("ModelProvider", "b", "openai"));
  CHECK(st.at("ready") == false);
  CHECK_FALSE(World::Message(st).empty());
  config::Config c = w.Parsed();
  CHECK_FALSE(c.providers.contains("b/openai"));
  CHECK_FALSE(c.agents.contains("b/z"));
  CHECK(World::Status(w.Get("Agent", "b", "z")).at("ready") == false);
}

TEST_CASE("controller never lets an agent use another namespace's ModelProvider") {
  World w;
  w.OpenAi("a");
  w.Agent("b", "thief", R"({"models":["openai/gpt-4o"]})");
  w.Reconcile();
  CHECK_FALSE(w.Parsed().agents.contains("b/thief"));
  CHECK(World::Status(w.Get("Agent", "b", "thief")).at("ready") == false);
}

TEST_CASE("controller never resolves apiKeySecretRef into another namespace") {
  World w;
  w.Secret("b", "openai-key");
  w.Provider(
      "a", "openai",
      R"({"provider":"openai","apiKeySecretRef":{"name":"openai-key","key":"api-key","namespace":"b"}})");
  w.Agent("a", "x", R"({"models":["openai/gpt-4o"]})");
  w.Reconcile();
  CHECK(World::Status(w.Get("ModelProvider", "a", "openai")).at("ready") == false);
  config::Config c = w.Parsed();
  CHECK_FALSE(c.providers.contains("a/openai"));
  CHECK_FALSE(c.agents.contains("a/x"));
}

TEST_CASE("controller resolves apiKeySecretRef without key to the api-key key") {
  // docs/resources.md, ModelProvider: `key` defaults to `api-key`.
  World w;
  w.Secret("a", "openai-key");
  w.Provider("a", "openai", R"({"provider":"openai","apiKeySecretRef":{"name":"openai-key"}})");
  w.Agent("a", "x", R"({"models":["openai/gpt-4o"]})");
  w.Reconcile();
  json::object st = World::Status(w.Get("ModelProvider", "a", "openai"));
  INFO(json::serialize(st));
  CHECK(st.at("ready") == true);
  CHECK(w.Parsed().agents.contains("a/x"));
}

TEST_CASE("controller writes the gateway configuration with mode 0600") {
  World w;
  w.OpenAi("a");
  w.Agent("a", "x", R"({"models":["openai/gpt-4o"]})");
  w.Reconcile();
  struct stat sb {};
  REQUIRE(::stat(w.config_path.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0600);
  // The provider key is in it (base64), hence the mode.
  CHECK(testing::ReadFile(w.config_path).find("c2stdGVzdC0xMjM=") != std::string::npos);
}

TEST_CASE("controller renders an empty store into a configuration the gateway accepts") {
  World w;
  w.Reconcile();
  config::Config c = w.Parsed();
  CHECK(c.agents.empty());
}

}  // namespace
}  // namespace pai::server

namespace pai::server {
namespace {

using testing::kNs;

TEST_CASE(
    "controller renders one Secret for several resources that share it and every namespace still "
    "updates") {
  World w;
  w.Secret("a", "k");
  w.Provider("a", "p1", R"({"provider":"openai","apiKeySecretRef":{"name":"k"}})");
  w.Provider("a", "p2", R"({"provider":"openai","apiKeySecretRef":{"name":"k"}})");
  w.s.MustAdmin(
      "PUT", kNs + "a/guardbindings/g",
      R"({"kind":"GuardBinding","metadata":{"name":"g"},"spec":{"classifier":{"type":"http","url":"http://127.0.0.1:9/classify","apiKeySecretRef":{"name":"k"}},"threshold":0.8,"enforcement":"audit"}})",
      201);
  w.Agent("a", "x", R"({"models":["p1/gpt-4o","p2/gpt-4o"],"guards":[{"binding":"g"}]})");
  w.OpenAi("b");
  w.Agent("b", "later", R"({"models":["openai/gpt-4o"]})");
  w.Reconcile();
  const std::string text = testing::ReadFile(w.config_path);
  CHECK(testing::Count(text, R"("name":"k","namespace":"a")") == 1);
  config::Config c = w.Parsed();
  CHECK(c.agents.contains("a/x"));
  CHECK(c.agents.contains("b/later"));
  CHECK(World::Status(w.Get("Agent", "a", "x")).at("ready") == true);
}

TEST_CASE(
    "controller honours apiKeyEnv only on resources admin tokens wrote in namespace default") {
  World w;
  const std::string tenant = w.s.Mint("default");
  ApiResponse r = w.s.Call(
      "PUT", kNs + "default/modelproviders/evil", tenant,
      R"({"kind":"ModelProvider","metadata":{"name":"evil"},"spec":{"provider":"openai","baseURL":"http://127.0.0.1:9/v1","apiKeyEnv":"HOME"}})");
  REQUIRE(r.status == 201);
  w.Provider("default", "ops", R"({"provider":"openai","apiKeyEnv":"HOME"})");
  w.Reconcile();
  json::object evil = World::Status(w.Get("ModelProvider", "default", "evil"));
  CHECK(evil.at("ready") == false);
  CHECK(World::Message(evil).find("admin") != std::string::npos);
  CHECK(World::Status(w.Get("ModelProvider", "default", "ops")).at("ready") == true);
  const std::string text = testing::ReadFile(w.config_path);
  CHECK(text.find(R"("name":"evil")") == std::string::npos);
  CHECK(text.find(R"("name":"ops")") != std::string::npos);
  // A tenant that rewrites the admin's provider takes apiKeyEnv away from it.
  r = w.s.Call(
      "PUT", kNs + "default/modelproviders/ops", tenant,
      R"({"kind":"ModelProvider","metadata":{"name":"ops"},"spec":{"provider":"openai","baseURL":"http://127.0.0.1:9/v1","apiKeyEnv":"HOME"}})");
  REQUIRE(r.status == 200);
  w.Reconcile();
  CHECK(World::Status(w.Get("ModelProvider", "default", "ops")).at("ready") == false);
}

TEST_CASE("api refuses ownerReferences to objects of another namespace") {
  World w;
  w.Secret("b", "k");
  const std::string uid = w.Get("Secret", "b", "k").uid();
  ApiResponse r = w.s.Call(
      "POST", kNs + "a/skills", w.s.scoped,
      R"({"kind":"Skill","metadata":{"name":"owned","ownerReferences":[{"kind":"Secret","name":"k","uid":")" +
          uid + R"("}]},"spec":{}})");
  INFO(r.body);
  CHECK(r.status == 422);
  CHECK(testing::ErrorField(r.body, "field") == "metadata.ownerReferences[0]");
}

}  // namespace
}  // namespace pai::server
