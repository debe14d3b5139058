// Errors on the agent-facing API.
//
// Inside the gateway every failure is an absl::Status; a status may carry the OpenAI error
// `code` and `param` as payloads (MakeError()). At the edge, ToApiError() turns it into the
// HTTP status and body OpenAI's API uses:
//   {"error":{"message":"…","type":"…","param":"…"|null,"code":"…"|null}}
// (OpenAI API reference, "Error codes"). Status code mapping (absl/status/status.h meanings):
//   InvalidArgument 400, Unauthenticated 401, PermissionDenied 403, NotFound 404,
//   FailedPrecondition 400, ResourceExhausted 429, Unavailable 503, DeadlineExceeded 504,
//   Aborted 409, Unimplemented 501, anything else 500.
// Statuses may override the HTTP status with a payload (MakeHttpError()), e.g. 405, 413, 431,
// 502.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace pai::gateway {

// ApiError: what the client sees.
struct ApiError {
  int http_status = 500;
  std::string type;     // OpenAI `error.type`, e.g. "invalid_request_error"
  std::string code;     // OpenAI `error.code`, empty → null
  std::string param;    // OpenAI `error.param`, empty → null
  std::string message;  // safe for the client: never a key or token
};

// MakeError() builds a status with OpenAI `code` (and optional `param`) payloads.
absl::Status MakeError(absl::StatusCode code, std::string_view message, std::string_view api_code,
                       std::string_view param = {});

// MakeHttpError() is MakeError() with an explicit HTTP status (405, 413, 431, 502 …).
absl::Status MakeHttpError(int http_status, std::string_view message, std::string_view api_code,
                           std::string_view param = {});

// HttpStatusFor() maps a status code to the HTTP status (table above).
int HttpStatusFor(absl::StatusCode code);

// ToApiError() derives the client-facing error from `status` (which must not be OK).
ApiError ToApiError(const absl::Status& status);

// OpenAIErrorBody() serialises `e` in OpenAI's error shape.
std::string OpenAIErrorBody(const ApiError& e);

// AnthropicErrorBody() serialises `e` in Anthropic's error shape (API reference, "Errors"):
// {"type":"error","error":{"type","message"}}, the type from the HTTP status (400
// invalid_request_error, 401 authentication_error, 403 permission_error, 404 not_found_error,
// 413 request_too_large, 429 rate_limit_error, 529 overloaded_error, other 5xx api_error).
std::string AnthropicErrorBody(const ApiError& e);

// StatusClass() is "2xx", "4xx", "5xx" … for a metric label.
std::string_view StatusClass(int http_status);

}  // namespace pai::gateway
