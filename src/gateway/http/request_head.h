// Checks of an agent request's head that the HTTP parser does not make (RFC 9112), applied
// before authentication and before the body is read.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "common/strings.h"

namespace pai::gateway {

// RequestHead: the parts of a request head the checks read (views into the parser's header).
struct RequestHead {
  // A field's lines: nearly always one, held without an allocation.
  using Lines = absl::InlinedVector<std::string_view, 1>;
  unsigned version = 11;  // 10 for HTTP/1.0, 11 for HTTP/1.1
  std::string_view target;
  Lines host;                   // every Host field line
  Lines transfer_encoding;      // every Transfer-Encoding field line
  Lines authorization;          // every Authorization field line
  Lines x_api_key;              // every x-api-key field line
  bool content_length = false;  // a Content-Length is present

  // Of() collects the fields of a Beast-like header (iterable; each field has name_string() and
  // value()) in one pass over its fields, names compared without regard to case.
  template <typename Fields>
  static RequestHead Of(const Fields& fields, unsigned version, std::string_view target) {
    RequestHead h;
    h.version = version;
    h.target = target;
    for (const auto& f : fields) {
      const std::string_view name(f.name_string().data(), f.name_string().size());
      Lines* lines = nullptr;
      switch (name.size()) {
        case 4:
          if (absl::EqualsIgnoreCase(AV(name), "host")) lines = &h.host;
          break;
        case 9:
          if (absl::EqualsIgnoreCase(AV(name), "x-api-key")) lines = &h.x_api_key;
          break;
        case 13:
          if (absl::EqualsIgnoreCase(AV(name), "authorization")) lines = &h.authorization;
          break;
        case 14:
          if (absl::EqualsIgnoreCase(AV(name), "content-length")) h.content_length = true;
          break;
        case 17:
          if (absl::EqualsIgnoreCase(AV(name), "transfer-encoding")) lines = &h.transfer_encoding;
          break;
        default:
          break;
      }
      if (lines != nullptr) lines->push_back(std::string_view(f.value().data(), f.value().size()));
    }
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
