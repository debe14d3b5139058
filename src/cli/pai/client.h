// Client: the `pai` CLI's HTTP client of pai-server's REST API (docs/api.md), over a libcurl
// easy handle. JSON in, JSON out; a non-2xx answer becomes a Status carrying the server's
// `error.message`.
//
// Timeouts: connect 10 s, whole request 60 s. TLS peers are verified (extra CA bundle from
// $PAI_CA_FILE); proxies follow libcurl's defaults (the usual *_proxy variables).
//
// Thread safety: a Client is used by one thread at a time.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "boost/json/value.hpp"

namespace pai::cli {

struct Response {
  long status = 0;          // HTTP status
  boost::json::value body;  // parsed JSON; null when the body was empty
  std::string raw;          // the body as received
};

class Client {
 public:
  // `server` is a normalised base URL ("http://127.0.0.1:7070"); `token` may be empty.
  Client(std::string server, std::string token);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Call() sends `method` to server + `path` (already percent-encoded) with an optional JSON
  // body. Errors: Unavailable "cannot reach <server>: <reason>" when no HTTP answer came;
  // for a non-2xx answer a Status whose code follows the HTTP status (401 Unauthenticated,
  // 403 PermissionDenied, 404 NotFound, 409 AlreadyExists/Aborted, 400/422 InvalidArgument,
  // 5xx Unavailable/Internal) and whose message is the server's error.message.
  absl::StatusOr<Response> Call(std::string_view method, const std::string& path,
                                const std::optional<boost::json::value>& body = std::nullopt);

  // Get() / Delete() / Post() / Put(): Call() returning only the body.
  absl::StatusOr<boost::json::value> Get(const std::string& path);

  // CallBytes() is Call() for bodies that are not JSON (pai cp): `body` is sent as is with
  // `content_type` (none for an empty content type), and a 2xx answer's bytes are returned
  // in `raw` without being parsed (`body` is parsed only for an error). Errors as Call().
  absl::StatusOr<Response> CallBytes(std::string_view method, const std::string& path,
                                     std::string_view body, std::string_view content_type,
                                     std::string_view accept = "application/json");

  // StreamEnd: how a Stream() ended.
  enum class StreamEnd {
    kEof,        // the server ended the body
    kStopped,    // on_data returned false
    kCancelled,  // cancelled() returned true (Ctrl-C)
  };
  struct StreamOptions {
    std::vector<std::string> headers;  // extra request headers ("Last-Event-ID: 42")
    std::string accept = "*/*";
    // No byte for this long → the connection counts as lost (0: wait forever).
    long idle_timeout_seconds = 0;
    std::function<bool()> cancelled;  // polled about ten times a second
  };
  // Stream() GETs `path` without an overall timeout and hands each chunk of a 2xx body to
  // `on_data` as it arrives. Errors: as Call() for a non-2xx answer (its body is read whole);
  // Unavailable "connection to <server> lost: <reason>" when the connection fails mid-body.
  absl::StatusOr<StreamEnd> Stream(const std::string& path, const StreamOptions& options,
                                   const std::function<bool(std::string_view)>& on_data);

  const std::string& token() const { return token_; }

  const std::string& server() const { return server_; }

 private:
  std::string server_;
  std::string token_;
  void* curl_;  // CURL*
};

// ResourcePath() is /apis/pai.io/v1/namespaces/{ns}/{plural}[/{name}] with each segment
// percent-encoded; an empty `ns` gives the cluster-wide /apis/pai.io/v1/{plural}.
std::string ResourcePath(std::string_view ns, std::string_view plural, std::string_view name = "");

}  // namespace pai::cli
