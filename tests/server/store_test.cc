// The SQLite resource store: Kubernetes write semantics (uid, generation, resourceVersion),
// conditional writes, status writes, cascading deletion, change notification, gateway
// identities and durability.
#include <chrono>
#include <future>
#include <regex>
#include <set>
#include <thread>

#include "test_util.h"

namespace pai::server {
namespace {

using testing::OpenStoreIn;
using testing::TempDir;
namespace json = boost::json;

Resource Agent(const std::string& ns, const std::string& name,
               json::object spec = {{"models", json::array{"openai/gpt-4o"}}}) {
  Resource r;
  r.kind = "Agent";
  r.ns = ns;
  r.name = name;
  r.object = {{"apiVersion", "pai.io/v1"},
              {"kind", "Agent"},
              {"metadata", {{"name", name}, {"namespace", ns}}},
              {"spec", std::move(spec)}};
  return r;
}

Resource OwnedBy(const std::string& kind, const std::string& ns, const std::string& name,
                 const Resource& owner) {
  Resource r;
  r.kind = kind;
  r.ns = ns;
  r.name = name;
  r.object = {{"apiVersion", "pai.io/v1"},
              {"kind", kind},
              {"metadata",
               {{"name", name},
                {"namespace", ns},
                {"ownerReferences",
                 json::array{json::object{
                     {"kind", owner.kind}, {"name", owner.name}, {"uid", owner.uid()}}}}}},
              {"spec", {{"agent", owner.name}}}};
  return r;
}

std::string MetaStr(const Resource& r, const char* key) {
  const json::value* v = r.object.at("metadata").as_object().if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

TEST_CASE("store create assigns uid, generation 1, a resourceVersion and a creationTimestamp") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  Resource in = Agent("a", "x");
  in.object["status"] = json::object{{"ready", true}};  // a client's status is dropped
  auto created = store->Create(in);
  REQUIRE(created.ok());
  CHECK(std::regex_match(created->uid(),
                         std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                    "[0-9a-f]{12}")));
  CHECK(created->generation() == 1);
  CHECK(created->resource_version() > 0);
  CHECK(created->resource_version() == store->Version());
  CHECK(std::regex_match(MetaStr(*created, "creationTimestamp"),
                         std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  CHECK_FALSE(created->object.contains("status"));

  auto got = store->Get("Agent", "a", "x");
  REQUIRE(got.ok());
  CHECK(got->uid() == created->uid());
  CHECK(got->resource_version() == created->resource_version());

  auto second = store->Create(Agent("a", "y"));
  REQUIRE(second.ok());
  CHECK(second->uid() != created->uid());
  CHECK(second->resource_version() > created->resource_version());
}

TEST_CASE("store creationTimestamp follows the clock it is given") {
  TempDir dir;
  ManualClock clock;
  clock.Set(absl::FromUnixSeconds(1700000000));  // 2023-11-14T22:13:20Z
  auto store = OpenSqliteStore(dir / "pai.db", &clock);
  REQUIRE(store.ok());
  auto a = (*store)->Create(Agent("a", "x"));
  REQUIRE(a.ok());
  CHECK(MetaStr(*a, "creationTimestamp") == "2023-11-14T22:13:20Z");
  clock.Advance(absl::Minutes(5));
  auto b = (*store)->Create(Agent("a", "y"));
  REQUIRE(b.ok());
  CHECK(MetaStr(*b, "creationTimestamp") == "2023-11-14T22:18:20Z");
}

TEST_CASE("store create of a name that exists fails with AlreadyExists") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  REQUIRE(store->Create(Agent("a", "x")).ok());
  auto again = store->Create(Agent("a", "x"));
  CHECK(absl::IsAlreadyExists(again.status()));
  // The same name in another namespace is another object.
  CHECK(store->Create(Agent("b", "x")).ok());
}

TEST_CASE("store put with the same spec moves neither generation nor resourceVersion") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  auto created = store->Create(Agent("a", "x"));
  REQUIRE(created.ok());
  const int64_t version = store->Version();
  auto put = store->Put(Agent("a", "x"), std::nullopt);
  REQUIRE(put.ok());
  CHECK_FALSE(put->created);
  CHECK(put->resource.generation() == 1);
  CHECK(put->resource.resource_version() == created->resource_version());
  CHECK(put->resource.uid() == created->uid());
  CHECK(store->Version() == version);
}

TEST_CASE("store put with a changed spec moves generation and resourceVersion") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  auto created = store->Create(Agent("a", "x"));
  REQUIRE(created.ok());
  auto put = store->Put(Agent("a", "x", {{"models", json::array{"openai/gpt-4.1"}}}), std::nullopt);
  REQUIRE(put.ok());
  CHECK_FALSE(put->created);
  CHECK(put->resource.generation() == 2);
  CHECK(put->resource.resource_version() > created->resource_version());
  CHECK(put->resource.uid() == created->uid());
  CHECK(MetaStr(put->resource, "creationTimestamp") == MetaStr(*created, "creationTimestamp"));
  auto got = store->Get("Agent", "a", "x");
  REQUIRE(got.ok());
  CHECK(got->generation() == 2);
  CHECK(got->object.at("spec").at("models").as_array()[0] == "openai/gpt-4.1");
}

TEST_CASE("store put of a missing name creates it with generation 1") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  auto put = store->Put(Agent("a", "x"), std::nullopt);
  REQUIRE(put.ok());
  CHECK(put->created);
  CHECK(put->resource.generation() == 1);
  CHECK_FALSE(put->resource.uid().empty());
}

TEST_CASE("store label-only change moves resourceVersion but not generation") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  auto created = store->Create(Agent("a", "x"));
  REQUIRE(created.ok());
  Resource labelled = Agent("a", "x");
  labelled.object["metadata"].as_object()["labels"] = json::object{{"team", "red"}};
  auto put = store->Put(labelled, std::nullopt);
  REQUIRE(put.ok());
  CHECK(put->resource.generation() == 1);
  CHECK(put->resource.resource_version() > created->resource_version());
  auto got = store->Get("Agent", "a", "x");
  REQUIRE(got.ok());
  CHECK(got->object.at("metadata").at("labels").at("team") == "red");
}

TEST_CASE("store conditional put with a stale resourceVersion is Aborted") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  auto created = store->Create(Agent("a", "x"));
  REQUIRE(created.ok());
  const int64_t v1 = created->resource_version();
  auto moved = store->Put(Agent("a", "x", {{"models", json::array{"openai/o3"}}}), v1);
  REQUIRE(moved.ok());
  const int64_t v2 = moved->resource.resource_version();
  REQUIRE(v2 > v1);

  auto stale = store->Put(Agent("a", "x", {{"models", json::array{"openai/gpt-4.1"}}}), v1);
  CHECK(absl::IsAborted(stale.status()));
  auto got = store->Get("Agent", "a", "x");
  REQUIRE(got.ok());
  CHECK(got->object.at("spec").at("models").as_array()[0] == "openai/o3");
  CHECK(got->resource_version() == v2);

  // A conditional write of an object that does not exist is NotFound, not a create.
  CHECK(absl::IsNotFound(store->Put(Agent("a", "nope"), 1).status()));
}

TEST_CASE("store UpdateStatus keeps generation, moves resourceVersion and refuses another uid") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  auto created = store->Create(Agent("a", "x"));
  REQUIRE(created.ok());
  REQUIRE(store->UpdateStatus("Agent", "a", "x", created->uid(), {{"ready", true}}).ok());
  auto got = store->Get("Agent", "a", "x");
  REQUIRE(got.ok());
  CHECK(got->generation() == 1);
  CHECK(got->resource_version() > created->resource_version());
  CHECK(got->object.at("status").at("ready") == true);

  const int64_t before = store->Version();
  auto wrong = store->UpdateStatus("Agent", "a", "x", NewUid(), {{"ready", false}});
  CHECK(absl::IsAborted(wrong));
  CHECK(store->Version() == before);
  CHECK(absl::IsNotFound(store->UpdateStatus("Agent", "a", "gone", "", {{"ready", true}})));

  // A spec write keeps the controller's status; the writer's status is not taken.
  Resource next = Agent("a", "x", {{"models", json::array{"openai/o3"}}});
  next.object["status"] = json::object{{"ready", false}};
  auto put = store->Put(next, std::nullopt);
  REQUIRE(put.ok());
  CHECK(put->resource.object.at("status").at("ready") == true);
}

TEST_CASE("store delete cascades through ownerReferences and returns every deleted resource") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  auto agent = store->Create(Agent("a", "x"));
  REQUIRE(agent.ok());
  auto other = store->Create(Agent("a", "y"));
  REQUIRE(other.ok());
  auto session = store->Create(OwnedBy("Session", "a", "x-1", *agent));
  REQUIRE(session.ok());
  auto grandchild = store->Create(OwnedBy("PaiFile", "a", "x-1-out", *session));
  REQUIRE(grandchild.ok());
  auto unrelated = store->Create(OwnedBy("Session", "a", "y-1", *other));
  REQUIRE(unrelated.ok());
  const int64_t before = store->Version();

  auto deleted = store->Delete("Agent", "a", "x");
  REQUIRE(deleted.ok());
  REQUIRE(deleted->size() == 3);
  CHECK((*deleted)[0].kind == "Agent");
  CHECK((*deleted)[0].name == "x");
  std::set<std::string> names;
  for (const Resource& r : *deleted) names.insert(r.kind + "/" + r.name);
  CHECK(names == std::set<std::string>{"Agent/x", "Session/x-1", "PaiFile/x-1-out"});
  CHECK(absl::IsNotFound(store->Get("Agent", "a", "x").status()));
  CHECK(absl::IsNotFound(store->Get("Session", "a", "x-1").status()));
  CHECK(absl::IsNotFound(store->Get("PaiFile", "a", "x-1-out").status()));
  CHECK(store->Get("Agent", "a", "y").ok());
  CHECK(store->Get("Session", "a", "y-1").ok());
  CHECK(store->Version() > before);
  CHECK(absl::IsNotFound(store->Delete("Agent", "a", "x").status()));
}

TEST_CASE("store WaitForChange returns when another thread writes") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  const int64_t seen = store->Version();
  const auto start = std::chrono::steady_clock::now();
  auto waiter = std::async(std::launch::async,
                           [&] { return store->WaitForChange(seen, std::chrono::seconds(20)); });
  auto created = store->Create(Agent("a", "x"));
  REQUIRE(created.ok());
  const int64_t got = waiter.get();
  CHECK(got > seen);
  CHECK(got == created->resource_version());
  // Woken by the write, not by the 20 s timeout.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));

  // Without a write it returns the current version after the timeout.
  CHECK(store->WaitForChange(store->Version(), std::chrono::milliseconds(20)) == store->Version());
}

TEST_CASE("store keeps gateway identities and drops the plaintext of a revoked one") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  REQUIRE(store
              ->AddIdentity({"aaaaaaaaaaaa", "a", "x", "uid-x", "agent", "pai_aaaaaaaaaaaa_s1",
                             "2026-01-01T00:00:00Z", ""})
              .ok());
  REQUIRE(store
              ->AddIdentity(
                  {"bbbbbbbbbbbb", "a", "x", "uid-x", "external", "", "2026-01-02T00:00:00Z", ""})
              .ok());
  auto ids = store->Identities();
  REQUIRE(ids.ok());
  REQUIRE(ids->size() == 2);
  CHECK((*ids)[0].id == "aaaaaaaaaaaa");
  CHECK((*ids)[0].purpose == "agent");
  CHECK((*ids)[0].token == "pai_aaaaaaaaaaaa_s1");
  CHECK((*ids)[0].agent_uid == "uid-x");
  CHECK((*ids)[1].purpose == "external");

  REQUIRE(store->MarkIdentityRevoked("aaaaaaaaaaaa", "2026-01-03T00:00:00Z").ok());
  ids = store->Identities();
  REQUIRE(ids.ok());
  CHECK((*ids)[0].revoked == "2026-01-03T00:00:00Z");
  CHECK((*ids)[0].token.empty());
  CHECK((*ids)[1].revoked.empty());
  CHECK(absl::IsNotFound(store->MarkIdentityRevoked("cccccccccccc", "2026-01-03T00:00:00Z")));
}

TEST_CASE("store data survives closing and reopening the file") {
  TempDir dir;
  std::string uid;
  int64_t version = 0;
  {
    auto store = OpenStoreIn(dir);
    auto created = store->Create(Agent("a", "x"));
    REQUIRE(created.ok());
    Resource secret;
    secret.kind = "Secret";
    secret.ns = "a";
    secret.name = "s";
    secret.object = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "s"}}}};
    secret.private_data = R"({"data":{"k":"dg=="}})";
    REQUIRE(store->Create(secret).ok());
    REQUIRE(store
                ->AddIdentity({"aaaaaaaaaaaa", "a", "x", created->uid(), "agent", "tok",
                               "2026-01-01T00:00:00Z", ""})
                .ok());
    uid = created->uid();
    version = store->Version();
  }
  auto store = OpenStoreIn(dir);
  CHECK(store->Version() == version);
  auto got = store->Get("Agent", "a", "x");
  REQUIRE(got.ok());
  CHECK(got->uid() == uid);
  auto secret = store->Get("Secret", "a", "s");
  REQUIRE(secret.ok());
  CHECK(secret->private_data == R"({"data":{"k":"dg=="}})");
  auto ids = store->Identities();
  REQUIRE(ids.ok());
  REQUIRE(ids->size() == 1);
  CHECK(ids->front().token == "tok");
  auto next = store->Create(Agent("a", "y"));
  REQUIRE(next.ok());
  CHECK(next->resource_version() > version);
  auto ns = store->Namespaces();
  REQUIRE(ns.ok());
  CHECK(*ns == std::vector<std::string>{"a"});
}

TEST_CASE("access token has the documented format and authenticates with its namespace") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  AccessTokens access(*store);
  auto m = access.Create("team-a", "ci", "");
  REQUIRE(m.ok());
  std::smatch match;
  REQUIRE(
      std::regex_match(m->token, match, std::regex("pai_at_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")));
  CHECK(m->resource.name == "tok-" + match[1].str());
  auto caller = access.Authenticate(m->token);
  REQUIRE(caller.ok());
  CHECK(caller->ns == "team-a");
  CHECK(caller->token_name == m->resource.name);
  CHECK_FALSE(caller->admin());
  CHECK(caller->May("team-a"));
  CHECK_FALSE(caller->May("team-b"));

  auto admin = access.Create("*", "", "");
  REQUIRE(admin.ok());
  auto ac = access.Authenticate(admin->token);
  REQUIRE(ac.ok());
  CHECK(ac->admin());
  CHECK(ac->May("anything"));
}

TEST_CASE("access token with a wrong secret is Unauthenticated") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  AccessTokens access(*store);
  auto m = access.Create("a", "", "");
  REQUIRE(m.ok());
  std::string wrong = m->token;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  CHECK(absl::IsUnauthenticated(access.Authenticate(wrong).status()));
  CHECK(absl::IsUnauthenticated(
      access.Authenticate("pai_at_000000000000_" + std::string(43, 'A')).status()));
  CHECK(absl::IsUnauthenticated(access.Authenticate("garbage").status()));
  CHECK(absl::IsUnauthenticated(access.Authenticate("").status()));
}

TEST_CASE("revoked access token is Unauthenticated") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  AccessTokens access(*store);
  auto m = access.Create("a", "", "");
  REQUIRE(m.ok());
  REQUIRE(access.Authenticate(m->token).ok());
  REQUIRE(access.Revoke(m->resource.name).ok());
  CHECK(absl::IsUnauthenticated(access.Authenticate(m->token).status()));
  CHECK(access.Revoke(m->resource.name).ok());  // idempotent
  CHECK(absl::IsNotFound(access.Revoke("tok-000000000000")));
}

TEST_CASE("expired access token is Unauthenticated and a future expiry is accepted") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  AccessTokens access(*store);
  // A token cannot be created already expired; one whose expiry passes is refused.
  CHECK(absl::IsInvalidArgument(access.Create("a", "", "2020-01-01T00:00:00Z").status()));
  CHECK(absl::IsInvalidArgument(access.Create("a", "", "2020-01-01").status()));
  for (const char* when : {"2020-01-01T00:00:00Z", "2020-01-01"}) {
    auto soon = access.Create("a", "", "2999-01-01");
    REQUIRE(soon.ok());
    REQUIRE(access.Authenticate(soon->token).ok());
    Resource r = soon->resource;
    r.object["spec"].as_object()["expiresAt"] = when;
    REQUIRE(store->Put(r, std::nullopt).ok());
    CHECK(absl::IsUnauthenticated(access.Authenticate(soon->token).status()));
  }
  auto future = access.Create("a", "", "2999-01-01T00:00:00Z");
  REQUIRE(future.ok());
  CHECK(access.Authenticate(future->token).ok());
  CHECK(absl::IsInvalidArgument(access.Create("a", "", "next tuesday").status()));
  CHECK(absl::IsInvalidArgument(access.Create("Team_A", "", "").status()));
}

TEST_CASE("access token plaintext is never stored") {
  TempDir dir;
  auto store = OpenStoreIn(dir);
  AccessTokens access(*store);
  auto m = access.Create("a", "", "");
  REQUIRE(m.ok());
  const std::string secret = m->token.substr(std::string_view("pai_at_").size() + 13);
  auto stored = store->Get("PaiAccessToken", "", m->resource.name);
  REQUIRE(stored.ok());
  CHECK(stored->private_data.find(m->token) == std::string::npos);
  CHECK(stored->private_data.find(secret) == std::string::npos);
  CHECK(stored->private_data.find("sha256") != std::string::npos);
  const std::string object = json::serialize(stored->object);
  CHECK(object.find(secret) == std::string::npos);
  CHECK(object.find("sha256") == std::string::npos);
  // Nor anywhere in the database file.
  const std::string db = testing::ReadFile(dir / "pai.db") + testing::ReadFile(dir / "pai.db-wal");
  CHECK(db.find(secret) == std::string::npos);
}

TEST_CASE("ParseBearer reads the token of an Authorization header") {
  CHECK(ParseBearer("Bearer abc") == "abc");
  CHECK(ParseBearer("bearer   abc  ") == "abc");
  CHECK(ParseBearer("Basic abc").empty());
  CHECK(ParseBearer("").empty());
}

}  // namespace
}  // namespace pai::server
