#include "gateway/relay/sse.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <vector>

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

TEST_CASE("an endless data stream without a blank line stops at the event limit") {
  constexpr size_t kLimit = 64 * 1024;
  SseParser p(kLimit);
  const std::string line = "data: " + std::string(1000, 'x') + "\n";
  int events = 0;
  size_t fed = 0;
  size_t most_held = 0;
  for (int i = 0; i < 10'000; ++i) {  // 10 MB of data lines, no blank line
    p.Feed(line, [&](const SseEvent&) { ++events; });
    fed += line.size();
    most_held = std::max(most_held, p.HeldBytes());
  }
  CHECK(events == 0);
  CHECK(p.overflowed());
  // What the parser holds stays within the limit plus one read, whatever was fed.
  CHECK(most_held <= 4 * (kLimit + line.size()));  // buffer + joined data, string growth
  CHECK(p.HeldBytes() < 1024);                     // an overflowed parser frees its buffers
  CHECK(p.TakePending().empty());
  CHECK(fed > 100 * kLimit);
}

TEST_CASE("a complete event larger than the limit overflows the parser") {
  SseParser p(100);
  int events = 0;
  p.Feed("data: small\n\n", [&](const SseEvent&) { ++events; });
  p.Feed("data: " + std::string(200, 'y') + "\n\ndata: after\n\n",
         [&](const SseEvent&) { ++events; });
  CHECK(events == 1);
  CHECK(p.overflowed());
  p.Feed("data: later\n\n", [&](const SseEvent&) { ++events; });
  CHECK(events == 1);  // nothing more once overflowed
}

TEST_CASE("a line fed byte by byte is scanned once") {
  // The work of finding line ends is linear in the bytes fed, however the reads split them
  // (an unterminated line used to be rescanned from its start on every read).
  SseParser p(1u << 20);
  const size_t n = 200'000;
  int events = 0;
  p.Feed("data: ", [&](const SseEvent&) { ++events; });
  for (size_t i = 0; i < n; ++i) p.Feed("z", [&](const SseEvent&) { ++events; });
  p.Feed("\r", [&](const SseEvent&) { ++events; });
  p.Feed("\n\r\n", [&](const SseEvent&) { ++events; });
  CHECK(events == 1);
  CHECK(p.bytes_examined() <= 2 * (n + 10));
}

TEST_CASE("events within the limit pass whatever the read size") {
  SseParser p(64);
  std::string stream;
  for (int i = 0; i < 1000; ++i) stream += "data: " + std::to_string(i) + "\n\n";
  int events = 0;
  for (size_t i = 0; i < stream.size(); i += 7) {
    p.Feed(std::string_view(stream).substr(i, 7), [&](const SseEvent&) { ++events; });
  }
  CHECK(events == 1000);
  CHECK(!p.overflowed());
}

}  // namespace
}  // namespace pai::gateway
