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

absl::StatusOr<Response> Client::Call(std::string_view method, const std::string& path,
                                      const std::optional<json::value>& body) {
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return absl::InternalError("libcurl initialisation failed");
  curl_easy_reset(curl);
  const std::string url = server_ + path;
  const std::string method_str(method);
  std::string payload;
  std::string received;
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &received);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "pai/0.2.0");
  if (const char* ca = std::getenv("PAI_CA_FILE"); ca != nullptr && *ca != '\0') {
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
  }
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_str.c_str());
  if (method == "GET") curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);

  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  std::string auth;
  if (!token_.empty()) {
    auth = "Authorization: Bearer " + token_;
    headers = curl_slist_append(headers, auth.c_str());
  }
  if (body.has_value()) {
    payload = json::serialize(*body);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  } else if (method == "POST" || method == "PUT") {
    // An empty body is still JSON's business (libcurl would label it a form).
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(0));
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
    std::string reason;
    if (rc == CURLE_COULDNT_CONNECT && os_errno != 0) {
      reason = std::strerror(static_cast<int>(os_errno));
    } else if (errbuf[0] != '\0') {
      reason = errbuf;
      while (!reason.empty() && reason.back() == '\n') reason.pop_back();
    } else {
      reason = curl_easy_strerror(rc);
    }
    return absl::UnavailableError("cannot reach " + server_ + ": " + reason);
  }
  r.raw = std::move(received);
  if (!r.raw.empty()) {
    boost::system::error_code ec;
    r.body = json::parse(r.raw, ec);
    if (ec) r.body = nullptr;
  }
  if (r.status < 200 || r.status >= 300) return HttpError(r.status, r);
  if (!r.raw.empty() && r.body.is_null()) {
    return absl::InternalError("the server's answer to " + method_str + " " + path +
                               " is not JSON");
  }
  return r;
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
