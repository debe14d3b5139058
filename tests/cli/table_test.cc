#include "cli/pai/table.h"

#include <catch2/catch.hpp>

namespace pai::cli {
namespace {

TEST_CASE("table pads columns to the widest cell with three spaces between", "[cli]") {
  Table t({"NAME", "TYPE", "AGE"});
  t.AddRow({"my-app", "service", "2h"});
  t.AddRow({"x", "", "5d"});
  CHECK(t.Render() ==
        "NAME     TYPE      AGE\n"
        "my-app   service   2h\n"
        "x                  5d\n");
}

TEST_CASE("table measures em dashes and ellipses as one column", "[cli]") {
  Table t({"A", "B"});
  t.AddRow({"\u2014", "x"});
  t.AddRow({"ab\u2026", "y"});
  CHECK(t.Render() ==
        "A     B\n"
        "\u2014     x\n"
        "ab\u2026   y\n");
  CHECK(t.Width() == 7);
}

TEST_CASE("table drops trailing blanks and pads short rows", "[cli]") {
  Table t({"NAME", "TASK"});
  t.AddRow({"a"});
  CHECK(t.Render("  ") == "  NAME   TASK\n  a\n");
  CHECK(t.rows() == 1);
}

}  // namespace
}  // namespace pai::cli
