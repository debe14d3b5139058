#include "gateway/providers/json_parser.h"

#include <cstdio>
#include <cstdlib>

namespace pai::gateway {
namespace {

thread_local bool leased = false;

simdjson::ondemand::parser& ThreadParser() {
  thread_local simdjson::ondemand::parser parser;
  return parser;
}

}  // namespace

JsonParserLease::JsonParserLease() : parser_(&ThreadParser()) {
  if (leased) {
    std::fputs("pai-gateway: nested use of the thread's JSON parser (json_parser.h)\n", stderr);
    std::abort();
  }
  leased = true;
}

JsonParserLease::~JsonParserLease() { leased = false; }

simdjson::error_code ValidateJson(simdjson::ondemand::value& v, int depth) {
  if (depth > 1024) return simdjson::DEPTH_ERROR;
  simdjson::ondemand::json_type t;
  if (auto err = v.type().get(t); err != simdjson::SUCCESS) return err;
  switch (t) {
    case simdjson::ondemand::json_type::array: {
      simdjson::ondemand::array arr;
      if (auto err = v.get_array().get(arr); err != simdjson::SUCCESS) return err;
      for (auto item : arr) {
        simdjson::ondemand::value element;
        if (auto err = item.get(element); err != simdjson::SUCCESS) return err;
        if (auto err = ValidateJson(element, depth + 1); err != simdjson::SUCCESS) return err;
      }
      return simdjson::SUCCESS;
    }
    case simdjson::ondemand::json_type::object: {
      simdjson::ondemand::object obj;
      if (auto err = v.get_object().get(obj); err != simdjson::SUCCESS) return err;
      for (auto member : obj) {
        simdjson::ondemand::field f;
        if (auto err = std::move(member).get(f); err != simdjson::SUCCESS) return err;
        std::string_view key;
        if (auto err = f.unescaped_key().get(key); err != simdjson::SUCCESS) return err;
        if (auto err = ValidateJson(f.value(), depth + 1); err != simdjson::SUCCESS) return err;
      }
      return simdjson::SUCCESS;
    }
    case simdjson::ondemand::json_type::string: {
      std::string_view s;
      return v.get_string().get(s);
    }
    case simdjson::ondemand::json_type::number: {
      double d;
      return v.get_double().get(d);
    }
    case simdjson::ondemand::json_type::boolean: {
      bool b;
      return v.get_bool().get(b);
    }
    case simdjson::ondemand::json_type::null: {
      bool is_null = false;
      if (auto err = v.is_null().get(is_null); err != simdjson::SUCCESS) return err;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::TAPE_ERROR;
}

}  // namespace pai::gateway
