#include "gateway/guard_targets.h"

#include <simdjson.h>

#include "absl/container/flat_hash_map.h"
#include "common/strings.h"

namespace pai::gateway {
namespace od = simdjson::ondemand;
namespace {

od::parser& ThreadParser() {
  thread_local od::parser parser;
  return parser;
}

simdjson::padded_string_view PaddedView(std::string& body) {
  if (body.capacity() - body.size() < simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  return simdjson::padded_string_view(body.data(), body.size(), body.capacity());
}

// ContentText() reads a message `content`: a string, or the text parts of an array (joined by
// newlines). Other shapes (null, images only) give "".
std::string ContentText(od::value v) {
  std::string out;
  od::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS) return out;
  if (type == od::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s) == simdjson::SUCCESS) out.assign(s);
    return out;
  }
  if (type != od::json_type::array) return out;
  od::array parts;
  if (v.get_array().get(parts) != simdjson::SUCCESS) return out;
  for (auto p : parts) {
    od::object part;
    if (p.get_object().get(part) != simdjson::SUCCESS) continue;
    std::string_view part_type, text;
    bool has_text = false;
    for (auto f : part) {
      std::string_view key;
      if (f.unescaped_key().get(key) != simdjson::SUCCESS) break;
      if (key == "type") {
        // part_type points into the parser's string buffer, valid for this document.
        if (f.value().get_string().get(part_type) != simdjson::SUCCESS) part_type = "?";
      } else if (key == "text") {
        has_text = f.value().get_string().get(text) == simdjson::SUCCESS;
      }
    }
    if (has_text && (part_type.empty() || part_type == "text" || part_type == "input_text")) {
      if (!out.empty()) out += '\n';
      out.append(text);
    }
  }
  return out;
}

}  // namespace

std::string_view GuardTargetName(GuardTarget t) {
  switch (t) {
    case GuardTarget::kPrompt:
      return "prompt";
    case GuardTarget::kToolResult:
      return "tool_result";
    case GuardTarget::kResponse:
      return "response";
  }
  return "prompt";
}

absl::Status ChatRequestGuardTexts(std::string& body, std::vector<GuardText>* out) {
  od::document doc;
  if (ThreadParser().iterate(PaddedView(body)).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("request body is not JSON");
  }
  od::array messages;
  if (doc.find_field_unordered("messages").get_array().get(messages) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("request body has no messages array");
  }
  absl::flat_hash_map<std::string, std::string> tool_names;  // tool_call id -> function name
  size_t index = 0;
  for (auto item : messages) {
    const size_t i = index++;
    od::object m;
    if (item.get_object().get(m) != simdjson::SUCCESS) continue;
    std::string role, text, call_id, name;
    for (auto f : m) {
      std::string_view key;
      if (f.unescaped_key().get(key) != simdjson::SUCCESS) break;
      if (key == "role") {
        std::string_view r;
        if (f.value().get_string().get(r) == simdjson::SUCCESS) role.assign(r);
      } else if (key == "content") {
        text = ContentText(f.value());
      } else if (key == "tool_call_id") {
        std::string_view s;
        if (f.value().get_string().get(s) == simdjson::SUCCESS) call_id.assign(s);
      } else if (key == "name") {
        std::string_view s;
        if (f.value().get_string().get(s) == simdjson::SUCCESS) name.assign(s);
      } else if (key == "tool_calls") {
        od::array calls;
        if (f.value().get_array().get(calls) != simdjson::SUCCESS) continue;
        for (auto c : calls) {
          od::object call;
          if (c.get_object().get(call) != simdjson::SUCCESS) continue;
          std::string id, fn;
          for (auto cf : call) {
            std::string_view ck;
            if (cf.unescaped_key().get(ck) != simdjson::SUCCESS) break;
            if (ck == "id") {
              std::string_view s;
              if (cf.value().get_string().get(s) == simdjson::SUCCESS) id.assign(s);
            } else if (ck == "function") {
              std::string_view s;
              od::object fo;
              if (cf.value().get_object().get(fo) == simdjson::SUCCESS &&
                  fo.find_field_unordered("name").get_string().get(s) == simdjson::SUCCESS) {
                fn.assign(s);
              }
            }
          }
          if (!id.empty()) tool_names[id] = fn;
        }
      }
    }
    if (text.empty()) continue;
    GuardText t;
    t.param = pai::StrCat("messages[", i, "].content");
    if (role == "user") {
      t.target = GuardTarget::kPrompt;
      t.role = "user";
    } else if (role == "tool" || role == "function") {
      t.target = GuardTarget::kToolResult;
      t.role = "tool";
      if (role == "function") {
        t.tool = name;
      } else if (auto it = tool_names.find(call_id); it != tool_names.end()) {
        t.tool = it->second;
      }
    } else {
      continue;
    }
    t.text = std::move(text);
    out->push_back(std::move(t));
  }
  return absl::OkStatus();
}

absl::Status EmbeddingsGuardTexts(std::string& body, std::vector<GuardText>* out) {
  od::document doc;
  if (ThreadParser().iterate(PaddedView(body)).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("request body is not JSON");
  }
  od::value input;
  if (doc.find_field_unordered("input").get(input) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("request body has no input");
  }
  od::json_type type;
  if (input.type().get(type) != simdjson::SUCCESS) return absl::OkStatus();
  if (type == od::json_type::string) {
    std::string_view s;
    if (input.get_string().get(s) == simdjson::SUCCESS) {
      out->push_back({GuardTarget::kPrompt, "input", "", "user", std::string(s)});
    }
    return absl::OkStatus();
  }
  od::array arr;
  if (type != od::json_type::array || input.get_array().get(arr) != simdjson::SUCCESS) {
    return absl::OkStatus();
  }
  size_t i = 0;
  for (auto e : arr) {
    std::string_view s;
    if (e.get_string().get(s) == simdjson::SUCCESS) {
      out->push_back({GuardTarget::kPrompt, pai::StrCat("input[", i, "]"), "", "user",
                      std::string(s)});
    }
    ++i;
  }
  return absl::OkStatus();
}

namespace {

// ChoiceTexts() walks `choices[]` and appends `<member>.content` by choice index.
void ChoiceTexts(simdjson::padded_string_view view, std::string_view member,
                 std::vector<std::string>* by_index) {
  od::document doc;
  if (ThreadParser().iterate(view).get(doc) != simdjson::SUCCESS) return;
  od::array choices;
  if (doc.find_field_unordered("choices").get_array().get(choices) != simdjson::SUCCESS) return;
  size_t position = 0;
  for (auto item : choices) {
    od::object choice;
    if (item.get_object().get(choice) != simdjson::SUCCESS) return;
    size_t index = position++;
    std::string text;
    for (auto f : choice) {
      std::string_view key;
      if (f.unescaped_key().get(key) != simdjson::SUCCESS) return;
      if (key == "index") {
        int64_t v = 0;
        if (f.value().get_int64().get(v) == simdjson::SUCCESS && v >= 0 && v < 128) {
          index = static_cast<size_t>(v);
        }
      } else if (key == member) {
        od::object m;
        std::string_view s;
        if (f.value().get_object().get(m) == simdjson::SUCCESS &&
            m.find_field_unordered("content").get_string().get(s) == simdjson::SUCCESS) {
          text.assign(s);
        }
      }
    }
    if (text.empty()) continue;
    if (by_index->size() <= index) by_index->resize(index + 1);
    (*by_index)[index] += text;
  }
}

}  // namespace

void ChatResponseGuardTexts(std::string& body, std::vector<GuardText>* out) {
  std::vector<std::string> by_index;
  ChoiceTexts(PaddedView(body), "message", &by_index);
  for (size_t i = 0; i < by_index.size(); ++i) {
    if (by_index[i].empty()) continue;
    out->push_back({GuardTarget::kResponse, pai::StrCat("choices[", i, "].message.content"), "",
                    "assistant", std::move(by_index[i])});
  }
}

void StreamContentCollector::Add(std::string_view data) {
  if (data.find("\"content\"") == std::string_view::npos) return;
  thread_local std::string scratch;
  scratch.assign(data);
  ChoiceTexts(PaddedView(scratch), "delta", &content_);
}

std::vector<GuardText> StreamContentCollector::Texts() const {
  std::vector<GuardText> out;
  for (size_t i = 0; i < content_.size(); ++i) {
    if (content_[i].empty()) continue;
    out.push_back({GuardTarget::kResponse, pai::StrCat("choices[", i, "].message.content"), "",
                   "assistant", content_[i]});
  }
  return out;
}

}  // namespace pai::gateway
