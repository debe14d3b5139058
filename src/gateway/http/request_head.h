// Checks of an agent request's head that the HTTP parser does not make (RFC 9112), applied
// before authentication and before the body is read.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace pai::gateway {

// RequestHead: the parts of a request head the checks read (views into the parser's header).
struct RequestHead {
  unsigned version = 11;  // 10 for HTTP/1.0, 11 for HTTP/1.1
  std::string_view target;
  std::vector<std::string_view> host;               // every Host field line
  std::vector<std::string_view> transfer_encoding;  // every Transfer-Encoding field line
  std::vector<std::string_view> authorization;      // every Authorization field line
  std::vector<std::string_view> x_api_key;          // every x-api-key field line
  bool content_length = false;                      // a Content-Length is present

  // Of() collects the fields of a Beast-like header (`equal_range(std::string_view)`).
  template <typename Fields>
  static RequestHead Of(const Fields& fields, unsigned version, std::string_view target) {
    RequestHead h;
    h.version = version;
    h.target = target;
    auto all = [&](std::string_view name, std::vector<std::string_view>* out) {
      for (auto [it, end] = fields.equal_range(name); it != end; ++it) {
        out->push_back(std::string_view(it->value()));
      }
    };
    all("host", &h.host);
    all("transfer-encoding", &h.transfer_encoding);
    all("authorization", &h.authorization);
    all("x-api-key", &h.x_api_key);
    h.content_length = fields.count("content-length") > 0;
    return h;
  }
};

// CheckRequestHead() refuses, with the status RFC 9112 names (errors.h shapes, code
// "invalid_http_request" or "unsupported_transfer_encoding"):
//  - HTTP/1.1 without Host, or more than one Host (400; RFC 9112 §3.2);
//  - a Transfer-Encoding whose final coding is not chunked or that repeats chunked (400: the body
//    length is undefined, §6.3), one next to a Content-Length (400: smuggling, §6.1), one with any
//    other coding such as `gzip, chunked` (501: the gateway decodes none, §6.1);
//  - more than one Authorization or x-api-key (400: which credential counts would be a guess).
// An absolute-form target (`http://host/v1/chat/completions?x`, §3.2.2, which a server must
// accept) sets `*origin_target` to its origin form (`/v1/chat/completions?x`); otherwise
// `*origin_target` is left empty.
absl::Status CheckRequestHead(const RequestHead& head, std::string* origin_target);

}  // namespace pai::gateway
