// Helpers shared by the API's translation units (api.cc, api_sessions.cc): JSON answers and
// the error shape of docs/api.md.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "server/api.h"

namespace pai::server {

// One request as the routes see it: the decoded path segments after /apis/pai.io/v1, the
// decoded query, the authenticated caller.
struct Api::Ctx {
  const ApiRequest& req;
  std::vector<std::string> segments;
  std::map<std::string, std::string> query;
  Caller caller;
};

}  // namespace pai::server

namespace pai::server::api_internal {

inline ApiResponse Json(int status, const boost::json::value& v) {
  return {status, boost::json::serialize(v)};
}
inline ApiResponse Err(int status, std::string_view code, std::string_view message,
                       std::string_view field = "") {
  return {status, ErrorJson(code, message, field)};
}
// FromStatus(): the HTTP status and error code of an absl::Status.
inline ApiResponse FromStatus(const absl::Status& s) {
  const std::string m(s.message());
  switch (s.code()) {
    case absl::StatusCode::kNotFound:
      return Err(404, "not_found", m);
    case absl::StatusCode::kAlreadyExists:
      return Err(409, "already_exists", m);
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kFailedPrecondition:
      return Err(409, "conflict", m);
    case absl::StatusCode::kInvalidArgument:
      return Err(422, "invalid", m);
    case absl::StatusCode::kPermissionDenied:
      return Err(403, "forbidden", m);
    case absl::StatusCode::kUnauthenticated:
      return Err(401, "unauthenticated", m);
    case absl::StatusCode::kUnavailable:
      return Err(503, "gateway_unavailable", m);
    default:
      return Err(500, "internal", m);
  }
}

}  // namespace pai::server::api_internal
