#include "cli/pai/client.h"

#include <curl/curl.h>

#include <cstdlib>
#include <cstring>

#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "cli/pai/text.h"

namespace pai::cli {

namespace json = boost::json;

namespace {

size_t WriteBody(char* data, size_t size, size_t nmemb, void* user) {
  static_cast<std::string*>(user)->append(data, size * nmemb);
  return size * nmemb;
}

absl::Status HttpError(long status, const Response& r) {
  std::string message;
  if (r.body.is_object()) {
    const json::value* err = r.body.get_object().if_contains("error");
    if (err != nullptr && err->is_object()) {
      const json::value* m = err->get_object().if_contains("message");
      if (m != nullptr && m->is_string()) message = std::string(m->get_string());
    }
  }
  if (message.empty()) {
    std::string first = r.raw.substr(0, r.raw.find('\n'));
    message = "HTTP " + std::to_string(status) + (first.empty() ? "" : ": " + Truncate(first, 200));
  }
  switch (status) {
    case 400:
    case 413:
    case 422:
      return absl::InvalidArgumentError(message);
    case 401:
      return absl::UnauthenticatedError(message);
    case 403:
      return absl::PermissionDeniedError(message);
    case 404:
      return absl::NotFoundError(message);
    case 409:
      return absl::AlreadyExistsError(message);
    case 429:
      return absl::ResourceExhaustedError(message);
    case 502:
    case 503:
    case 504:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

Client::Client(std::string server, std::string token)
    : server_(std::move(server)), token_(std::move(token)), curl_(curl_easy_init()) {}

Client::~Client() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

namespace {

// Setup() sets what every request shares: URL, timeouts, TLS, the bearer token.
void Setup(CURL* curl, const std::string& url, char* errbuf) {
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "pai/0.2.0");
  if (const char* ca = std::getenv("PAI_CA_FILE"); ca != nullptr && *ca != '\0') {
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
  }
}

std::string Reason(CURLcode rc, long os_errno, const char* errbuf) {
  std::string reason;
  if (rc == CURLE_COULDNT_CONNECT && os_errno != 0) {
    reason = std::strerror(static_cast<int>(os_errno));
  } else if (errbuf[0] != '\0') {
    reason = errbuf;
    while (!reason.empty() && reason.back() == '\n') reason.pop_back();
  } else {
    reason = curl_easy_strerror(rc);
  }
  return reason;
}

void ParseBody(Response& r) {
  if (r.raw.empty()) return;
  boost::system::error_code ec;
  r.body = json::parse(r.raw, ec);
  if (ec) r.body = nullptr;
}

}  // namespace

absl::StatusOr<Response> Client::Call(std::string_view method, const std::string& path,
                                      const std::optional<json::value>& body) {
  std::string payload;
  if (body.has_value()) payload = json::serialize(*body);
  const bool json_body = body.has_value() || method == "POST" || method == "PUT";
  auto r = CallBytes(method, path, payload, json_body ? "application/json" : "");
  if (!r.ok()) return r.status();
  ParseBody(*r);
  if (!r->raw.empty() && r->body.is_null()) {
    return absl::InternalError("the server's answer to " + std::string(method) + " " + path +
                               " is not JSON");
  }
  return r;
}

absl::StatusOr<Response> Client::CallBytes(std::string_view method, const std::string& path,
                                           std::string_view body, std::string_view content_type,
                                           std::string_view accept) {
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return absl::InternalError("libcurl initialisation failed");
  curl_easy_reset(curl);
  const std::string url = server_ + path;
  const std::string method_str(method);
  std::string received;
  char errbuf[CURL_ERROR_SIZE] = {0};

  Setup(curl, url, errbuf);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &received);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_str.c_str());
  if (method == "GET") curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);

  struct curl_slist* headers = nullptr;
  const std::string accept_header = "Accept: " + std::string(accept);
  headers = curl_slist_append(headers, accept_header.c_str());
  std::string auth;
  if (!token_.empty()) {
    auth = "Authorization: Bearer " + token_;
    headers = curl_slist_append(headers, auth.c_str());
  }
  std::string type_header;
  if (!content_type.empty()) {
    type_header = "Content-Type: " + std::string(content_type);
    headers = curl_slist_append(headers, type_header.c_str());
  }
  if (!body.empty() || method == "POST" || method == "PUT") {
    // An empty POST body still carries its Content-Type (libcurl would label it a form).
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  // libcurl would otherwise send "Expect: 100-continue" for large bodies.
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  const CURLcode rc = curl_easy_perform(curl);
  long os_errno = 0;
  curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
  Response r;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(headers);
  // The token must not outlive the call in curl's handle copies: reset clears the options.
  curl_easy_reset(curl);

  if (rc != CURLE_OK) {
    return absl::UnavailableError("cannot reach " + server_ + ": " + Reason(rc, os_errno, errbuf));
  }
  r.raw = std::move(received);
  if (r.status < 200 || r.status >= 300) {
    ParseBody(r);
    return HttpError(r.status, r);
  }
  return r;
}

namespace {

struct StreamState {
  CURL* curl = nullptr;
  const std::function<bool(std::string_view)>* on_data = nullptr;
  const std::function<bool()>* cancelled = nullptr;
  long status = 0;
  std::string error_body;  // a non-2xx answer's body
  bool stopped = false;
  bool was_cancelled = false;
};

size_t StreamWrite(char* data, size_t size, size_t nmemb, void* user) {
  auto* st = static_cast<StreamState*>(user);
  const size_t n = size * nmemb;
  if (st->status == 0) curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &st->status);
  if (st->status < 200 || st->status >= 300) {
    if (st->error_body.size() < 65536) st->error_body.append(data, n);
    return n;
  }
  if (!(*st->on_data)(std::string_view(data, n))) {
    st->stopped = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  return n;
}

int StreamProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* st = static_cast<StreamState*>(user);
  if (*st->cancelled && (*st->cancelled)()) {
    st->was_cancelled = true;
    return 1;
  }
  return 0;
}

}  // namespace

absl::StatusOr<Client::StreamEnd> Client::Stream(
    const std::string& path, const StreamOptions& options,
    const std::function<bool(std::string_view)>& on_data) {
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return absl::InternalError("libcurl initialisation failed");
  curl_easy_reset(curl);
  const std::string url = server_ + path;
  char errbuf[CURL_ERROR_SIZE] = {0};
  StreamState st;
  st.curl = curl;
  st.on_data = &on_data;
  st.cancelled = &options.cancelled;

  Setup(curl, url, errbuf);
  curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &StreamWrite);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &StreamProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &st);
  // Hand bytes over as they arrive: no buffering by size.
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 16384L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  if (options.idle_timeout_seconds > 0) {
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, options.idle_timeout_seconds);
  }
  struct curl_slist* headers = nullptr;
  const std::string accept = "Accept: " + options.accept;
  headers = curl_slist_append(headers, accept.c_str());
  std::string auth;
  if (!token_.empty()) {
    auth = "Authorization: Bearer " + token_;
    headers = curl_slist_append(headers, auth.c_str());
  }
  for (const auto& h : options.headers) headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  const CURLcode rc = curl_easy_perform(curl);
  long os_errno = 0;
  curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
  if (st.status == 0) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &st.status);
  curl_slist_free_all(headers);
  curl_easy_reset(curl);

  if (st.was_cancelled) return StreamEnd::kCancelled;
  if (st.stopped) return StreamEnd::kStopped;
  if (st.status != 0 && (st.status < 200 || st.status >= 300)) {
    Response r;
    r.status = st.status;
    r.raw = std::move(st.error_body);
    ParseBody(r);
    return HttpError(r.status, r);
  }
  if (rc != CURLE_OK) {
    const std::string reason = Reason(rc, os_errno, errbuf);
    if (st.status == 0) return absl::UnavailableError("cannot reach " + server_ + ": " + reason);
    return absl::UnavailableError("connection to " + server_ + " lost: " + reason);
  }
  return StreamEnd::kEof;
}

absl::StatusOr<json::value> Client::Get(const std::string& path) {
  auto r = Call("GET", path);
  if (!r.ok()) return r.status();
  return std::move(r->body);
}

std::string ResourcePath(std::string_view ns, std::string_view plural, std::string_view name) {
  std::string path = "/apis/pai.io/v1";
  if (!ns.empty()) path += "/namespaces/" + PercentEncode(ns);
  path += "/" + PercentEncode(plural);
  if (!name.empty()) path += "/" + PercentEncode(name);
  return path;
}

}  // namespace pai::cli
