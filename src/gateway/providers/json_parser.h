// The request path's one simdjson On-Demand parser per thread. Every reader of a request or
// answer body (openai_request, usage, input_tokens, guard_targets) borrows it, so a thread keeps
// one set of parser buffers, grown to the largest document it has seen, instead of one per
// reader.
//
// An On-Demand document points into its parser: it is valid only until the next iterate() on
// that parser. A lease therefore cannot be taken while another is held on the same thread — a
// nested reader would silently invalidate the outer document — and taking one then aborts
// (a programming error, caught by the tests, never a result of input).
//
// Thread safety: a lease is the calling thread's; leases on different threads are independent.
// This header must be included only by translation units compiled with the same simdjson
// instruction set (src/gateway/CMakeLists.txt, PAI_NATIVE_JSON), since `simdjson::ondemand` is
// an alias of the implementation chosen at compile time.
#pragma once

#include <simdjson.h>

namespace pai::gateway {

class JsonParserLease {
 public:
  JsonParserLease();
  ~JsonParserLease();
  JsonParserLease(const JsonParserLease&) = delete;
  JsonParserLease& operator=(const JsonParserLease&) = delete;

  // parser() is the thread's parser, for the lifetime of this lease.
  simdjson::ondemand::parser& parser() { return *parser_; }

 private:
  simdjson::ondemand::parser* parser_;
};

// ValidateJson() consumes `v` whole, checking the grammar of every part (RFC 8259): On-Demand
// checks only what is read, so a reader calls it on the values it skips to validate a document
// in its one pass. Depth is bounded like simdjson's DOM parser (1024). Returns the first error.
simdjson::error_code ValidateJson(simdjson::ondemand::value& v, int depth = 0);

}  // namespace pai::gateway
