#include "gateway/upstream/upstream_response.h"

#include <catch2/catch.hpp>

#include "gateway/http/errors.h"

namespace pai::gateway {
namespace {

int StatusOf(const absl::Status& s) { return s.ok() ? 200 : ToApiError(s).http_status; }

TEST_CASE("a provider redirect or a stream request answered without an event stream is 502") {
  CHECK(StatusOf(CheckUpstreamHead(302, "text/html", false, "up")) == 502);
  CHECK(ToApiError(CheckUpstreamHead(307, "", true, "up")).code == "upstream_error");
  CHECK(StatusOf(CheckUpstreamHead(200, "application/json", true, "up")) == 502);
  CHECK(StatusOf(CheckUpstreamHead(200, " Text/Event-Stream; charset=utf-8", true, "up")) == 200);
  CHECK(StatusOf(CheckUpstreamHead(200, "application/json", false, "up")) == 200);
  CHECK(StatusOf(CheckUpstreamHead(429, "application/json", true, "up")) == 200);  // an error
  CHECK(std::string(CheckUpstreamHead(301, "", false, "default/up").message())
            .find("ModelProvider default/up") != std::string::npos);
}

TEST_CASE("a 2xx body must be one whole JSON document") {
  CHECK(StatusOf(CheckUpstreamJson(R"({"id":"x"})", "up")) == 200);
  CHECK(StatusOf(CheckUpstreamJson("<html><body>busy</body></html>", "up")) == 502);
  CHECK(StatusOf(CheckUpstreamJson(R"({"id":"x"} {"id":"y"})", "up")) == 502);
  CHECK(StatusOf(CheckUpstreamJson(R"({"id":"x")", "up")) == 502);
  CHECK(StatusOf(CheckUpstreamJson("", "up")) == 502);
}

TEST_CASE("Retry-After is passed on only as a delay or a date without a key run") {
  const KeyScrubber s({"sk-proj-12345678901234"});
  CHECK(SafeRetryAfter(" 20 ", s) == "20");
  CHECK(SafeRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", s) == "Wed, 21 Oct 2015 07:28:00 GMT");
  CHECK(SafeRetryAfter("sk-proj-12345678901234", s).empty());
  CHECK(SafeRetryAfter("1234567890", s).empty());  // 8+ characters of the key
  CHECK(SafeRetryAfter("1; url=http://x", s).empty());
  CHECK(SafeRetryAfter("", s).empty());
}

}  // namespace
}  // namespace pai::gateway
