#include "gateway/stages/guard_targets.h"

#include <simdjson.h>

#include "absl/container/flat_hash_map.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "gateway/providers/json_parser.h"

namespace pai::gateway {
namespace od = simdjson::ondemand;
namespace {

simdjson::padded_string_view PaddedView(std::string& body) {
  if (body.capacity() - body.size() < simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  return simdjson::padded_string_view(body.data(), body.size(), body.capacity());
}

absl::Status Unscannable(std::string_view what) { return absl::InvalidArgumentError(AV(what)); }

// ContentText() reads a message `content`: a string, or the `text` of every part of an array
// that has one (joined by newlines; image and audio parts have none). Anything that cannot be
// read (an invalid escape, a malformed part) is an error, never "nothing to scan".
template <typename Value>  // od::value or simdjson_result<od::value>
absl::Status ContentText(Value&& v, std::string* out) {
  od::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS) return Unscannable("unreadable content");
  if (type == od::json_type::null) return absl::OkStatus();
  if (type == od::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s) != simdjson::SUCCESS) return Unscannable("unreadable content string");
    out->assign(s);
    return absl::OkStatus();
  }
  if (type != od::json_type::array) return Unscannable("content is neither a string nor a list");
  od::array parts;
  if (v.get_array().get(parts) != simdjson::SUCCESS) return Unscannable("unreadable content");
  for (auto p : parts) {
    od::object part;
    if (p.get_object().get(part) != simdjson::SUCCESS)
      return Unscannable("content part not an object");
    for (auto f : part) {
      std::string_view key;
      if (f.unescaped_key().get(key) != simdjson::SUCCESS) return Unscannable("unreadable key");
      if (key != "text") continue;
      // Every `text` member counts, whatever the part's `type` says: a provider may accept
      // types the gateway does not know.
      std::string_view text;
      if (f.value().get_string().get(text) != simdjson::SUCCESS) {
        return Unscannable("content part text is not a readable string");
      }
      if (!out->empty()) *out += '\n';
      out->append(text);
    }
  }
  return absl::OkStatus();
}

// ReadString() reads a string member value; an unreadable one is an error.
template <typename Value>
absl::Status ReadString(Value&& v, std::string* out) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return Unscannable("unreadable string");
  out->assign(s);
  return absl::OkStatus();
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
  JsonParserLease lease;
  od::document doc;
  if (lease.parser().iterate(PaddedView(body)).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("request body is not JSON");
  }
  // Keys are compared unescaped ("m\u0065ssages" is "messages" to every provider), so the
  // top level is walked rather than searched with find_field (which compares raw keys).
  od::object top;
  if (doc.get_object().get(top) != simdjson::SUCCESS) return Unscannable("body is not an object");
  od::array messages;
  bool found = false;
  for (auto field : top) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return Unscannable("unreadable key");
    if (key != "messages") continue;
    if (found) return Unscannable("duplicate messages member");
    if (field.value().get_array().get(messages) != simdjson::SUCCESS) {
      return Unscannable("messages is not an array");
    }
    found = true;
    break;  // later members are not read: on-demand cannot come back to this array after them
  }
  if (!found) return Unscannable("request body has no messages array");
  absl::flat_hash_map<std::string, std::string> tool_names;  // tool_call id -> function name
  size_t index = 0;
  for (auto item : messages) {
    const size_t i = index++;
    od::object m;
    if (item.get_object().get(m) != simdjson::SUCCESS) return Unscannable("message not an object");
    std::string role, text, call_id, name;
    for (auto f : m) {
      std::string_view key;
      if (f.unescaped_key().get(key) != simdjson::SUCCESS) return Unscannable("unreadable key");
      if (key == "role") {
        PAI_RETURN_IF_ERROR(ReadString(f.value(), &role));
      } else if (key == "content") {
        PAI_RETURN_IF_ERROR(ContentText(f.value(), &text));
      } else if (key == "tool_call_id") {
        PAI_RETURN_IF_ERROR(ReadString(f.value(), &call_id));
      } else if (key == "name") {
        PAI_RETURN_IF_ERROR(ReadString(f.value(), &name));
      } else if (key == "tool_calls") {
        od::array calls;
        if (f.value().get_array().get(calls) != simdjson::SUCCESS) continue;  // null
        for (auto c : calls) {
          od::object call;
          if (c.get_object().get(call) != simdjson::SUCCESS)
            return Unscannable("tool call not an object");
          std::string id, fn;
          for (auto cf : call) {
            std::string_view ck;
            if (cf.unescaped_key().get(ck) != simdjson::SUCCESS)
              return Unscannable("unreadable key");
            if (ck == "id") {
              PAI_RETURN_IF_ERROR(ReadString(cf.value(), &id));
            } else if (ck == "function") {
              od::object fo;
              if (cf.value().get_object().get(fo) != simdjson::SUCCESS) continue;
              for (auto ff : fo) {
                std::string_view fk;
                if (ff.unescaped_key().get(fk) != simdjson::SUCCESS)
                  return Unscannable("unreadable key");
                if (fk == "name") PAI_RETURN_IF_ERROR(ReadString(ff.value(), &fn));
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
  JsonParserLease lease;
  od::document doc;
  if (lease.parser().iterate(PaddedView(body)).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("request body is not JSON");
  }
  od::object top;
  if (doc.get_object().get(top) != simdjson::SUCCESS) return Unscannable("body is not an object");
  for (auto field : top) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return Unscannable("unreadable key");
    if (key != "input") continue;
    od::value input;
    if (field.value().get(input) != simdjson::SUCCESS) return Unscannable("unreadable input");
    od::json_type type;
    if (input.type().get(type) != simdjson::SUCCESS) return Unscannable("unreadable input");
    if (type == od::json_type::string) {
      std::string s;
      PAI_RETURN_IF_ERROR(ReadString(input, &s));
      out->push_back({GuardTarget::kPrompt, "input", "", "user", std::move(s)});
      return absl::OkStatus();
    }
    od::array arr;
    if (type != od::json_type::array || input.get_array().get(arr) != simdjson::SUCCESS) {
      return Unscannable("input is neither a string nor a list");
    }
    size_t i = 0;
    for (auto item : arr) {
      od::value e;
      if (item.get(e) != simdjson::SUCCESS) return Unscannable("unreadable input item");
      od::json_type et;
      if (e.type().get(et) != simdjson::SUCCESS) return Unscannable("unreadable input item");
      if (et == od::json_type::string) {  // token-id arrays are not text
        std::string s;
        PAI_RETURN_IF_ERROR(ReadString(e, &s));
        out->push_back(
            {GuardTarget::kPrompt, pai::StrCat("input[", i, "]"), "", "user", std::move(s)});
      }
      ++i;
    }
    return absl::OkStatus();
  }
  return Unscannable("request body has no input");
}

namespace {

// ChoiceTexts() walks `choices[]` and appends `<member>.content` by choice index.
void ChoiceTexts(simdjson::padded_string_view view, std::string_view member,
                 std::vector<std::string>* by_index) {
  JsonParserLease lease;
  od::document doc;
  if (lease.parser().iterate(view).get(doc) != simdjson::SUCCESS) return;
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

std::vector<GuardText> ChatContentGuardTexts(std::vector<std::string> contents) {
  std::vector<GuardText> out;
  for (size_t i = 0; i < contents.size(); ++i) {
    if (contents[i].empty()) continue;
    out.push_back({GuardTarget::kResponse, pai::StrCat("choices[", i, "].message.content"), "",
                   "assistant", std::move(contents[i])});
  }
  return out;
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
