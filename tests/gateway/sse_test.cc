#include "gateway/sse.h"

#include <vector>

#include <catch2/catch.hpp>

namespace pai::gateway {
namespace {

struct Seen {
  std::string raw, data, event;
};

std::vector<Seen> FeedInPieces(const std::string& stream, size_t piece) {
  SseParser p;
  std::vector<Seen> out;
  for (size_t i = 0; i < stream.size(); i += piece) {
    p.Feed(std::string_view(stream).substr(i, piece), [&](const SseEvent& e) {
      out.push_back({std::string(e.raw), std::string(e.data), std::string(e.event)});
    });
  }
  return out;
}

TEST_CASE("events are split the same way whatever the read boundaries") {
  const std::string stream =
      "data: {\"a\":1}\n\n"
      ": keep-alive comment\n\n"
      "event: message_start\r\ndata: first\r\ndata: second\r\n\r\n"
      "data:no-space\r\rdata: [DONE]\n\n";
  for (size_t piece = 1; piece <= stream.size(); ++piece) {
    INFO("piece size " << piece);
    auto events = FeedInPieces(stream, piece);
    REQUIRE(events.size() == 5);
    CHECK(events[0].data == "{\"a\":1}");
    CHECK(events[1].data.empty());  // comment-only event: relayed, no data
    CHECK(events[2].event == "message_start");
    CHECK(events[2].data == "first\nsecond");
    CHECK(events[3].data == "no-space");
    CHECK(events[4].data == "[DONE]");
    std::string joined;
    for (const auto& e : events) joined += e.raw;
    CHECK(joined == stream);  // byte-exact relay
  }
}

TEST_CASE("an incomplete final event is held and can be taken") {
  SseParser p;
  int n = 0;
  p.Feed("data: a\n\ndata: partial", [&](const SseEvent&) { ++n; });
  CHECK(n == 1);
  CHECK(p.Pending() == std::string("data: partial").size());
  CHECK(p.TakePending() == "data: partial");
  CHECK(p.Pending() == 0);
}

}  // namespace
}  // namespace pai::gateway
