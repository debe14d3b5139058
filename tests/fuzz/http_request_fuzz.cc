// Fuzz target: the gateway's HTTP/1.1 request reader — Beast's request parser with the
// gateway's body type (allocated as bytes arrive) and limits, then the head checks it applies
// (request_head.h: Host, Transfer-Encoding, one credential, absolute-form targets), as in
// src/gateway/server/server.cc; fed in two pieces.
#include "fuzz.h"
#include "gateway/gateway.h"
#include "gateway/http/growing_body.h"
#include "gateway/http/request_head.h"

namespace http = pai::gateway::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = pai::fuzz::Input(data, size);
  const pai::gateway::GatewayOptions defaults;
  http::request_parser<pai::gateway::GrowingStringBody> parser;
  parser.header_limit(static_cast<uint32_t>(defaults.max_header_bytes));
  parser.body_limit(defaults.max_body_bytes);
  parser.eager(true);
  boost::system::error_code ec;
  const size_t cut = pai::fuzz::SplitPoint(in);
  size_t used = parser.put(boost::asio::buffer(in.data(), cut), ec);
  if (ec == http::error::need_more) ec = {};
  // Bytes the parser did not consume are offered again with the rest, as a socket reader does.
  std::string_view rest = in.substr(used);
  while (!ec && !parser.is_done() && !rest.empty()) {
    const size_t n = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    if (ec == http::error::need_more) {
      ec = {};
      if (n == 0) break;
    }
    rest.remove_prefix(n);
  }
  if (!ec && parser.is_header_done()) {
    const auto& hdr = parser.get();
    std::string origin_target;
    (void)pai::gateway::CheckRequestHead(
        pai::gateway::RequestHead::Of(hdr.base(), hdr.version(), hdr.target()), &origin_target);
    (void)hdr[http::field::authorization];
    (void)parser.content_length();
    (void)parser.chunked();
    (void)parser.keep_alive();
  }
  return 0;
}
