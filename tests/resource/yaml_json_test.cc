#include <catch2/catch.hpp>
#include <cmath>

#include "boost/json/serialize.hpp"
#include "resource/resource.h"
#include "test_util.h"

namespace pai::resource {
namespace {

using testing::Doc;
namespace json = boost::json;

TEST_CASE("YamlToJson types plain scalars as YAML 1.1 and keeps quoted ones strings") {
  const json::value v = Doc(R"(
maxPerDay: 1_000_000
maxPerRequest: 16_000
cron: "0 9 * * 1"
plainCron: 0 9 * * 1
chatId: "-100123456"
negative: -100123456
cost: 5.00
ratio: 1e3
cidrs: ["0.0.0.0/0"]
yes: true
no: FALSE
answer: yes
nothing: ~
empty:
emptyQuoted: ""
nullWord: null
quotedNull: "null"
quotedTrue: 'true'
hex: 0x1F
octal: 0o17
inf: .inf
version: "1.20"
forcedString: !!str 42
duration: 15m
)");
  const json::object& o = v.get_object();
  CHECK(o.at("maxPerDay") == json::value(int64_t{1000000}));
  CHECK(o.at("maxPerDay").is_int64());
  CHECK(o.at("maxPerRequest") == json::value(int64_t{16000}));
  CHECK(o.at("cron") == "0 9 * * 1");
  CHECK(o.at("plainCron") == "0 9 * * 1");
  CHECK(o.at("chatId") == "-100123456");
  CHECK(o.at("negative") == json::value(int64_t{-100123456}));
  CHECK(o.at("cost").is_double());
  CHECK(o.at("cost").get_double() == 5.0);
  CHECK(o.at("ratio").is_double());
  CHECK(o.at("ratio").get_double() == 1000.0);
  CHECK(o.at("cidrs") == json::array{"0.0.0.0/0"});
  CHECK(o.at("yes") == json::value(true));
  CHECK(o.at("no") == json::value(false));
  CHECK(o.at("answer") == "yes");  // only true/false are booleans
  CHECK(o.at("nothing").is_null());
  CHECK(o.at("empty").is_null());
  CHECK(o.at("emptyQuoted") == "");
  CHECK(o.at("nullWord").is_null());
  CHECK(o.at("quotedNull") == "null");
  CHECK(o.at("quotedTrue") == "true");
  CHECK(o.at("hex") == json::value(int64_t{31}));
  CHECK(o.at("octal") == json::value(int64_t{15}));
  CHECK(std::isinf(o.at("inf").get_double()));
  CHECK(o.at("version") == "1.20");
  CHECK(o.at("forcedString") == "42");
  CHECK(o.at("duration") == "15m");
}

TEST_CASE("YamlToJson reads every document of a stream and skips empty ones") {
  auto docs = YamlToJson("---\na: 1\n---\n---\nb: [x, 2]\n...\n");
  REQUIRE(docs.ok());
  REQUIRE(docs->size() == 2);
  CHECK((*docs)[0] == json::object{{"a", 1}});
  CHECK((*docs)[1] == json::object{{"b", json::array{"x", 2}}});
  auto none = YamlToJson("");
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("YamlToJson reports syntax errors with line and column") {
  auto r = YamlToJson("a: 1\nb: [1, 2\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(r.status().message()).rfind("line ", 0) == 0);

  auto bad = YamlToJson("a: 1\n  b: 2\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(std::string(bad.status().message()).find("line 2, column") == 0);
}

TEST_CASE("YamlToJson rejects integers beyond int64 and duplicate keys") {
  auto big = YamlToJson("x: 1\ny: 99999999999999999999\n");
  REQUIRE_FALSE(big.ok());
  CHECK(std::string(big.status().message()) ==
        "line 2, column 4: integer 99999999999999999999 does not fit in 64 bits");
  auto dup = YamlToJson("a: 1\na: 2\n");
  REQUIRE_FALSE(dup.ok());
  CHECK(std::string(dup.status().message()) == "line 2, column 1: duplicate key \"a\"");
}

TEST_CASE("JsonToYaml quotes strings that would read back as another type") {
  const json::value v = json::object{{"t", "true"},
                                     {"num", "123"},
                                     {"e", ""},
                                     {"colon", "a: b"},
                                     {"dash", "-x"},
                                     {"star", "*"},
                                     {"plain", "hello world"},
                                     {"path", "/home/node"},
                                     {"nul", "null"},
                                     {"ver", "1.20"},
                                     {"onWord", "on"},
                                     {"n", "x"}};
  const std::string y = JsonToYaml(v);
  CHECK(y.find("t: \"true\"\n") != std::string::npos);
  CHECK(y.find("num: \"123\"\n") != std::string::npos);
  CHECK(y.find("e: \"\"\n") != std::string::npos);
  CHECK(y.find("colon: \"a: b\"\n") != std::string::npos);
  CHECK(y.find("dash: \"-x\"\n") != std::string::npos);
  CHECK(y.find("plain: hello world\n") != std::string::npos);
  CHECK(y.find("path: /home/node\n") != std::string::npos);
  CHECK(y.find("onWord: \"on\"\n") != std::string::npos);
  CHECK(y.find("\"n\": x\n") != std::string::npos);
  auto back = YamlToJson(y);
  REQUIRE(back.ok());
  CHECK((*back)[0] == v);
}

TEST_CASE("JsonToYaml writes block style with literal blocks that round-trip") {
  const json::value v = Doc(R"(
apiVersion: pai.io/v1
kind: Agent
metadata: {name: a, labels: {team: x}}
spec:
  system: |
    line one
    line two
  noNewline: "a\nb"
  tools: [{type: bash}, {type: custom, name: t, inputSchema: {type: object}}]
  nested: [[1, 2], []]
  empty: {}
  cost: 5.0
  big: 1000000
  flag: false
  none: null
)");
  const std::string y = JsonToYaml(v);
  CHECK(y.find("  system: |\n    line one\n    line two\n") != std::string::npos);
  CHECK(y.find("  noNewline: |-\n    a\n    b\n") != std::string::npos);
  CHECK(y.find("  tools:\n  - type: bash\n  - type: custom\n    name: t\n") != std::string::npos);
  CHECK(y.find("cost: 5.0\n") != std::string::npos);
  auto back = YamlToJson(y);
  REQUIRE(back.ok());
  INFO(y);
  CHECK((*back)[0] == v);
}

}  // namespace
}  // namespace pai::resource

TEST_CASE("yaml aliases that expand past a million values are refused, not expanded") {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'h'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) bomb += std::string(i ? ", *" : "*") + static_cast<char>(c - 1);
    bomb += "]\n";
  }
  auto r = pai::resource::YamlToJson(bomb);
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.status().message()).find("aliases") != std::string::npos);
  auto small = pai::resource::YamlToJson("a: &a [1, 2]\nb: *a\n");
  REQUIRE(small.ok());
  CHECK((*small)[0].as_object().at("b").as_array().size() == 2);
}
