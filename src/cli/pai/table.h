// Column formatting for `pai` tables, kubectl style: left-aligned columns padded to their
// widest cell (display width, so "—" and "…" count as one column), three spaces between
// columns, no padding after the last column.
//
// Thread safety: a Table is a plain value; not synchronised.
#pragma once

#include <string>
#include <vector>

namespace pai::cli {

// kNone is what an empty cell shows ("—", U+2014), as the seeds' tables do.
inline constexpr char kNone[] = "\u2014";

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}

  // AddRow() appends a row; missing cells are empty, extra cells are dropped.
  void AddRow(std::vector<std::string> row);
  size_t rows() const { return rows_.size(); }

  // Render() returns the header line and every row, each ending in "\n". `indent` is prefixed
  // to every line.
  std::string Render(const std::string& indent = "") const;
  // Width() is the display width of the widest rendered line (without indent).
  size_t Width() const;

 private:
  std::vector<size_t> ColumnWidths() const;
  std::string Line(const std::vector<std::string>& cells, const std::vector<size_t>& widths) const;

  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace pai::cli
