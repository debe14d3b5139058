// The heads the gateway writes itself are byte for byte Beast's serializer output.
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

// A JSON answer's head, written as it is built, is byte for byte what Beast's serializer writes
// for the response JsonResponse() used to build with Beast (the same fields in the same order),
// kept alive or not, with a request id or not, with added fields, for known and unknown codes.
TEST_CASE("JSON answers are laid out as Beast's serializer lays them out") {
  for (const int status : {200, 429, 400, 503, 529}) {
    for (const bool keep_alive : {true, false}) {
      for (const std::string_view id : {std::string_view(), std::string_view("req-1")}) {
        JsonAnswer got(status, R"({"id":"chatcmpl-1"})", keep_alive, id);
        got.Set("x-ratelimit-remaining-tokens", "999");
        got.Set("Retry-After", "1");

        http::response<http::string_body> res{static_cast<http::status>(status), 11};
        res.set(http::field::server, "pai-gateway");
        res.set(http::field::content_type, "application/json");
        if (!id.empty()) res.set("x-request-id", id);
        res.keep_alive(keep_alive);
        res.body() = R"({"id":"chatcmpl-1"})";
        res.prepare_payload();
        res.set("x-ratelimit-remaining-tokens", "999");
        res.set(http::field::retry_after, "1");
        CHECK(got.head + "\r\n" + got.body == BeastBytes(res));
      }
    }
  }
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
