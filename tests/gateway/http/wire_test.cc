// The one-write message layout is byte for byte Beast's serializer output.
#include "gateway/http/wire.h"

#include <catch2/catch.hpp>
#include <sstream>

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

TEST_CASE("request heads are laid out as Beast's serializer lays them out") {
  http::request<http::string_body> req{http::verb::post, "/v1/chat/completions?x=1", 11};
  req.set(http::field::host, "api.openai.com");
  req.set(http::field::authorization, "Bearer sk-test");
  req.set(http::field::content_type, "application/json");
  req.body() = R"({"model":"gpt-4o-mini","messages":[]})";
  req.prepare_payload();
  CHECK(RequestHead(req.base()) + req.body() == BeastBytes(req));
  CHECK(RequestHead(req.base()).rfind("POST /v1/chat/completions?x=1 HTTP/1.1\r\n", 0) == 0);
}

}  // namespace
}  // namespace pai::gateway
