#include "gateway/http/errors.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

namespace pai::gateway {
namespace {

TEST_CASE("status codes map to the HTTP statuses OpenAI uses") {
  CHECK(HttpStatusFor(absl::StatusCode::kInvalidArgument) == 400);
  CHECK(HttpStatusFor(absl::StatusCode::kUnauthenticated) == 401);
  CHECK(HttpStatusFor(absl::StatusCode::kPermissionDenied) == 403);
  CHECK(HttpStatusFor(absl::StatusCode::kNotFound) == 404);
  CHECK(HttpStatusFor(absl::StatusCode::kResourceExhausted) == 429);
  CHECK(HttpStatusFor(absl::StatusCode::kUnavailable) == 503);
  CHECK(HttpStatusFor(absl::StatusCode::kDeadlineExceeded) == 504);
  CHECK(HttpStatusFor(absl::StatusCode::kInternal) == 500);
}

TEST_CASE("an error status becomes OpenAI's error body with code and param") {
  const ApiError e =
      ToApiError(MakeError(absl::StatusCode::kInvalidArgument, "model must be a string",
                           "invalid_request_error", "model"));
  CHECK(e.http_status == 400);
  auto v = boost::json::parse(OpenAIErrorBody(e));
  const auto& err = v.at("error").as_object();
  CHECK(err.at("message").as_string() == "model must be a string");
  CHECK(err.at("type").as_string() == "invalid_request_error");
  CHECK(err.at("param").as_string() == "model");
  CHECK(err.at("code").as_string() == "invalid_request_error");
}

TEST_CASE("an explicit HTTP status overrides the mapping — absent code and param are null") {
  const ApiError e = ToApiError(MakeHttpError(502, "provider \"down\"\n", "upstream_error"));
  CHECK(e.http_status == 502);
  CHECK(e.type == "api_error");
  auto v = boost::json::parse(OpenAIErrorBody(e));
  CHECK(v.at("error").at("param").is_null());
  CHECK(v.at("error").at("message").as_string() == "provider \"down\"\n");  // escaped and back
  const ApiError plain = ToApiError(absl::UnauthenticatedError("no"));
  CHECK(plain.http_status == 401);
  CHECK(boost::json::parse(OpenAIErrorBody(plain)).at("error").at("code").is_null());
}

TEST_CASE("status classes label metrics") {
  CHECK(StatusClass(200) == "2xx");
  CHECK(StatusClass(431) == "4xx");
  CHECK(StatusClass(504) == "5xx");
}

}  // namespace
}  // namespace pai::gateway
