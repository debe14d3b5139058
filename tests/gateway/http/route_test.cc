#include "gateway/http/route.h"

#include <catch2/catch.hpp>
#include <set>

namespace pai::gateway {
namespace {

TEST_CASE("routes are matched once, with or without the /v1 prefix, with their method") {
  RouteMatch m;
  REQUIRE(MatchRoute("/v1/chat/completions", &m));
  CHECK(m.route == Route::kChatCompletions);
  CHECK(m.method == RouteMatch::Method::kPost);
  REQUIRE(MatchRoute("/chat/completions", &m));
  CHECK(m.route == Route::kChatCompletions);
  REQUIRE(MatchRoute("/v1/messages/count_tokens", &m));
  CHECK(m.route == Route::kCountTokens);
  CHECK_FALSE(MatchRoute("/messages", &m));  // Anthropic's base URL keeps /v1
  REQUIRE(MatchRoute("/v1/models", &m));
  CHECK(m.route == Route::kModels);
  CHECK(m.method == RouteMatch::Method::kGet);
  CHECK(m.model_id.empty());
  REQUIRE(MatchRoute("/v1/models/up/gpt-4o-mini", &m));
  CHECK(m.model_id == "up/gpt-4o-mini");
  CHECK_FALSE(MatchRoute("/v1/models/", &m));
  CHECK_FALSE(MatchRoute("/v1/chat/completions/", &m));
  CHECK_FALSE(MatchRoute("/v2/chat/completions", &m));
}

TEST_CASE("an agent's credential: Authorization, or x-api-key on the Anthropic routes only") {
  CHECK(AgentCredential("/v1/chat/completions", "Bearer a", "") == "Bearer a");
  CHECK(AgentCredential("/v1/messages", "Bearer a", "b") == "Bearer a");  // the header wins
  CHECK(AgentCredential("/v1/messages", "", "b") == "Bearer b");
  CHECK(AgentCredential("/v1/messages/count_tokens", "", "b") == "Bearer b");
  CHECK(AgentCredential("/v1/chat/completions", "", "b").empty());
  CHECK(AgentCredential("/v1/messages", "", "").empty());
}

TEST_CASE("a well-formed client request id is kept, others are replaced by 128 random bits") {
  CHECK(RequestId("req_abc-1.2:3") == "req_abc-1.2:3");
  std::set<std::string> ids;
  for (const std::string_view bad : {std::string_view(""), std::string_view("a b"),
                                     std::string_view("x\r\ny"), std::string_view("\"quoted\"")}) {
    const std::string id = RequestId(bad);
    CHECK(id.size() == 32);
    CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    ids.insert(id);
  }
  CHECK(RequestId(std::string(129, 'a')).size() == 32);
  CHECK(ids.size() == 4);
}

}  // namespace
}  // namespace pai::gateway
