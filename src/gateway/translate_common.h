// Pieces shared by the provider translators (translate_anthropic, translate_gemini): reading
// Boost.JSON members without temporaries, and writing OpenAI chat.completion.chunk events and
// usage objects (OpenAI API reference, "The chat completion chunk object").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "gateway/usage.h"

namespace pai::gateway::translate {

// Member() is the string member `key` of `o` ("" when absent or not a string): a view into `o`,
// never into a temporary.
std::string_view Member(const boost::json::object& o, std::string_view key);
// ObjectMember() is the object member `key` of `o`, or null.
const boost::json::object* ObjectMember(const boost::json::object& o, std::string_view key);
// IntMember() is the integer member `key` of `o` (0 when absent or not an integer).
int64_t IntMember(const boost::json::object& o, std::string_view key);

// UsageJson() is an OpenAI `usage` object (prompt / completion / total tokens, cached tokens).
boost::json::object UsageJson(const Usage& u);

// AppendChunk() appends one `data: {chat.completion.chunk}` event with one choice (index 0),
// `delta_json` as its delta and `finish_reason` (null when empty).
void AppendChunk(std::string& out, std::string_view id, int64_t created, std::string_view model,
                 std::string_view delta_json, std::string_view finish_reason);

// AppendUsageChunk() appends the usage-only chunk (`choices: []`) OpenAI sends last when
// stream_options.include_usage is set.
void AppendUsageChunk(std::string& out, std::string_view id, int64_t created,
                      std::string_view model, const Usage& usage);

}  // namespace pai::gateway::translate
