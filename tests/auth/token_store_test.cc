#include "auth/token_store.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace pai::auth {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/pai-token-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  return tmpl;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("a minted token authenticates as its agent and only its hash is stored") {
  const std::string dir = TempDir();
  auto minted = MintToken(dir, "default/coder");
  REQUIRE(minted.ok());
  CHECK(minted->token.rfind("pai_" + minted->id + "_", 0) == 0);
  const std::string file = ReadFile(TokenFilePath(dir));
  CHECK(file.find(minted->token) == std::string::npos);
  CHECK(file.find(minted->token.substr(18)) == std::string::npos);  // not even the secret part
  auto store = TokenStore::Load(dir);
  REQUIRE(store.ok());
  auto agent = (*store)->Authenticate(minted->token);
  REQUIRE(agent.ok());
  CHECK(*agent == "default/coder");
  std::filesystem::remove_all(dir);
}

TEST_CASE("a token with a wrong secret / unknown id or bad shape is rejected") {
  const std::string dir = TempDir();
  auto minted = MintToken(dir, "default/coder");
  REQUIRE(minted.ok());
  auto store = TokenStore::Load(dir);
  REQUIRE(store.ok());
  std::string tampered = minted->token;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  CHECK((*store)->Authenticate(tampered).status().code() == absl::StatusCode::kUnauthenticated);
  CHECK_FALSE((*store)->Authenticate("pai_000000000000_" + minted->token.substr(18)).ok());
  CHECK_FALSE((*store)->Authenticate("").ok());
  CHECK_FALSE((*store)->Authenticate("sk-not-ours").ok());
  CHECK_FALSE((*store)->Authenticate(minted->token + "x").ok());
  std::filesystem::remove_all(dir);
}

TEST_CASE("a revoked token stops authenticating — other tokens keep working") {
  const std::string dir = TempDir();
  auto a = MintToken(dir, "default/a");
  auto b = MintToken(dir, "default/b");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(RevokeToken(dir, a->id).ok());
  auto store = TokenStore::Load(dir);
  REQUIRE(store.ok());
  CHECK_FALSE((*store)->Authenticate(a->token).ok());
  CHECK((*store)->Authenticate(b->token).ok());
  CHECK(RevokeToken(dir, "ffffffffffff").code() == absl::StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a missing token file is an empty store — a corrupt one is an error") {
  const std::string dir = TempDir();
  auto empty = TokenStore::Load(dir);
  REQUIRE(empty.ok());
  CHECK((*empty)->records().empty());
  std::ofstream(TokenFilePath(dir)) << "{not json";
  CHECK(TokenStore::Load(dir).status().code() == absl::StatusCode::kDataLoss);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a session token round-trips its session and authenticates as its agent") {
  const std::string dir = TempDir();
  auto own = MintToken(dir, "default/coder");
  auto s1 = MintToken(dir, "default/coder", "fix-bug-1");
  auto s2 = MintToken(dir, "default/coder", "default/fix-bug-2");  // own namespace: dropped
  REQUIRE(own.ok());
  REQUIRE(s1.ok());
  REQUIRE(s2.ok());
  const std::string file = ReadFile(TokenFilePath(dir));
  CHECK(file.find("\"session\":\"fix-bug-1\"") != std::string::npos);
  CHECK(file.find("\"session\":\"fix-bug-2\"") != std::string::npos);
  auto store = TokenStore::Load(dir);
  REQUIRE(store.ok());
  REQUIRE((*store)->records().size() == 3);
  CHECK((*store)->records()[0].session.empty());
  CHECK((*store)->records()[1].session == "fix-bug-1");

  auto who = (*store)->AuthenticateIdentity(s1->token);
  REQUIRE(who.ok());
  CHECK(who->agent == "default/coder");
  CHECK(who->session == "fix-bug-1");
  CHECK(who->id == s1->id);
  auto who2 = (*store)->AuthenticateIdentity(s2->token);
  REQUIRE(who2.ok());
  CHECK(who2->session == "fix-bug-2");
  auto mine = (*store)->AuthenticateIdentity(own->token);
  REQUIRE(mine.ok());
  CHECK(mine->session.empty());
  CHECK(mine->id == own->id);
  // The old entry point still answers the agent — for session tokens too.
  auto agent = (*store)->Authenticate(s1->token);
  REQUIRE(agent.ok());
  CHECK(*agent == "default/coder");

  // Revocation and rewriting keep the field.
  REQUIRE(RevokeToken(dir, own->id).ok());
  auto after = TokenStore::Load(dir);
  REQUIRE(after.ok());
  CHECK((*after)->records()[1].session == "fix-bug-1");
  CHECK(absl::IsUnauthenticated((*after)->AuthenticateIdentity(own->token).status()));

  // A session of another namespace, or with control characters, is refused.
  CHECK(absl::IsInvalidArgument(MintToken(dir, "default/coder", "other/s").status()));
  CHECK(absl::IsInvalidArgument(MintToken(dir, "default/coder", "a\nb").status()));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a token file written before sessions (no session field) still loads") {
  const std::string dir = TempDir();
  auto minted = MintToken(dir, "default/coder", "s1");
  REQUIRE(minted.ok());
  std::string file = ReadFile(TokenFilePath(dir));
  const std::string field = "\"session\":\"s1\",";
  const size_t at = file.find(field);
  REQUIRE(at != std::string::npos);
  file.erase(at, field.size());
  std::ofstream(TokenFilePath(dir), std::ios::trunc) << file;
  auto store = TokenStore::Load(dir);
  REQUIRE(store.ok());
  auto who = (*store)->AuthenticateIdentity(minted->token);
  REQUIRE(who.ok());
  CHECK(who->agent == "default/coder");
  CHECK(who->session.empty());
  // Minting into the old file keeps its entries as they were.
  auto next = MintToken(dir, "default/coder");
  REQUIRE(next.ok());
  const std::string rewritten = ReadFile(TokenFilePath(dir));
  CHECK(rewritten.find("\"session\"") == std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pai::auth
