// Writing a whole HTTP/1.1 message with a string body in one gather write: the start line and
// header fields serialised into one string, then the body, as Beast's serializer lays them out
// (RFC 9112 §3-§6: start line, `name: value` CRLF per field in insertion order, CRLF, body).
// Beast's http::async_write walks its serializer's buffer-sequence views per write (~8 % of
// the gateway's CPU per proxied call before this); a message with a transfer coding still
// goes through it. Only Beast TUs include this (it includes http/beast.h).
#pragma once

#include <array>
#include <string>

#include "absl/strings/str_cat.h"
#include "gateway/http/beast.h"

namespace pai::gateway {

// AppendHead() appends the header block of `fields` ("name: value\r\n" each, then "\r\n").
inline void AppendFields(std::string& out, const http::fields& fields) {
  for (const auto& f : fields) {
    out.append(f.name_string());
    out += ": ";
    out.append(f.value());
    out += "\r\n";
  }
  out += "\r\n";
}

// ResponseHead(): the status line and header block of a response, byte for byte what Beast's
// serializer writes (tests/gateway/http/wire_test.cc). Requests to providers are written by
// RequestHeadBuilder (upstream/upstream.h) without a Beast message.
inline std::string ResponseHead(const http::response_header<>& res) {
  std::string out;
  out.reserve(256);
  absl::StrAppend(&out, "HTTP/", res.version() / 10, ".", res.version() % 10, " ", res.result_int(),
                  " ");
  out.append(res.reason());
  out += "\r\n";
  AppendFields(out, res);
  return out;
}

// AsyncWriteMessage() writes `res` (a response with a string body) to `stream`: one gather
// write of head and body, or Beast's serializer when the response is chunked. Completes with
// (error_code, bytes). `res` must outlive the operation.
template <typename Stream>
Task<std::tuple<beast::error_code, size_t>> AsyncWriteMessage(
    Stream& stream, http::response<http::string_body>& res) {
  if (res.chunked()) {
    auto [ec, n] = co_await http::async_write(stream, res, kTuple);
    std::tuple<beast::error_code, size_t> result(ec, n);
    co_return result;
  }
  const std::string head = ResponseHead(res.base());
  const std::array<net::const_buffer, 2> buffers{net::buffer(head), net::buffer(res.body())};
  auto [ec, n] = co_await net::async_write(stream, buffers, kTuple);
  std::tuple<beast::error_code, size_t> result(ec, n);
  co_return result;
}

}  // namespace pai::gateway
