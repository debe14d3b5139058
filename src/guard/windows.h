// Windowing: long texts are classified in overlapping windows no longer than a classifier
// accepts (GuardBinding `spec.classifier.maxChars`); the highest window score counts.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace pai::guard {

// SplitWindows() cuts `text` into views of at most `max_bytes` bytes that overlap by `overlap`
// bytes, so a phrase shorter than `overlap` is always whole in some window. Cuts fall on UTF-8
// character boundaries and, where one lies in the last eighth of a window, after whitespace.
// max_bytes == 0 or a text that fits yields the whole text. Requires overlap < max_bytes / 2.
std::vector<std::string_view> SplitWindows(std::string_view text, size_t max_bytes, size_t overlap);

}  // namespace pai::guard
