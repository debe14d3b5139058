#include "harness/model_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <memory>

#include "harness/http.h"
#include "harness/util.h"

namespace pai::harness {

namespace json = boost::json;

namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;

struct Exchange {
  CURL* curl = nullptr;
  long status = 0;
  bool streaming = true;  // text/event-stream (or unknown) vs application/json
  bool decided = false;
  std::string raw;  // error body or JSON body
  int retry_after = -1;
  ChatStreamAssembler assembler;
  absl::Status stream_error;
  std::unique_ptr<SseParser> sse;
};

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  std::string_view line(data, size * n);
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  const std::string name = Lower(line.substr(0, colon));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  if (name == "retry-after") {
    int secs = 0;
    bool digits = !value.empty();
    for (char c : value) {
      if (c < '0' || c > '9') {
        digits = false;
        break;
      }
      secs = std::min(secs * 10 + (c - '0'), 1000000);
    }
    if (digits) ex->retry_after = secs;
  } else if (name == "content-type") {
    ex->streaming = Lower(value).find("application/json") == std::string::npos;
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  if (!ex->decided) {
    curl_easy_getinfo(ex->curl, CURLINFO_RESPONSE_CODE, &ex->status);
    ex->decided = true;
  }
  const std::string_view bytes(data, size * n);
  if (ex->status != 200 || !ex->streaming) {
    if (ex->raw.size() + bytes.size() > 16 * kMaxErrorBody) return 0;  // refuse a runaway body
    ex->raw.append(bytes);
  } else {
    ex->sse->Feed(bytes);
  }
  return size * n;
}

std::string ErrField(const json::object& err, std::string_view key) {
  const json::value* v = err.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

ModelError ClassifyHttpError(int status, std::string_view body, int retry_after_seconds) {
  ModelError e;
  e.http_status = status;
  e.retry_after_seconds = retry_after_seconds;
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(body.data(), body.size()), ec);
  if (!ec && v.is_object()) {
    if (const json::value* err = v.get_object().if_contains("error");
        err != nullptr && err->is_object()) {
      e.message = ErrField(err->get_object(), "message");
      e.type = ErrField(err->get_object(), "type");
      e.code = ErrField(err->get_object(), "code");
    }
  }
  if (e.message.empty()) {
    std::string first(body.substr(0, std::min<size_t>(body.find('\n'), 200)));
    e.message = "HTTP " + std::to_string(status) + (first.empty() ? "" : ": " + first);
  }
  e.message = SanitizeUtf8(e.message);
  auto is_budget = [](const std::string& s) {
    return s == "insufficient_quota" || s == "budget_exceeded";
  };
  if (status == 429) {
    e.kind = is_budget(e.code) || is_budget(e.type) ? ModelError::Kind::kBudget
                                                    : ModelError::Kind::kRateLimited;
  } else if (status == 401 || status == 403) {
    e.kind = ModelError::Kind::kAuth;
  } else if (status >= 500) {
    e.kind = ModelError::Kind::kServer;
  } else {
    e.kind = ModelError::Kind::kRequest;
  }
  return e;
}

ModelClient::ModelClient(std::string base_url, std::string api_key, RetryPolicy policy)
    : policy_(policy) {
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  url_ = base_url + "/chat/completions";
  if (!api_key.empty()) auth_header_ = "Authorization: Bearer " + api_key;
}

ModelOutcome ModelClient::Attempt(const std::string& body, CancelToken& cancel) {
  ModelOutcome out;
  Exchange ex;
  ex.sse = std::make_unique<SseParser>([&ex](std::string_view data) {
    if (!ex.stream_error.ok()) return;
    ex.stream_error = ex.assembler.AddChunk(data);
  });
  ex.curl = curl_easy_init();
  if (ex.curl == nullptr) {
    out.error = ModelError::Make(ModelError::Kind::kConnection, 0, "libcurl initialisation failed");
    return out;
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Accept: text/event-stream");
  headers = curl_slist_append(headers, "Expect:");
  if (!auth_header_.empty()) headers = curl_slist_append(headers, auth_header_.c_str());
  curl_easy_setopt(ex.curl, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(ex.curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(ex.curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(ex.curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(ex.curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(ex.curl, CURLOPT_CONNECTTIMEOUT, 30L);
  // A model may think for minutes before its first token; a silent connection is dead after 10.
  curl_easy_setopt(ex.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(ex.curl, CURLOPT_LOW_SPEED_TIME, 600L);
  curl_easy_setopt(ex.curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(ex.curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(ex.curl, CURLOPT_HEADERDATA, &ex);
  curl_easy_setopt(ex.curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(ex.curl, CURLOPT_WRITEDATA, &ex);
  curl_easy_setopt(ex.curl, CURLOPT_USERAGENT, "pai-harness/0.1");
  bool cancelled = false;
  const CURLcode rc = PerformCancellable(ex.curl, cancel, &cancelled);
  if (!ex.decided) curl_easy_getinfo(ex.curl, CURLINFO_RESPONSE_CODE, &ex.status);
  curl_easy_cleanup(ex.curl);
  curl_slist_free_all(headers);

  if (cancelled) {
    out.error = ModelError::Make(ModelError::Kind::kCancelled, 0, "interrupted");
    return out;
  }
  if (ex.status != 0 && ex.status != 200) {
    out.error = ClassifyHttpError(static_cast<int>(ex.status), ex.raw, ex.retry_after);
    return out;
  }
  if (rc != CURLE_OK) {
    std::string reason = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    while (!reason.empty() && reason.back() == '\n') reason.pop_back();
    out.error = ModelError::Make(ModelError::Kind::kConnection, 0,
                                 "cannot reach the model gateway: " + reason);
    return out;
  }
  if (!ex.streaming) {
    if (absl::Status s = ParseCompletion(ex.raw, out.reply); !s.ok()) {
      out.error = ModelError::Make(ModelError::Kind::kServer, 200, std::string(s.message()));
    }
    return out;
  }
  ex.sse->Finish();
  if (!ex.stream_error.ok()) {
    out.error =
        ModelError::Make(ModelError::Kind::kServer, 200, std::string(ex.stream_error.message()));
    return out;
  }
  if (!ex.assembler.complete()) {
    out.error = ModelError::Make(ModelError::Kind::kConnection, 200,
                                 "the model stream ended before [DONE]");
    return out;
  }
  out.reply = ex.assembler.Take();
  return out;
}

ModelOutcome ModelClient::Complete(const json::object& request, CancelToken& cancel) {
  const std::string body = json::serialize(request);
  int rate_retries = 0;
  int server_retries = 0;
  for (int attempt = 1;; ++attempt) {
    ModelOutcome out = Attempt(body, cancel);
    out.attempts = attempt;
    std::chrono::milliseconds delay{0};
    const ModelError& e = out.error;
    if (e.kind == ModelError::Kind::kRateLimited && rate_retries < policy_.rate_limit_retries) {
      delay = e.retry_after_seconds >= 0 ? std::chrono::milliseconds(e.retry_after_seconds * 1000)
                                         : policy_.base_delay * (1 << rate_retries);
      ++rate_retries;
    } else if (e.kind == ModelError::Kind::kAuth && e.http_status == 401 &&
               std::chrono::steady_clock::now() - created_ < policy_.auth_grace) {
      delay = std::chrono::milliseconds(100);
    } else if ((e.kind == ModelError::Kind::kServer || e.kind == ModelError::Kind::kConnection) &&
               server_retries < policy_.server_retries) {
      delay = policy_.base_delay * (1 << server_retries);
      ++server_retries;
    } else {
      return out;
    }
    delay = std::min(delay, policy_.max_delay);
    Log("model call failed (" + e.message + "); retrying in " + std::to_string(delay.count()) +
        " ms");
    if (cancel.WaitFor(delay)) {
      out.error = ModelError::Make(ModelError::Kind::kCancelled, 0, "interrupted");
      return out;
    }
  }
}

}  // namespace pai::harness
