#include "gateway/http/request_head.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"
#include "gateway/http/errors.h"

namespace pai::gateway {
namespace {

absl::Status BadRequest(std::string_view message) {
  return MakeHttpError(400, message, "invalid_http_request");
}

// OriginForm() is the path and query of an absolute-form target ("http://h:1/p?q" → "/p?q";
// "http://h" → "/"); empty when `target` is not in absolute form.
std::string OriginForm(std::string_view target) {
  size_t scheme = 0;
  if (absl::StartsWithIgnoreCase(AV(target), "http://")) {
    scheme = 7;
  } else if (absl::StartsWithIgnoreCase(AV(target), "https://")) {
    scheme = 8;
  } else {
    return {};
  }
  const std::string_view rest = target.substr(scheme);
  const size_t path = rest.find_first_of("/?#");
  if (path == std::string_view::npos) return "/";
  std::string out(rest.substr(path));
  if (out.front() != '/') out.insert(out.begin(), '/');
  return out;
}

absl::Status CheckTransferEncoding(const RequestHead& head) {
  if (head.transfer_encoding.empty()) return absl::OkStatus();
  // RFC 9112 §6.1: a Transfer-Encoding in an HTTP/1.0 message is faulty framing (1.0 has no
  // transfer codings); behind a 1.0 intermediary it is a smuggling vector.
  if (head.version < 11) return BadRequest("Transfer-Encoding is not allowed in HTTP/1.0");
  if (head.content_length) {
    return BadRequest(
        "Transfer-Encoding and Content-Length together make the body length ambiguous");
  }
  std::vector<std::string> codings;
  for (std::string_view line : head.transfer_encoding) {
    for (absl::string_view c : absl::StrSplit(AV(line), ',')) {
      c = c.substr(0, c.find(';'));  // transfer parameters
      c = absl::StripAsciiWhitespace(c);
      if (!c.empty()) codings.push_back(absl::AsciiStrToLower(c));
    }
  }
  size_t chunked = 0;
  for (const std::string& c : codings) chunked += c == "chunked" ? 1 : 0;
  if (codings.empty() || codings.back() != "chunked" || chunked != 1) {
    return BadRequest(
        "Transfer-Encoding must end with chunked, once: the body length is undefined");
  }
  if (codings.size() > 1) {
    return MakeHttpError(501,
                         pai::StrCat("Transfer-Encoding ", codings.front(),
                                     " is not supported: send the body with chunked only"),
                         "unsupported_transfer_encoding");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckRequestHead(const RequestHead& head, std::string* origin_target) {
  origin_target->clear();
  if (head.host.size() > 1) return BadRequest("More than one Host header");
  if (head.host.empty() && head.version >= 11)
    return BadRequest("An HTTP/1.1 request needs a Host header");
  if (absl::Status te = CheckTransferEncoding(head); !te.ok()) return te;
  if (head.authorization.size() > 1) return BadRequest("More than one Authorization header");
  if (head.x_api_key.size() > 1) return BadRequest("More than one x-api-key header");
  *origin_target = OriginForm(head.target);
  return absl::OkStatus();
}

}  // namespace pai::gateway
