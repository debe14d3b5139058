// GrowingStringBody: a Beast body for request bodies that allocates as bytes arrive. Beast's
// string_body reserves the declared Content-Length when the body starts, so connections that
// declare large bodies and send nothing would reserve that memory up front; this one grows
// geometrically with the data, up to the declared length plus simdjson's padding (so the body
// can be parsed in place).
#pragma once

#include <algorithm>
#include <boost/optional.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "gateway/http/beast.h"
#include "simdjson.h"

namespace pai::gateway {

struct GrowingStringBody {
  using value_type = std::string;

  static std::uint64_t size(const value_type& body) { return body.size(); }

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
      if (length) declared_ = *length;
      ec = {};
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      const size_t n = net::buffer_size(buffers);
      const size_t need = body_.size() + n;
      if (need > body_.capacity()) {
        size_t cap = std::max<size_t>(need, body_.capacity() * 2);
        // Once the growth would reach the declared length, take exactly that plus the padding
        // (a body that arrives in one piece is allocated once, as before).
        if (declared_ && cap >= *declared_) {
          cap = std::max<size_t>(need, *declared_ + simdjson::SIMDJSON_PADDING);
        }
        body_.reserve(cap);
      }
      const size_t at = body_.size();
      body_.resize(need);
      net::buffer_copy(net::buffer(body_.data() + at, n), buffers);
      ec = {};
      return n;
    }

    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
    std::optional<std::uint64_t> declared_;
  };
};

}  // namespace pai::gateway
