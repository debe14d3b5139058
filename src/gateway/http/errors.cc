#include "gateway/http/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/json_util.h"
#include "common/strings.h"

namespace pai::gateway {
namespace {

constexpr std::string_view kCodeUrl = "pai.io/error-code";
constexpr std::string_view kParamUrl = "pai.io/error-param";
constexpr std::string_view kHttpUrl = "pai.io/http-status";

std::string_view TypeFor(int http_status) {
  switch (http_status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    case 502:
    case 503:
    case 504:
    case 500:
      return "api_error";
    default:
      return http_status >= 500 ? "api_error" : "invalid_request_error";
  }
}

}  // namespace

absl::Status MakeError(absl::StatusCode code, std::string_view message, std::string_view api_code,
                       std::string_view param) {
  absl::Status s(code, AV(message));
  if (!api_code.empty()) s.SetPayload(AV(kCodeUrl), absl::Cord(AV(api_code)));
  if (!param.empty()) s.SetPayload(AV(kParamUrl), absl::Cord(AV(param)));
  return s;
}

absl::Status MakeHttpError(int http_status, std::string_view message, std::string_view api_code,
                           std::string_view param) {
  const absl::StatusCode code = http_status == 405   ? absl::StatusCode::kUnimplemented
                                : http_status < 500  ? absl::StatusCode::kInvalidArgument
                                : http_status == 504 ? absl::StatusCode::kDeadlineExceeded
                                                     : absl::StatusCode::kUnavailable;
  absl::Status s = MakeError(code, message, api_code, param);
  s.SetPayload(AV(kHttpUrl), absl::Cord(pai::StrCat(http_status)));
  return s;
}

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

ApiError ToApiError(const absl::Status& status) {
  ApiError e;
  e.http_status = HttpStatusFor(status.code());
  if (auto http = status.GetPayload(AV(kHttpUrl))) {
    int v = 0;
    if (absl::SimpleAtoi(std::string(*http), &v)) e.http_status = v;
  }
  if (auto c = status.GetPayload(AV(kCodeUrl))) e.code = std::string(*c);
  if (auto p = status.GetPayload(AV(kParamUrl))) e.param = std::string(*p);
  e.type = std::string(TypeFor(e.http_status));
  // OpenAI's 429 types: "insufficient_quota" for exhausted quota, "requests" for rate limits.
  if (e.http_status == 429 && e.code == "insufficient_quota") e.type = "insufficient_quota";
  if (e.http_status == 429 && e.code == "rate_limit_exceeded") e.type = "requests";
  e.message = std::string(status.message());
  if (e.message.empty()) e.message = std::string(absl::StatusCodeToString(status.code()));
  return e;
}

std::string OpenAIErrorBody(const ApiError& e) {
  std::string out = "{\"error\":{\"message\":";
  AppendJsonString(out, e.message);
  out += ",\"type\":";
  AppendJsonString(out, e.type);
  out += ",\"param\":";
  if (e.param.empty()) {
    out += "null";
  } else {
    AppendJsonString(out, e.param);
  }
  out += ",\"code\":";
  if (e.code.empty()) {
    out += "null";
  } else {
    AppendJsonString(out, e.code);
  }
  out += "}}";
  return out;
}

std::string_view StatusClass(int http_status) {
  switch (http_status / 100) {
    case 1:
      return "1xx";
    case 2:
      return "2xx";
    case 3:
      return "3xx";
    case 4:
      return "4xx";
    default:
      return "5xx";
  }
}

std::string AnthropicErrorBody(const ApiError& e) {
  std::string_view type = "api_error";
  switch (e.http_status) {
    case 400:
    case 405:
    case 431:
      type = "invalid_request_error";
      break;
    case 401:
      type = "authentication_error";
      break;
    case 403:
      type = "permission_error";
      break;
    case 404:
      type = "not_found_error";
      break;
    case 413:
      type = "request_too_large";
      break;
    case 429:
      type = "rate_limit_error";
      break;
    case 529:
      type = "overloaded_error";
      break;
    case 504:
      type = "timeout_error";
      break;
    default:
      break;
  }
  std::string out = "{\"type\":\"error\",\"error\":{\"type\":";
  AppendJsonString(out, type);
  out += ",\"message\":";
  AppendJsonString(out, e.message);
  out += "}}";
  return out;
}

}  // namespace pai::gateway
