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

}  // namespace pai::gateway
