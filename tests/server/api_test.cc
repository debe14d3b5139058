// The REST API (docs/api.md) through Api::Handle with real components: CRUD semantics,
// validation, tenancy, secrets, access tokens, whoami, sessions, gateway tokens, usage and
// migrate-agents.
#include <filesystem>
#include <regex>

#include "auth/token_store.h"
#include "resource/resource.h"
#include "test_util.h"

namespace pai::server {
namespace {

using testing::Count;
using testing::ErrorField;
using testing::HasKeyAnywhere;
using testing::kNs;
using testing::ParseObj;
using testing::Server;
namespace json = boost::json;

const std::string kAgentX =
    R"({"apiVersion":"pai.io/v1","kind":"Agent","metadata":{"name":"x"},"spec":{"models":["openai/gpt-4o"]}})";

std::string AgentBody(const std::string& name, const std::string& spec) {
  return R"({"apiVersion":"pai.io/v1","kind":"Agent","metadata":{"name":")" + name +
         R"("},"spec":)" + spec + "}";
}

int64_t Generation(const json::object& o) {
  const json::value& g = o.at("metadata").at("generation");
  return g.is_int64() ? g.as_int64() : -1;
}
std::string ResourceVersion(const json::object& o) {
  return std::string(o.at("metadata").at("resourceVersion").as_string());
}

// ------------------------------------------------------------------------------------ CRUD

TEST_CASE("api agent CRUD: POST 201, GET 200, PUT moves generation, DELETE then GET 404") {
  Server s;
  json::object created = s.MustAdmin("POST", kNs + "a/agents", kAgentX, 201);
  CHECK(Generation(created) == 1);
  CHECK(created.at("metadata").at("namespace") == "a");
  CHECK(created.at("metadata").at("uid").is_string());

  json::object got = s.MustAdmin("GET", kNs + "a/agents/x", "", 200);
  CHECK(got.at("metadata").at("uid") == created.at("metadata").at("uid"));
  CHECK(got.at("kind") == "Agent");

  json::object put = s.MustAdmin("PUT", kNs + "a/agents/x",
                                 AgentBody("x", R"({"models":["openai/gpt-4.1"]})"), 200);
  CHECK(Generation(put) == 2);
  CHECK(put.at("spec").at("models").as_array()[0] == "openai/gpt-4.1");
  CHECK(put.at("metadata").at("uid") == created.at("metadata").at("uid"));

  json::object del = s.MustAdmin("DELETE", kNs + "a/agents/x", "", 200);
  CHECK(del.at("status") == "Success");
  ApiResponse gone = s.Admin("GET", kNs + "a/agents/x");
  CHECK(gone.status == 404);
  CHECK(ErrorField(gone.body, "code") == "not_found");
  CHECK(s.Admin("DELETE", kNs + "a/agents/x").status == 404);
}

TEST_CASE("api PUT of a new name creates it with 201") {
  Server s;
  json::object o = s.MustAdmin("PUT", kNs + "a/agents/x", kAgentX, 201);
  CHECK(Generation(o) == 1);
}

TEST_CASE("api POST of a name that exists is 409 already_exists") {
  Server s;
  s.MustAdmin("POST", kNs + "a/agents", kAgentX, 201);
  ApiResponse r = s.Admin("POST", kNs + "a/agents", kAgentX);
  CHECK(r.status == 409);
  CHECK(ErrorField(r.body, "code") == "already_exists");
}

TEST_CASE("api PUT with a stale metadata.resourceVersion is 409 conflict") {
  Server s;
  json::object created = s.MustAdmin("POST", kNs + "a/agents", kAgentX, 201);
  const std::string v1 = ResourceVersion(created);
  s.MustAdmin("PUT", kNs + "a/agents/x", AgentBody("x", R"({"models":["openai/o3"]})"), 200);
  const std::string stale = R"({"kind":"Agent","metadata":{"name":"x","resourceVersion":")" + v1 +
                            R"("},"spec":{"models":["openai/gpt-4.1"]}})";
  ApiResponse r = s.Admin("PUT", kNs + "a/agents/x", stale);
  CHECK(r.status == 409);
  CHECK(ErrorField(r.body, "code") == "conflict");
  json::object got = s.MustAdmin("GET", kNs + "a/agents/x", "", 200);
  CHECK(got.at("spec").at("models").as_array()[0] == "openai/o3");

  // With the current version the write goes through.
  const std::string fresh = R"({"kind":"Agent","metadata":{"name":"x","resourceVersion":")" +
                            ResourceVersion(got) + R"("},"spec":{"models":["openai/gpt-4.1"]}})";
  s.MustAdmin("PUT", kNs + "a/agents/x", fresh, 200);
}

TEST_CASE("api label-only PUT keeps generation and status in the body is ignored") {
  Server s;
  s.MustAdmin("POST", kNs + "a/agents", kAgentX, 201);
  json::object put = s.MustAdmin(
      "PUT", kNs + "a/agents/x",
      R"({"kind":"Agent","metadata":{"name":"x","labels":{"t":"1"}},"spec":{"models":["openai/gpt-4o"]},"status":{"ready":true}})",
      200);
  CHECK(Generation(put) == 1);
  CHECK_FALSE(put.contains("status"));
}

TEST_CASE("api body namespace other than the URL's is 422") {
  Server s;
  ApiResponse r = s.Admin(
      "POST", kNs + "a/agents",
      R"({"kind":"Agent","metadata":{"name":"x","namespace":"b"},"spec":{"models":["openai/gpt-4o"]}})");
  CHECK(r.status == 422);
  CHECK(ErrorField(r.body, "code") == "invalid");
  CHECK(ErrorField(r.body, "field") == "metadata.namespace");
  CHECK(s.Admin("GET", kNs + "b/agents/x").status == 404);
  CHECK(s.Admin("GET", kNs + "a/agents/x").status == 404);

  ApiResponse n =
      s.Admin("PUT", kNs + "a/agents/x", AgentBody("y", R"({"models":["openai/gpt-4o"]})"));
  CHECK(n.status == 422);
  CHECK(ErrorField(n.body, "field") == "metadata.name");
}

TEST_CASE("api body that is not JSON is 400 bad_request") {
  Server s;
  ApiResponse r = s.Admin("POST", kNs + "a/agents", "{not json");
  CHECK(r.status == 400);
  CHECK(ErrorField(r.body, "code") == "bad_request");
  CHECK(s.Admin("PUT", kNs + "a/agents/x", "[1,2]").status == 400);
}

TEST_CASE("api kind that does not match the plural is 422") {
  Server s;
  ApiResponse r =
      s.Admin("POST", kNs + "a/agents",
              R"({"apiVersion":"pai.io/v1","kind":"Skill","metadata":{"name":"x"},"spec":{}})");
  CHECK(r.status == 422);
  CHECK(ErrorField(r.body, "code") == "invalid");
  CHECK(ErrorField(r.body, "field") == "kind");
}

TEST_CASE("api unknown route and unknown plural are 404 and unauthenticated routes answer") {
  Server s;
  CHECK(s.Admin("GET", kNs + "a/widgets").status == 404);
  CHECK(s.Admin("GET", "/apis/pai.io/v1/nothing/here").status == 404);
  CHECK(s.Call("GET", "/healthz", "").status == 200);
  ApiResponse v = s.Call("GET", "/version", "");
  CHECK(v.status == 200);
  CHECK(ParseObj(v.body).at("version") == "0.2.0");
}

// ------------------------------------------------------------------------------ validation

TEST_CASE("api rejects runAsUser 0 with 422 naming spec.runAsUser") {
  Server s;
  ApiResponse r = s.Admin("POST", kNs + "a/agents",
                          AgentBody("x", R"({"models":["openai/gpt-4o"],"runAsUser":0})"));
  CHECK(r.status == 422);
  CHECK(ErrorField(r.body, "code") == "invalid");
  CHECK(ErrorField(r.body, "field") == "spec.runAsUser");
  json::object err = ParseObj(r.body).at("error").as_object();
  REQUIRE(err.at("details").is_array());
  CHECK_FALSE(err.at("details").as_array().empty());
  CHECK(s.Admin("GET", kNs + "a/agents/x").status == 404);
}

TEST_CASE("api rejects a long-running agent with triggers naming spec.triggers") {
  Server s;
  ApiResponse r =
      s.Admin("POST", kNs + "a/agents",
              AgentBody("x", R"({"models":["openai/gpt-4o"],"longRunning":true,"harness":"custom",)"
                             R"("image":"ghcr.io/x/y:1","triggers":[{"schedule":"0 9 * * 1"}]})"));
  CHECK(r.status == 422);
  CHECK(ErrorField(r.body, "field") == "spec.triggers");
}

TEST_CASE("api rejects harness custom without image naming spec.image") {
  Server s;
  ApiResponse r = s.Admin("POST", kNs + "a/agents",
                          AgentBody("x", R"({"models":["openai/gpt-4o"],"harness":"custom"})"));
  CHECK(r.status == 422);
  CHECK(ErrorField(r.body, "field") == "spec.image");
}

TEST_CASE("api rejects guard enforcement audit looser than an existing enforce binding") {
  Server s;
  const std::string agent = AgentBody(
      "x", R"({"models":["openai/gpt-4o"],"guards":[{"binding":"pg","enforcement":"audit"}]})");
  SECTION("accepted while the binding does not exist") {
    s.MustAdmin("POST", kNs + "a/agents", agent, 201);
  }
  SECTION("rejected when the binding enforces") {
    s.MustAdmin("POST", kNs + "a/guardbindings",
                R"({"kind":"GuardBinding","metadata":{"name":"pg"},)"
                R"("spec":{"classifier":{"type":"builtin"},"enforcement":"enforce"}})",
                201);
    ApiResponse r = s.Admin("POST", kNs + "a/agents", agent);
    CHECK(r.status == 422);
    CHECK(ErrorField(r.body, "field") == "spec.guards[0].enforcement");
    // A binding of the same name in another namespace does not count.
    s.MustAdmin("POST", kNs + "b/agents", agent, 201);
  }
}

TEST_CASE("api accepts every example of the product documents") {
  const std::filesystem::path dir = std::filesystem::path(PAI_SEEDS_DIR) / "examples";
  if (!std::filesystem::is_directory(dir)) {
    WARN("no seeds at " << dir.string() << ": skipped");
    return;
  }
  Server s;
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const auto& p = entry.path();
    if (p.extension() != ".yaml" || p.filename().string().rfind("README", 0) == 0) continue;
    auto docs = resource::YamlToJson(testing::ReadFile(p.string()));
    INFO(p.filename().string());
    REQUIRE(docs.ok());
    for (const json::value& doc : *docs) {
      const json::object& o = doc.as_object();
      const resource::KindInfo* k = resource::FindKind(std::string(o.at("kind").as_string()));
      REQUIRE(k != nullptr);
      const json::object& meta = o.at("metadata").as_object();
      const std::string name(meta.at("name").as_string());
      const std::string ns = meta.contains("namespace")
                                 ? std::string(meta.at("namespace").as_string())
                                 : std::string("default");
      ApiResponse r = s.Admin("PUT", kNs + ns + "/" + std::string(k->plural) + "/" + name,
                              json::serialize(doc));
      INFO(r.body);
      CHECK((r.status == 200 || r.status == 201));
      ++n;
    }
  }
  CHECK(n >= 4);
}

TEST_CASE("api stores kind AgentWorkload as an Agent with the legacy annotation") {
  Server s;
  json::object o =
      s.MustAdmin("PUT", kNs + "a/agents/w",
                  R"({"apiVersion":"pai.io/v1","kind":"AgentWorkload","metadata":{"name":"w"},)"
                  R"("spec":{"image":"ghcr.io/x/y:1","modelBindings":["gemini-flash"]}})",
                  201);
  CHECK(o.at("kind") == "Agent");
  CHECK(o.at("metadata").at("annotations").at("pai.io/legacy-kind") == "AgentWorkload");
  CHECK(o.at("spec").at("modelBindings").as_array()[0] == "gemini-flash");
}

// ---------------------------------------------------------------------------------- tenancy

TEST_CASE("api scoped token is forbidden in every route of another namespace") {
  Server s;
  s.MustAdmin("POST", kNs + "b/agents", kAgentX, 201);
  s.MustAdmin("POST", kNs + "b/secrets",
              R"({"kind":"Secret","metadata":{"name":"k"},"stringData":{"api-key":"v"}})", 201);
  struct Route {
    const char* method;
    std::string target;
    std::string body;
  };
  const std::vector<Route> routes = {
      {"GET", kNs + "b/agents", ""},
      {"POST", kNs + "b/agents", kAgentX},
      {"GET", kNs + "b/agents/x", ""},
      {"PUT", kNs + "b/agents/x", kAgentX},
      {"DELETE", kNs + "b/agents/x", ""},
      {"GET", kNs + "b/secrets", ""},
      {"POST", kNs + "b/secrets",
       R"({"kind":"Secret","metadata":{"name":"k2"},"stringData":{"api-key":"v"}})"},
      {"GET", kNs + "b/secrets/k", ""},
      {"DELETE", kNs + "b/secrets/k", ""},
      {"GET", kNs + "b/sessions", ""},
      {"POST", kNs + "b/agents/x/sessions", R"({"spec":{"task":"t"}})"},
      {"GET", kNs + "b/agents/x/sessions", ""},
      {"GET", kNs + "b/metrics", ""},
      {"GET", kNs + "b/agents/x/audit", ""},
      {"POST", kNs + "b/migrate-agents", ""},
      {"POST", kNs + "b/migrate-agents?dryRun=true", ""},
      {"GET", kNs + "b/agents/x/gatewaytokens", ""},
      {"POST", kNs + "b/agents/x/gatewaytokens", ""},
      {"GET", "/apis/pai.io/v1/agents", ""},
      {"GET", "/apis/pai.io/v1/secrets", ""},
      {"GET", "/apis/pai.io/v1/namespaces", ""},
      {"GET", "/apis/pai.io/v1/paiaccesstokens", ""},
      {"POST", "/apis/pai.io/v1/paiaccesstokens", R"({"spec":{"targetNamespace":"a"}})"},
      {"GET", "/apis/pai.io/v1/metrics", ""},
      // Gateway identities are admin-only even in the token's own namespace.
      {"GET", kNs + "a/agents/x/gatewaytokens", ""},
      {"POST", kNs + "a/agents/x/gatewaytokens", ""},
  };
  for (const Route& r : routes) {
    ApiResponse resp = s.Call(r.method, r.target, s.scoped, r.body);
    INFO(r.method << " " << r.target << " -> " << resp.status << " " << resp.body);
    CHECK(resp.status == 403);
    CHECK(ErrorField(resp.body, "code") == "forbidden");
  }
  // Nothing changed in namespace b.
  CHECK(s.Admin("GET", kNs + "b/agents/x").status == 200);
  CHECK(s.Admin("GET", kNs + "b/secrets/k").status == 200);
  CHECK(s.Admin("GET", kNs + "b/secrets/k2").status == 404);
  CHECK(ParseObj(s.Admin("GET", kNs + "b/agents/x/gatewaytokens").body)
            .at("items")
            .as_array()
            .empty());
}

TEST_CASE("api scoped token reads and writes its own namespace") {
  Server s;
  CHECK(s.Call("POST", kNs + "a/agents", s.scoped, kAgentX).status == 201);
  CHECK(s.Call("GET", kNs + "a/agents", s.scoped).status == 200);
  CHECK(s.Call("GET", kNs + "a/agents/x", s.scoped).status == 200);
  CHECK(s.Call("PUT", kNs + "a/agents/x", s.scoped, AgentBody("x", R"({"models":["openai/o3"]})"))
            .status == 200);
  CHECK(s.Call("GET", kNs + "a/secrets", s.scoped).status == 200);
  CHECK(s.Call("GET", kNs + "a/sessions", s.scoped).status == 200);
  CHECK(s.Call("GET", kNs + "a/metrics", s.scoped).status == 200);
  CHECK(s.Call("POST", kNs + "a/migrate-agents?dryRun=true", s.scoped).status == 200);
  CHECK(s.Call("GET", "/apis/pai.io/v1/whoami", s.scoped).status == 200);
  CHECK(s.Call("DELETE", kNs + "a/agents/x", s.scoped).status == 200);
}

TEST_CASE("api without a valid token is 401") {
  Server s;
  const std::string t = kNs + "a/agents";
  ApiResponse none = s.Call("GET", t, "");
  CHECK(none.status == 401);
  CHECK(ErrorField(none.body, "code") == "unauthenticated");
  CHECK(s.Call("GET", t, "garbage").status == 401);
  CHECK(s.Call("GET", t, "pai_at_000000000000_" + std::string(43, 'A')).status == 401);
  ApiRequest basic{"GET", t, "Basic dXNlcjpwYXNz", "", ""};
  CHECK(s.api.Handle(basic).status == 401);

  const std::string doomed = s.Mint("a");
  REQUIRE(s.Call("GET", t, doomed).status == 200);
  auto caller = s.access.Authenticate(doomed);
  REQUIRE(caller.ok());
  REQUIRE(s.access.Revoke(caller->token_name).ok());
  ApiResponse revoked = s.Call("GET", t, doomed);
  CHECK(revoked.status == 401);
  CHECK(ErrorField(revoked.body, "code") == "unauthenticated");
}

// ---------------------------------------------------------------------------------- secrets

TEST_CASE("api secrets answer with key names and never with values") {
  Server s;
  const std::string value = "sk-live-VERY-secret-4711";
  json::object created = s.MustAdmin(
      "POST", kNs + "a/secrets",
      R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"openai"},"stringData":{"api-key":")" +
          value + R"("}})",
      201);
  CHECK(created.at("keys") == json::array{"api-key"});
  CHECK_FALSE(HasKeyAnywhere(created, "data"));
  CHECK_FALSE(HasKeyAnywhere(created, "stringData"));

  // A second secret through base64 `data`.
  s.MustAdmin(
      "PUT", kNs + "a/secrets/other",
      R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"other"},"data":{"token":"c2VjcmV0LXR3bw=="}})",
      201);

  const std::string b64 = "c2stbGl2ZS1WRVJZLXNlY3JldC00NzEx";  // base64(value)
  for (const std::string& target :
       {kNs + "a/secrets/openai", kNs + "a/secrets", std::string("/apis/pai.io/v1/secrets"),
        kNs + "a/secrets/other"}) {
    ApiResponse r = s.Admin("GET", target);
    INFO(target << " -> " << r.body);
    CHECK(r.status == 200);
    CHECK(r.body.find(value) == std::string::npos);
    CHECK(r.body.find(b64) == std::string::npos);
    CHECK(r.body.find("c2VjcmV0LXR3bw") == std::string::npos);
    CHECK_FALSE(HasKeyAnywhere(testing::Parse(r.body), "data"));
    CHECK_FALSE(HasKeyAnywhere(testing::Parse(r.body), "stringData"));
  }
  json::object other = s.MustAdmin("GET", kNs + "a/secrets/other", "", 200);
  CHECK(other.at("keys") == json::array{"token"});

  // The value is kept server-side (base64) for the controller.
  auto stored = s.store->Get("Secret", "a", "openai");
  REQUIRE(stored.ok());
  CHECK(stored->private_data.find(b64) != std::string::npos);

  ApiResponse bad =
      s.Admin("POST", kNs + "a/secrets",
              R"({"kind":"Secret","metadata":{"name":"bad"},"data":{"k":"not base64!"}})");
  CHECK(bad.status == 422);
}

// ----------------------------------------------------------------------------------- tokens

TEST_CASE("api access tokens: the token is shown once, lists hide it, DELETE revokes") {
  Server s;
  json::object created =
      s.MustAdmin("POST", "/apis/pai.io/v1/paiaccesstokens",
                  R"({"spec":{"targetNamespace":"team-c","description":"ci"}})", 201);
  const ApiResponse raw = s.Admin("GET", "/apis/pai.io/v1/paiaccesstokens");
  REQUIRE(created.contains("token"));
  const std::string token(created.at("token").as_string());
  const std::string name(created.at("metadata").at("name").as_string());
  CHECK(std::regex_match(token, std::regex("pai_at_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")));
  CHECK(created.at("spec").at("targetNamespace") == "team-c");

  // The token authenticates, scoped to team-c.
  ApiResponse who = s.Call("GET", "/apis/pai.io/v1/whoami", token);
  REQUIRE(who.status == 200);
  CHECK(ParseObj(who.body).at("namespace") == "team-c");

  REQUIRE(raw.status == 200);
  json::value list = testing::Parse(raw.body);
  CHECK_FALSE(HasKeyAnywhere(list, "token"));
  CHECK(raw.body.find("sha256") == std::string::npos);
  // The secret: after "pai_at_", the 12-character id and "_" (it may itself contain "_").
  CHECK(raw.body.find(token.substr(std::string_view("pai_at_").size() + 13)) == std::string::npos);
  // admin + scoped + the new one
  CHECK(list.at("items").as_array().size() == 3);
  ApiResponse one = s.Admin("GET", "/apis/pai.io/v1/paiaccesstokens/" + name);
  CHECK(one.status == 200);
  CHECK(one.body.find("sha256") == std::string::npos);
  CHECK_FALSE(HasKeyAnywhere(testing::Parse(one.body), "token"));

  json::object revoked = s.MustAdmin("DELETE", "/apis/pai.io/v1/paiaccesstokens/" + name, "", 200);
  CHECK(revoked.at("status").at("revokedAt").is_string());
  CHECK(s.Call("GET", "/apis/pai.io/v1/whoami", token).status == 401);
  // The record is kept.
  CHECK(s.Admin("GET", "/apis/pai.io/v1/paiaccesstokens/" + name).status == 200);

  ApiResponse bad = s.Admin("POST", "/apis/pai.io/v1/paiaccesstokens",
                            R"({"spec":{"targetNamespace":"Not A Namespace"}})");
  CHECK(bad.status == 422);
  CHECK(ErrorField(bad.body, "field") == "spec.targetNamespace");
}

// ------------------------------------------------------------------------------ whoami, env

TEST_CASE("api whoami env variables are set, shown and unset") {
  Server s;
  json::object who = ParseObj(s.Call("GET", "/apis/pai.io/v1/whoami", s.scoped).body);
  CHECK(who.at("namespace") == "a");
  CHECK(who.at("admin") == false);
  CHECK(std::string(who.at("name").as_string()).rfind("tok-", 0) == 0);
  CHECK(who.at("env").as_object().empty());

  ApiResponse put =
      s.Call("PUT", "/apis/pai.io/v1/whoami/env/GIT_AUTHOR_NAME", s.scoped, R"({"value":"Jane"})");
  REQUIRE(put.status == 200);
  who = ParseObj(s.Call("GET", "/apis/pai.io/v1/whoami", s.scoped).body);
  CHECK(who.at("env").at("GIT_AUTHOR_NAME") == "Jane");
  // Another token does not see it.
  json::object admin = ParseObj(s.Call("GET", "/apis/pai.io/v1/whoami", s.admin).body);
  CHECK(admin.at("admin") == true);
  CHECK(admin.at("namespace") == "*");
  CHECK(admin.at("env").as_object().empty());

  CHECK(s.Call("DELETE", "/apis/pai.io/v1/whoami/env/GIT_AUTHOR_NAME", s.scoped).status == 200);
  who = ParseObj(s.Call("GET", "/apis/pai.io/v1/whoami", s.scoped).body);
  CHECK_FALSE(who.at("env").as_object().contains("GIT_AUTHOR_NAME"));
  CHECK(s.Call("DELETE", "/apis/pai.io/v1/whoami/env/GIT_AUTHOR_NAME", s.scoped).status == 404);

  ApiResponse bad =
      s.Call("PUT", "/apis/pai.io/v1/whoami/env/BAD-KEY", s.scoped, R"({"value":"x"})");
  CHECK(bad.status == 422);
  CHECK(s.Call("PUT", "/apis/pai.io/v1/whoami/env/1ABC", s.scoped, R"({"value":"x"})").status ==
        422);
  CHECK(s.Call("PUT", "/apis/pai.io/v1/whoami/env/OK", s.scoped, R"({"value":5})").status == 400);
}

// --------------------------------------------------------------------------------- sessions

TEST_CASE("api sessions are owned by their agent, filtered by agent and deleted with it") {
  Server s;
  json::object agent = s.MustAdmin("POST", kNs + "a/agents", kAgentX, 201);
  s.MustAdmin("POST", kNs + "a/agents", AgentBody("y", R"({"models":["openai/gpt-4o"]})"), 201);
  json::object session =
      s.MustAdmin("POST", kNs + "a/agents/x/sessions", R"({"spec":{"task":"write a poem"}})", 201);
  s.MustAdmin("POST", kNs + "a/agents/y/sessions", R"({"spec":{"task":"other"}})", 201);

  CHECK(session.at("kind") == "Session");
  CHECK(session.at("spec").at("agent") == "x");
  const std::string sname(session.at("metadata").at("name").as_string());
  CHECK(std::regex_match(sname, std::regex("x-[a-z0-9]{5}")));
  const json::array& refs = session.at("metadata").at("ownerReferences").as_array();
  REQUIRE(refs.size() == 1);
  CHECK(refs[0].at("uid") == agent.at("metadata").at("uid"));
  CHECK(refs[0].at("kind") == "Agent");

  json::object filtered = s.MustAdmin("GET", kNs + "a/sessions?agent=x", "", 200);
  REQUIRE(filtered.at("items").as_array().size() == 1);
  CHECK(filtered.at("items").as_array()[0].at("metadata").at("name") == sname.c_str());
  json::object sub = s.MustAdmin("GET", kNs + "a/agents/x/sessions", "", 200);
  CHECK(sub.at("items").as_array().size() == 1);
  json::object all = s.MustAdmin("GET", kNs + "a/sessions", "", 200);
  CHECK(all.at("items").as_array().size() == 2);

  json::object del = s.MustAdmin("DELETE", kNs + "a/agents/x", "", 200);
  CHECK(del.at("details").at("deleted").as_array().size() == 2);
  CHECK(s.Admin("GET", kNs + "a/sessions/" + sname).status == 404);
  CHECK(s.MustAdmin("GET", kNs + "a/sessions", "", 200).at("items").as_array().size() == 1);

  CHECK(s.Admin("POST", kNs + "a/agents/nope/sessions", R"({"spec":{"task":"t"}})").status == 404);
}

// --------------------------------------------------------------------------- gateway tokens

TEST_CASE("api gateway tokens: a minted token authenticates at the gateway until revoked") {
  Server s;
  s.MustAdmin("POST", kNs + "a/agents", kAgentX, 201);
  json::object minted = s.MustAdmin("POST", kNs + "a/agents/x/gatewaytokens", "", 201);
  const std::string id(minted.at("id").as_string());
  const std::string token(minted.at("token").as_string());
  CHECK(minted.at("agent") == "a/x");

  auto ts = auth::TokenStore::Load(s.gateway_dir);
  REQUIRE(ts.ok());
  auto who = (*ts)->Authenticate(token);
  REQUIRE(who.ok());
  CHECK(*who == "a/x");

  json::object list = s.MustAdmin("GET", kNs + "a/agents/x/gatewaytokens", "", 200);
  REQUIRE(list.at("items").as_array().size() == 1);
  CHECK(list.at("items").as_array()[0].at("id") == id.c_str());
  CHECK(list.at("items").as_array()[0].at("revoked").is_null());
  CHECK_FALSE(HasKeyAnywhere(list, "token"));

  json::object revoked = s.MustAdmin("DELETE", kNs + "a/agents/x/gatewaytokens/" + id, "", 200);
  CHECK(revoked.at("revoked").is_string());
  ts = auth::TokenStore::Load(s.gateway_dir);
  REQUIRE(ts.ok());
  CHECK(absl::IsUnauthenticated((*ts)->Authenticate(token).status()));
  list = s.MustAdmin("GET", kNs + "a/agents/x/gatewaytokens", "", 200);
  CHECK(list.at("items").as_array()[0].at("revoked").is_string());

  CHECK(s.Admin("DELETE", kNs + "a/agents/x/gatewaytokens/ffffffffffff").status == 404);
  CHECK(s.Admin("POST", kNs + "a/agents/nope/gatewaytokens").status == 404);
}

// ------------------------------------------------------------------------------ usage, metrics

TEST_CASE("api agent reads carry status.tokensToday from the gateway's usage") {
  Server s;
  s.MustAdmin("POST", kNs + "a/agents", kAgentX, 201);
  s.MustAdmin("POST", kNs + "a/agents", AgentBody("y", R"({"models":["openai/gpt-4o"]})"), 201);
  json::object list = s.MustAdmin("GET", kNs + "a/agents", "", 200);
  const json::array& items = list.at("items").as_array();
  REQUIRE(items.size() == 2);
  CHECK(items[0].at("metadata").at("name") == "x");
  CHECK(items[0].at("status").at("tokensToday") == 1234);
  CHECK(items[1].at("status").at("tokensToday") == 0);
  json::object one = s.MustAdmin("GET", kNs + "a/agents/x", "", 200);
  CHECK(one.at("status").at("tokensToday") == 1234);
  json::object all = s.MustAdmin("GET", "/apis/pai.io/v1/agents", "", 200);
  CHECK(all.at("items").as_array()[0].at("status").at("tokensToday") == 1234);
}

TEST_CASE("api agent reads omit tokensToday when the gateway cannot be reached") {
  Server s;
  s.MustAdmin("POST", kNs + "a/agents", kAgentX, 201);
  s.gateway.reachable = false;
  json::object one = s.MustAdmin("GET", kNs + "a/agents/x", "", 200);
  CHECK_FALSE(HasKeyAnywhere(one, "tokensToday"));
  json::object list = s.MustAdmin("GET", kNs + "a/agents", "", 200);
  CHECK_FALSE(HasKeyAnywhere(list, "tokensToday"));
  ApiResponse m = s.Admin("GET", kNs + "a/metrics");
  CHECK((m.status == 502 || m.status == 503));
  CHECK(ErrorField(m.body, "code") == "gateway_unavailable");
}

TEST_CASE("api metrics of a namespace list only its agents") {
  Server s;
  json::object m = s.MustAdmin("GET", kNs + "a/metrics", "", 200);
  REQUIRE(m.at("agents").as_array().size() == 1);
  CHECK(m.at("agents").as_array()[0].at("agent") == "x");
  CHECK(m.at("agents").as_array()[0].at("tokensToday") == 1234);
  REQUIRE(m.at("items").as_array().size() == 1);
  const json::value& item = m.at("items").as_array()[0];
  CHECK(item.at("model") == "openai/gpt-4o");
  CHECK(item.at("requests") == 3);
  CHECK(item.at("inputTokens") == 1000);
  CHECK(item.at("outputTokens") == 234);
  json::object all = s.MustAdmin("GET", "/apis/pai.io/v1/metrics", "", 200);
  CHECK(all.at("agents").as_array().size() == 2);
}

// --------------------------------------------------------------------------- migrate-agents

TEST_CASE("api migrate-agents rewrites a legacy agent in place, dry run first, idempotent") {
  const std::filesystem::path file =
      std::filesystem::path(PAI_SEEDS_DIR) / "examples" / "agentworkload-minimal.yaml";
  if (!std::filesystem::exists(file)) {
    WARN("no seed " << file.string() << ": skipped");
    return;
  }
  Server s;
  s.MustAdmin(
      "POST", kNs + "a/modelproviders",
      R"({"kind":"ModelProvider","metadata":{"name":"google"},"spec":{"provider":"gemini"}})", 201);
  auto docs = resource::YamlToJson(testing::ReadFile(file.string()));
  REQUIRE(docs.ok());
  REQUIRE(docs->size() == 1);
  s.MustAdmin("PUT", kNs + "a/agents/my-agent", json::serialize((*docs)[0]), 201);

  json::object dry = s.MustAdmin("POST", kNs + "a/migrate-agents?dryRun=true", "", 200);
  REQUIRE(dry.at("items").as_array().size() == 1);
  CHECK(dry.at("items").as_array()[0].at("name") == "my-agent");
  CHECK_FALSE(dry.at("items").as_array()[0].at("changes").as_array().empty());
  json::object unchanged = s.MustAdmin("GET", kNs + "a/agents/my-agent", "", 200);
  CHECK(unchanged.at("spec").as_object().contains("modelBindings"));
  CHECK_FALSE(unchanged.at("spec").as_object().contains("models"));

  json::object run = s.MustAdmin("POST", kNs + "a/migrate-agents", "", 200);
  REQUIRE(run.at("items").as_array().size() == 1);
  json::object migrated = s.MustAdmin("GET", kNs + "a/agents/my-agent", "", 200);
  const json::object& spec = migrated.at("spec").as_object();
  CHECK_FALSE(spec.contains("modelBindings"));
  REQUIRE(spec.contains("models"));
  CHECK(spec.at("models") == json::array{"google/gemini-2.5-flash"});
  CHECK(spec.at("harness") == "custom");
  CHECK(spec.at("longRunning") == true);
  CHECK(spec.at("image") == "ghcr.io/pai-platform/openclaw:latest");
  CHECK(migrated.at("kind") == "Agent");

  json::object again = s.MustAdmin("POST", kNs + "a/migrate-agents", "", 200);
  CHECK(again.at("items").as_array().empty());
}

// --------------------------------------------------------------------- audit, misc routes

TEST_CASE("api audit asks the gateway for the URL's agent only") {
  Server s;
  ApiResponse r = s.Call("GET", kNs + "a/agents/x/audit?limit=10&type=guard", s.scoped);
  REQUIRE(r.status == 200);
  CHECK(testing::Parse(r.body).is_array());
  REQUIRE_FALSE(s.gateway.targets.empty());
  const std::string t = s.gateway.targets.back();
  CHECK(t.rfind("/audit?", 0) == 0);
  CHECK(t.find("agent=a%2Fx") != std::string::npos);
  CHECK(t.find("limit=10") != std::string::npos);
  CHECK(t.find("type=guard") != std::string::npos);
  // A caller cannot widen the query to another agent through the query string.
  s.Call("GET", kNs + "a/agents/x/audit?agent=b%2Fz", s.scoped);
  CHECK(s.gateway.targets.back().find("b%2Fz") == std::string::npos);
}

TEST_CASE("api audit with a limit outside 1..100000 is 400 bad_request") {
  // docs/api.md: limit 1-100000; a bad query parameter is 400 (not the gateway's 502/503).
  Server s;
  for (const char* limit : {"0", "abc", "100001"}) {
    ApiResponse r = s.Admin("GET", kNs + "a/agents/x/audit?limit=" + std::string(limit));
    INFO("limit=" << limit << " -> " << r.status << " " << r.body);
    CHECK(r.status == 400);
    CHECK(ErrorField(r.body, "code") == "bad_request");
  }
}

TEST_CASE("api audit verify shows where the chain broke to admins only") {
  Server s;
  s.gateway.verify = R"({"ok":false,"records":10,"first_bad_seq":5,"reason":"hash mismatch"})";
  json::object admin = ParseObj(s.Admin("GET", "/apis/pai.io/v1/audit/verify").body);
  CHECK(admin.at("ok") == false);
  CHECK(admin.at("first_bad_seq") == 5);
  ApiResponse r = s.Call("GET", "/apis/pai.io/v1/audit/verify", s.scoped);
  REQUIRE(r.status == 200);
  json::object scoped = ParseObj(r.body);
  CHECK(scoped.at("ok") == false);
  CHECK(scoped.at("records") == 10);
  CHECK_FALSE(scoped.contains("first_bad_seq"));
  CHECK_FALSE(scoped.contains("reason"));
}

TEST_CASE("api write with a Content-Type other than JSON is 400 bad_request") {
  // docs/api.md, Errors: 400 bad_request for a wrong Content-Type.
  Server s;
  ApiResponse r = s.Call("POST", kNs + "a/agents", s.admin, kAgentX, "text/plain");
  CHECK(r.status == 400);
  CHECK(ErrorField(r.body, "code") == "bad_request");
  CHECK(s.Admin("GET", kNs + "a/agents/x").status == 404);
  // A charset parameter is still JSON.
  CHECK(s.Call("POST", kNs + "a/agents", s.admin, AgentBody("y", R"({"models":["openai/gpt-4o"]})"),
               "application/json; charset=utf-8")
            .status == 201);
}

TEST_CASE("api body above the size limit is 413") {
  Server s;
  std::string big(ApiOptions{}.max_body_bytes + 1, ' ');
  ApiResponse r = s.Admin("POST", kNs + "a/agents", big);
  CHECK(r.status == 413);
  CHECK(ErrorField(r.body, "code") == "payload_too_large");
}

TEST_CASE("api unsupported methods are 405") {
  Server s;
  s.MustAdmin("POST", kNs + "a/agents", kAgentX, 201);
  ApiResponse r = s.Admin("PATCH", kNs + "a/agents/x", kAgentX);
  CHECK(r.status == 405);
  CHECK(ErrorField(r.body, "code") == "method_not_allowed");
  CHECK(s.Admin("DELETE", kNs + "a/agents").status == 405);
}

TEST_CASE("api namespaces lists the namespaces that hold resources") {
  Server s;
  s.MustAdmin("POST", kNs + "b/agents", kAgentX, 201);
  s.MustAdmin("POST", kNs + "a/agents", kAgentX, 201);
  json::object list = s.MustAdmin("GET", "/apis/pai.io/v1/namespaces", "", 200);
  const json::array& items = list.at("items").as_array();
  REQUIRE(items.size() == 2);
  CHECK(items[0].at("metadata").at("name") == "a");
  CHECK(items[1].at("metadata").at("name") == "b");
}

}  // namespace
}  // namespace pai::server
