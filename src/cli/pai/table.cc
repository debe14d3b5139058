#include "cli/pai/table.h"

#include <algorithm>

#include "cli/pai/text.h"

namespace pai::cli {

namespace {
constexpr char kGap[] = "   ";
}  // namespace

void Table::AddRow(std::vector<std::string> row) {
  row.resize(header_.size());
  rows_.push_back(std::move(row));
}

std::vector<size_t> Table::ColumnWidths() const {
  std::vector<size_t> widths(header_.size(), 0);
  for (size_t c = 0; c < header_.size(); ++c) widths[c] = DisplayWidth(header_[c]);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], DisplayWidth(row[c]));
  }
  return widths;
}

std::string Table::Line(const std::vector<std::string>& cells,
                        const std::vector<size_t>& widths) const {
  std::string line;
  for (size_t c = 0; c < cells.size(); ++c) {
    if (c != 0) line += kGap;
    line += cells[c];
    if (c + 1 < cells.size()) line.append(widths[c] - DisplayWidth(cells[c]), ' ');
  }
  // A blank last cell would leave trailing spaces.
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

std::string Table::Render(const std::string& indent) const {
  const auto widths = ColumnWidths();
  std::string out = indent + Line(header_, widths) + "\n";
  for (const auto& row : rows_) out += indent + Line(row, widths) + "\n";
  return out;
}

size_t Table::Width() const {
  const auto widths = ColumnWidths();
  size_t max = DisplayWidth(Line(header_, widths));
  for (const auto& row : rows_) max = std::max(max, DisplayWidth(Line(row, widths)));
  return max;
}

}  // namespace pai::cli
