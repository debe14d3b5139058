// ModelClient: calls the Pai gateway's OpenAI-compatible Chat Completions API.
//
// Request: POST {OPENAI_BASE_URL}/chat/completions, `Authorization: Bearer {OPENAI_API_KEY}`,
// the body built by the loop (model, messages, tools, `stream: true`,
// `stream_options: {"include_usage": true}`); the answer is read as SSE (see sse.h) or, when the
// server answers `application/json`, as one `chat.completion`.
// Errors follow OpenAI's shape `{"error":{"message","type","param","code"}}`:
//   429 with code/type `insufficient_quota` or `budget_exceeded` → kBudget (the gateway's
//       budget refusals, docs/budgets.md; never retried),
//   other 429 → kRateLimited (retried honouring Retry-After),
//   401/403 → kAuth, 5xx → kServer, no answer / broken stream → kConnection (retried),
//   other 4xx → kRequest (not retried), interrupt → kCancelled.
//
// Thread safety: Complete() may be called from one thread at a time; the CancelToken may be
// cancelled from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <string>

#include "harness/cancel.h"
#include "harness/sse.h"

namespace pai::harness {

struct ModelError {
  enum class Kind {
    kNone,
    kBudget,
    kRateLimited,
    kAuth,
    kServer,
    kConnection,
    kRequest,
    kCancelled
  };
  Kind kind = Kind::kNone;
  int http_status = 0;  // 0 when no HTTP answer
  std::string message;
  std::string type;              // error.type of the body
  std::string code;              // error.code of the body
  int retry_after_seconds = -1;  // the Retry-After header; -1 when absent

  static ModelError Make(Kind kind, int http_status, std::string message) {
    ModelError e;
    e.kind = kind;
    e.http_status = http_status;
    e.message = std::move(message);
    return e;
  }
};

struct ModelOutcome {
  bool ok() const { return error.kind == ModelError::Kind::kNone; }
  ModelReply reply;
  ModelError error;
  int attempts = 0;
};

struct RetryPolicy {
  int rate_limit_retries = 3;                  // extra attempts after a 429 rate limit
  int server_retries = 2;                      // extra attempts after a 5xx or a connection failure
  std::chrono::milliseconds base_delay{1000};  // doubled per retry when there is no Retry-After
  std::chrono::milliseconds max_delay{60000};
  // A 401 within this long after the client was made is retried every 100 ms: a Session's
  // gateway identity is minted just before the harness starts, and the gateway picks up its
  // token file within its watch interval (100 ms by default).
  std::chrono::milliseconds auth_grace{10000};
};

// ClassifyHttpError() maps a non-2xx answer (status, body, Retry-After seconds or -1).
ModelError ClassifyHttpError(int status, std::string_view body, int retry_after_seconds);

class ModelClient {
 public:
  // `base_url` without the trailing "/chat/completions" (e.g. http://127.0.0.1:4000/v1).
  ModelClient(std::string base_url, std::string api_key, RetryPolicy policy = {});

  // Complete() runs the request with the retry policy; the outcome holds the reply or the last
  // error. Backoff sleeps end early on cancel.
  ModelOutcome Complete(const boost::json::object& request, CancelToken& cancel);

  // Attempt() is one HTTP exchange, no retry.
  ModelOutcome Attempt(const std::string& body, CancelToken& cancel);

 private:
  std::string url_;
  std::string auth_header_;  // never logged
  RetryPolicy policy_;
  std::chrono::steady_clock::time_point created_ = std::chrono::steady_clock::now();
};

}  // namespace pai::harness
