#include "guard/windows.h"

namespace pai::guard {
namespace {

bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// BackToBoundary() moves `pos` back to the start of the UTF-8 character it falls in.
size_t BackToBoundary(std::string_view text, size_t pos) {
  while (pos > 0 && pos < text.size() && IsContinuation(text[pos])) --pos;
  return pos;
}

}  // namespace

std::vector<std::string_view> SplitWindows(std::string_view text, size_t max_bytes,
                                           size_t overlap) {
  if (max_bytes == 0 || text.size() <= max_bytes) return {text};
  if (overlap >= max_bytes / 2) overlap = max_bytes / 4;
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < text.size()) {
    if (text.size() - start <= max_bytes) {
      out.push_back(text.substr(start));
      break;
    }
    size_t end = BackToBoundary(text, start + max_bytes);
    // Prefer to cut after whitespace within the last eighth of the window.
    for (size_t p = end; p > start + max_bytes - max_bytes / 8; --p) {
      const char c = text[p - 1];
      if (c == ' ' || c == '\n' || c == '\t') {
        end = p;
        break;
      }
    }
    if (end <= start) end = start + max_bytes;  // no boundary found: cut hard
    out.push_back(text.substr(start, end - start));
    size_t next = BackToBoundary(text, end - overlap);
    if (next <= start) next = end;  // always progress
    start = next;
  }
  return out;
}

}  // namespace pai::guard
