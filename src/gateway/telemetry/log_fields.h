// Fields of the gateway's JSON log lines that come from the client (paths, model names): made
// safe to log (bounded, printable ASCII) — an access log line must not carry a megabyte target
// or control characters, and Boost.JSON must not be handed invalid UTF-8.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pai::gateway {

struct RequestContext;

// LogSafe() is `text` with every byte outside printable ASCII replaced by '?', cut to
// `max_bytes` (then "..." is appended).
std::string LogSafe(std::string_view text, size_t max_bytes = 256);

// LogPath() is the path of a request target (the query is dropped: it may carry credentials),
// LogSafe()d.
std::string LogPath(std::string_view target);

// RequestedModel() is the `model` the request's body named (chat, embeddings, native routes),
// empty when none was parsed.
std::string_view RequestedModel(const RequestContext& ctx);

}  // namespace pai::gateway
