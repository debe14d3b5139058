// Null-safe readers of Boost.JSON objects for the server's code: a missing member or one of
// another type reads as null / "" instead of throwing (the store's objects come from users).
#pragma once

#include <cstdint>
#include <string>

#include "boost/json/array.hpp"
#include "boost/json/object.hpp"

namespace pai::server {

// Obj(): the object member `key` of `o`, or null (also when `o` is null).
inline const boost::json::object* Obj(const boost::json::object* o, const char* key) {
  if (!o) return nullptr;
  const boost::json::value* v = o->if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}
inline const boost::json::object* Obj(const boost::json::object& o, const char* key) {
  return Obj(&o, key);
}

// Arr(): the array member `key` of `o`, or null.
inline const boost::json::array* Arr(const boost::json::object* o, const char* key) {
  if (!o) return nullptr;
  const boost::json::value* v = o->if_contains(key);
  return v && v->is_array() ? &v->as_array() : nullptr;
}

// Str(): the string member `key` of `o`, or "".
inline std::string Str(const boost::json::object* o, const char* key) {
  if (!o) return "";
  const boost::json::value* v = o->if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

// Int(): the integer member `key` of `o` (a JSON int64), or `fallback`.
inline int64_t Int(const boost::json::object* o, const char* key, int64_t fallback = 0) {
  if (!o) return fallback;
  const boost::json::value* v = o->if_contains(key);
  return v && v->is_int64() ? v->as_int64() : fallback;
}

}  // namespace pai::server
