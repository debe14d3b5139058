#include "cli/pai/sse.h"

#include <catch2/catch.hpp>

namespace pai::cli {
namespace {

TEST_CASE("sse: one block per event with id, event and data", "[cli]") {
  SseParser p;
  auto out = p.Feed("id: 1\nevent: agent.message\ndata: {\"a\":1}\n\n");
  REQUIRE(out.size() == 1);
  CHECK(out[0].id == "1");
  CHECK(out[0].event == "agent.message");
  CHECK(out[0].data == "{\"a\":1}");
  CHECK(p.last_id() == "1");
}

TEST_CASE("sse: blocks split anywhere across chunks come out whole, once", "[cli]") {
  const std::string stream =
      "id: 7\r\nevent: x\r\ndata: first\r\n\r\n: ping\r\n\r\nid: 8\r\ndata: second\r\n\r\n";
  // Every split point, including between the CR and the LF of a line end.
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SseParser p;
    auto a = p.Feed(stream.substr(0, cut));
    auto b = p.Feed(stream.substr(cut));
    a.insert(a.end(), b.begin(), b.end());
    INFO("cut at " << cut);
    REQUIRE(a.size() == 2);
    CHECK(a[0].id == "7");
    CHECK(a[0].event == "x");
    CHECK(a[0].data == "first");
    CHECK(a[1].id == "8");
    CHECK(a[1].event == "message");
    CHECK(a[1].data == "second");
  }
  // Byte by byte.
  SseParser p;
  std::vector<SseEvent> all;
  for (char c : stream) {
    auto got = p.Feed(std::string_view(&c, 1));
    all.insert(all.end(), got.begin(), got.end());
  }
  REQUIRE(all.size() == 2);
  CHECK(all[1].data == "second");
}

TEST_CASE("sse: comments are skipped, data lines join with newlines, bare CR ends lines", "[cli]") {
  SseParser p;
  auto out = p.Feed(": ping\n\ndata: a\ndata:b\ndata\n\n:c\rdata: x\r\r");
  REQUIRE(out.size() == 2);
  CHECK(out[0].data == "a\nb\n");
  CHECK(out[1].data == "x");
}

TEST_CASE("sse: a block without data is no event - its id is still remembered", "[cli]") {
  SseParser p;
  auto out = p.Feed("id: 41\nevent: x\n\nretry: 10\nunknown: y\n\n");
  CHECK(out.empty());
  CHECK(p.last_id() == "41");
  out = p.Feed("data: z\n\n");
  REQUIRE(out.size() == 1);
  CHECK(out[0].id == "41");
  CHECK(out[0].event == "message");
}

TEST_CASE("sse: an unfinished block waits for its blank line", "[cli]") {
  SseParser p;
  CHECK(p.Feed("id: 1\ndata: {\"x\":").empty());
  CHECK(p.Feed("1}\n").empty());
  auto out = p.Feed("\n");
  REQUIRE(out.size() == 1);
  CHECK(out[0].data == "{\"x\":1}");
}

}  // namespace
}  // namespace pai::cli
