// Small helpers shared by the harness: typed access to JSON arguments, UTF-8 repair, and the
// stderr log.
//
// Thread safety: all functions are pure or (Log) serialised internally.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pai::harness {

// SanitizeUtf8() returns `in` with every invalid UTF-8 sequence replaced by U+FFFD, so that the
// text can travel in JSON (the server's parser rejects invalid UTF-8).
std::string SanitizeUtf8(std::string_view in);

// GetString() reads `key` from `o`: the string, nullopt when absent or null, or InvalidArgument
// naming the key when present with another type.
absl::StatusOr<std::optional<std::string>> GetString(const boost::json::object& o,
                                                     std::string_view key);
// RequireString() is GetString() where absence is an InvalidArgument error.
absl::StatusOr<std::string> RequireString(const boost::json::object& o, std::string_view key);
// GetInt() reads an integer (a JSON number with no fraction); nullopt when absent or null.
absl::StatusOr<std::optional<int64_t>> GetInt(const boost::json::object& o, std::string_view key);
// GetBool() reads a boolean; nullopt when absent or null.
absl::StatusOr<std::optional<bool>> GetBool(const boost::json::object& o, std::string_view key);

// TextContent() joins the text parts of an event's `content` ([{"type":"text","text":...}], or a
// plain string) with newlines.
std::string TextContent(const boost::json::value* content);

// Log() writes one human line "pai-harness: <msg>" to stderr. Never pass the gateway token.
void Log(std::string_view msg);

}  // namespace pai::harness
