#include "gateway/http/request_head.h"

#include <boost/beast/http/fields.hpp>
#include <catch2/catch.hpp>

#include "gateway/http/errors.h"

namespace pai::gateway {
namespace {

RequestHead Head() {
  RequestHead h;
  h.target = "/v1/chat/completions";
  h.host = {"gw.example"};
  h.authorization = {"Bearer t"};
  return h;
}

int StatusOf(const RequestHead& h) {
  std::string origin;
  const absl::Status s = CheckRequestHead(h, &origin);
  return s.ok() ? 200 : ToApiError(s).http_status;
}

TEST_CASE("Host: missing in HTTP/1.1 or repeated is 400, optional in HTTP/1.0") {
  RequestHead h = Head();
  CHECK(StatusOf(h) == 200);
  h.host.clear();
  CHECK(StatusOf(h) == 400);
  h.version = 10;
  CHECK(StatusOf(h) == 200);
  h.host = {"a", "b"};
  CHECK(StatusOf(h) == 400);
}

TEST_CASE("Transfer-Encoding: only chunked is accepted, other codings are 501") {
  RequestHead h = Head();
  h.transfer_encoding = {"chunked"};
  CHECK(StatusOf(h) == 200);
  h.transfer_encoding = {" Chunked ;x=1"};
  CHECK(StatusOf(h) == 200);
  h.transfer_encoding = {"gzip, chunked"};
  CHECK(StatusOf(h) == 501);
  h.transfer_encoding = {"gzip", "chunked"};
  CHECK(StatusOf(h) == 501);
  h.transfer_encoding = {"chunked, gzip"};
  CHECK(StatusOf(h) == 400);
  h.transfer_encoding = {"gzip"};
  CHECK(StatusOf(h) == 400);
  h.transfer_encoding = {"chunked", "chunked"};
  CHECK(StatusOf(h) == 400);
  h.transfer_encoding = {"chunked"};
  h.content_length = true;
  CHECK(StatusOf(h) == 400);
}

TEST_CASE("two credentials are 400") {
  RequestHead h = Head();
  h.authorization = {"Bearer a", "Bearer a"};
  CHECK(StatusOf(h) == 400);
  h = Head();
  h.x_api_key = {"a", "b"};
  CHECK(StatusOf(h) == 400);
}

TEST_CASE("an absolute-form target yields its origin form") {
  RequestHead h = Head();
  std::string origin;
  h.target = "http://gw.example:8080/v1/chat/completions?x=1";
  REQUIRE(CheckRequestHead(h, &origin).ok());
  CHECK(origin == "/v1/chat/completions?x=1");
  h.target = "HTTPS://gw.example";
  REQUIRE(CheckRequestHead(h, &origin).ok());
  CHECK(origin == "/");
  h.target = "http://gw.example?q";
  REQUIRE(CheckRequestHead(h, &origin).ok());
  CHECK(origin == "/?q");
  h.target = "/v1/models";
  REQUIRE(CheckRequestHead(h, &origin).ok());
  CHECK(origin.empty());
}

TEST_CASE("HTTP/1.0 with a Transfer-Encoding is 400 (RFC 9112 section 6.1)") {
  RequestHead h = Head();
  h.version = 10;
  h.transfer_encoding = {"chunked"};
  CHECK(StatusOf(h) == 400);
  h.version = 11;
  CHECK(StatusOf(h) == 200);
}

// Of() finds every line of the fields the checks read, whatever the case of their names, and
// nothing else (names that only share a length or a prefix).
TEST_CASE("RequestHead::Of collects each checked field in any case and no other") {
  boost::beast::http::fields f;
  f.insert("HOST", "a.example");
  f.insert("host", "b.example");
  f.insert("Authorization", "Bearer one");
  f.insert("AUTHORIZATION", "Bearer two");
  f.insert("X-Api-Key", "k1");
  f.insert("x-api-key", "k2");
  f.insert("X-Api-Kez", "not a key");
  f.insert("Transfer-Encoding", "chunked");
  f.insert("Content-Type", "application/json");
  f.insert("Hosts", "not a host");
  f.insert("Authorizatioz", "not a credential");
  RequestHead h = RequestHead::Of(f, 11, "/v1/models");
  CHECK(h.target == "/v1/models");
  CHECK(h.host.size() == 2);
  CHECK(h.authorization.size() == 2);
  CHECK(h.x_api_key.size() == 2);
  CHECK(h.transfer_encoding.size() == 1);
  CHECK(h.transfer_encoding[0] == "chunked");
  CHECK_FALSE(h.content_length);
  f.insert("CONTENT-LENGTH", "3");
  CHECK(RequestHead::Of(f, 11, "/").content_length);
  CHECK(StatusOf(h) == 400);  // two Host lines
}

}  // namespace
}  // namespace pai::gateway
