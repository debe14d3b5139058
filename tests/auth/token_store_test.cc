#include "auth/token_store.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

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

}  // namespace
}  // namespace pai::auth
