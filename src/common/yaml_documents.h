// LoadYamlDocuments(): the documents of a YAML stream, as YAML::LoadAll() returns them, without
// its unbounded loop. yaml-cpp 0.7 (Debian bookworm) loops forever in LoadAll() on some
// malformed documents — the parser accepts the document without consuming its token and
// LoadAll() pushes a null node per turn until memory runs out (yaml-cpp PR #1319, 2024; found
// here by tests/fuzz manifest_fuzz, tests/fuzz/README.md). YAML::Load() parses one document and
// cannot loop, so the stream is split at its document markers — `---` (and `...`) at column 0,
// which YAML 1.2 §9.1 forbids inside a document's content — and each part is loaded alone.
// Header-only: its users link yaml-cpp themselves.
//
// Errors: YAML::Exception as YAML::Load() throws it, its mark's line made relative to the whole
// stream. Thread-safe (no shared state).
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

namespace pai {

namespace yaml_internal {

// IsMarker(): a line that starts with `---` or `...` followed by nothing, a space or a tab.
inline bool IsMarker(std::string_view line, std::string_view marker) {
  if (line.substr(0, 3) != marker) return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r' ||
         line[3] == '\n';
}

// OnlyPreamble(): blank lines, comments and directives (`%YAML`, `%TAG`): no content.
inline bool OnlyPreamble(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    const size_t first = line.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && line[first] != '#' && line[0] != '%') return false;
    pos = end + 1;
  }
  return true;
}

struct Part {
  std::string text;
  int first_line = 0;  // 0-based line of the stream where the part starts
  bool explicit_start = false;
};

}  // namespace yaml_internal

inline std::vector<YAML::Node> LoadYamlDocuments(std::string_view text) {
  using yaml_internal::Part;
  std::vector<Part> parts(1);
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    const size_t next = end == std::string_view::npos ? text.size() : end + 1;
    const std::string_view line = text.substr(pos, next - pos);
    if (yaml_internal::IsMarker(line, "---")) {
      parts.push_back(Part{std::string(line), line_no, true});
    } else if (yaml_internal::IsMarker(line, "...")) {
      parts.push_back(Part{"", line_no + 1, false});
    } else {
      parts.back().text.append(line);
    }
    ++line_no;
    pos = next;
  }
  std::vector<YAML::Node> docs;
  for (size_t i = 0; i < parts.size(); ++i) {
    Part& part = parts[i];
    // Text without content before a `---` (comments, directives) belongs to that document; a
    // part without content that no `---` opened is no document.
    if (!part.explicit_start && yaml_internal::OnlyPreamble(part.text)) {
      if (i + 1 < parts.size() && parts[i + 1].explicit_start) {
        parts[i + 1].text.insert(0, part.text);
        parts[i + 1].first_line = part.first_line;
      }
      continue;
    }
    try {
      docs.push_back(YAML::Load(part.text));
    } catch (YAML::Exception& e) {
      if (e.mark.line >= 0) e.mark.line += part.first_line;
      throw;
    }
  }
  return docs;
}

}  // namespace pai
