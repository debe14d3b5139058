// The one-write message layout is byte for byte Beast's serializer output.
#include "gateway/http/wire.h"

#include <catch2/catch.hpp>
#include <sstream>

#include "gateway/upstream/provider_request.h"

namespace pai::gateway {
namespace {

template <bool isRequest>
std::string BeastBytes(const http::message<isRequest, http::string_body>& m) {
  std::ostringstream out;
  out << m;  // Beast's serializer
  return out.str();
}

TEST_CASE("response heads are laid out as Beast's serializer lays them out") {
  http::response<http::string_body> res{http::status::ok, 11};
  res.set(http::field::server, "pai-gateway");
  res.set(http::field::content_type, "application/json");
  res.set("x-ratelimit-remaining-tokens", "999");
  res.insert("x-multi", "a");
  res.insert("x-multi", "b");
  res.keep_alive(true);
  res.body() = R"({"id":"chatcmpl-1"})";
  res.prepare_payload();
  CHECK(ResponseHead(res.base()) + res.body() == BeastBytes(res));

  res.result(http::status::too_many_requests);
  res.keep_alive(false);
  CHECK(ResponseHead(res.base()) + res.body() == BeastBytes(res));

  res.reason("Custom Reason");
  res.version(10);
  CHECK(ResponseHead(res.base()) + res.body() == BeastBytes(res));
  CHECK(ResponseHead(res.base()).rfind("HTTP/1.0 429 Custom Reason\r\n", 0) == 0);
}

// The upstream request's head, written field by field, is byte for byte what Beast's serializer
// writes for the same request; an adapter's header replaces the default of the same name (in
// any case) and goes with the adapter's, after the defaults.
TEST_CASE("upstream request heads are what Beast would write") {
  ProviderRuntime provider;
  provider.endpoint.base_path = "/v1";
  provider.endpoint.host_header = "api.example.com";
  provider.auth_header = "authorization";
  provider.authorization = "Bearer sk-test";
  ProviderRequest pr;
  pr.path = "/chat/completions";
  pr.body = R"({"model":"m","messages":[]})";
  pr.headers.emplace_back("accept", "application/x-ndjson");
  pr.headers.emplace_back("X-Title", "pai-gateway");
  const UpstreamRequest got = ToHttpRequest(provider, std::move(pr), "req-1", /*stream=*/true);

  http::request<http::string_body> req{http::verb::post, "/v1/chat/completions", 11};
  req.set("Host", "api.example.com");
  req.set("authorization", "Bearer sk-test");
  req.set("Content-Type", "application/json");
  req.set("User-Agent", "pai-gateway/0.1");
  req.set("x-request-id", "req-1");
  req.set("accept", "application/x-ndjson");
  req.set("X-Title", "pai-gateway");
  req.body() = R"({"model":"m","messages":[]})";
  req.prepare_payload();
  CHECK(got.head + got.body == BeastBytes(req));
  CHECK(got.head.find("Accept: text/event-stream") == std::string::npos);
}

}  // namespace
}  // namespace pai::gateway
