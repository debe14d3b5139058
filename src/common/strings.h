// String helpers that bridge std::string_view and Debian's abseil, whose absl::string_view is
// a distinct type (built without ABSL_OPTION_USE_STD_STRING_VIEW).
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace pai {

// AV() views a std::string_view as an absl::string_view (no copy).
inline absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }
// SV() views an absl::string_view as a std::string_view (no copy).
inline std::string_view SV(absl::string_view s) { return std::string_view(s.data(), s.size()); }

namespace strings_internal {
// Arguments absl::AlphaNum takes pass through; string views of other libraries
// (std::string_view, boost::core::string_view) are re-viewed as absl::string_view.
template <typename T>
decltype(auto) Arg(const T& v) {
  if constexpr (std::is_convertible_v<const T&, absl::AlphaNum>) {
    return (v);
  } else {
    return AV(std::string_view(v));
  }
}
}  // namespace strings_internal

// StrCat() / StrAppend(): absl::StrCat that also takes std::string_view arguments.
template <typename... Args>
std::string StrCat(const Args&... args) {
  return absl::StrCat(strings_internal::Arg(args)...);
}
template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  absl::StrAppend(out, strings_internal::Arg(args)...);
}

}  // namespace pai
