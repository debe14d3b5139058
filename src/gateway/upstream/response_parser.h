// ProviderResponseParser: an HTTP/1.1 response parser (RFC 9112, through Beast's basic_parser:
// framing, chunked decoding, keep-alive) that keeps only what the gateway reads from a
// provider's response — the status, `Content-Type`, `Retry-After` — and appends the decoded body
// to a string the caller names. Beast's response_parser<Body> would store every header field
// (one allocation and a case-insensitive ordered insert each) and hand the body through a
// fixed-size buffer that is then copied again.
//
// Thread safety: one parser per upstream call, used by its shard's thread.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "gateway/http/beast.h"

namespace pai::gateway {

class ProviderResponseParser final : public http::basic_parser<false> {
 public:
  int status() const { return status_; }
  // content_type(): the Content-Type value, cut at kMaxContentType bytes (kept inline: no
  // allocation per call; only its media type is read, and no accepted one is that long).
  std::string_view content_type() const { return {content_type_.data(), content_type_size_}; }
  const std::string& retry_after() const { return retry_after_; }

  // set_sink(): decoded body bytes are appended to `*sink` from now on (nullptr: discarded).
  void set_sink(std::string* sink) { sink_ = sink; }

 private:
  void on_request_impl(http::verb /*method*/, beast::string_view /*method_str*/,
                       beast::string_view /*target*/, int /*version*/,
                       beast::error_code& ec) override {
    ec = http::error::bad_method;  // never called for a response parser
  }
  void on_response_impl(int code, beast::string_view /*reason*/, int /*version*/,
                        beast::error_code& /*ec*/) override {
    status_ = code;
  }
  void on_field_impl(http::field name, beast::string_view /*name_string*/, beast::string_view value,
                     beast::error_code& /*ec*/) override {
    if (name == http::field::content_type) {
      content_type_size_ = std::min(value.size(), content_type_.size());
      std::memcpy(content_type_.data(), value.data(), content_type_size_);
    } else if (name == http::field::retry_after) {
      retry_after_.assign(value.data(), value.size());
    }
  }
  void on_header_impl(beast::error_code& /*ec*/) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& /*content_length*/,
                         beast::error_code& /*ec*/) override {}
  std::size_t on_body_impl(beast::string_view body, beast::error_code& /*ec*/) override {
    if (sink_) sink_->append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t /*size*/, beast::string_view /*extensions*/,
                            beast::error_code& /*ec*/) override {}
  std::size_t on_chunk_body_impl(std::uint64_t /*remain*/, beast::string_view body,
                                 beast::error_code& /*ec*/) override {
    if (sink_) sink_->append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code& /*ec*/) override {}

  int status_ = 0;
  static constexpr size_t kMaxContentType = 128;
  std::array<char, kMaxContentType> content_type_;
  size_t content_type_size_ = 0;
  std::string retry_after_;
  std::string* sink_ = nullptr;
};

}  // namespace pai::gateway
