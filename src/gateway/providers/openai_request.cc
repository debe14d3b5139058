#include "gateway/providers/openai_request.h"

#include <simdjson.h>

#include <algorithm>
#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/json_util.h"
#include "common/strings.h"
#include "gateway/http/errors.h"
#include "gateway/providers/json_parser.h"

namespace pai::gateway {
namespace od = simdjson::ondemand;

namespace {

absl::Status Invalid(std::string_view message, std::string_view param = {}) {
  return MakeError(absl::StatusCode::kInvalidArgument, message, "invalid_request_error", param);
}

absl::Status BadJson(simdjson::error_code err) {
  return MakeError(absl::StatusCode::kInvalidArgument,
                   pai::StrCat("We could not parse the JSON body of your request (",
                               simdjson::error_message(err), "). The body must be a JSON object."),
                   "invalid_json");
}

// Padded: a view of the body with at least SIMDJSON_PADDING readable bytes after it; copies
// only when the caller did not reserve the padding.
void EnsurePadding(std::string& body) {
  if (body.capacity() - body.size() < simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
}

class Padded {
 public:
  explicit Padded(std::string& body) {
    EnsurePadding(body);
    view_ = simdjson::padded_string_view(body.data(), body.size(), body.capacity());
  }
  simdjson::padded_string_view view() const { return view_; }

 private:
  simdjson::padded_string_view view_;
};

size_t TrimmedLength(std::string_view token) {
  size_t n = token.size();
  while (n > 0 && (token[n - 1] == ' ' || token[n - 1] == '\n' || token[n - 1] == '\r' ||
                   token[n - 1] == '\t')) {
    --n;
  }
  return n;
}

Span SpanOf(std::string_view body, std::string_view token) {
  return Span{static_cast<size_t>(token.data() - body.data()), TrimmedLength(token)};
}

size_t ObjectOpen(std::string_view body) {
  size_t i = 0;
  while (i < body.size() &&
         (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t')) {
    ++i;
  }
  return i;
}

// ReadModel() reads a `model` member value.
absl::Status ReadModel(std::string_view body, od::value& v, std::string* model, Span* span) {
  od::json_type t;
  if (v.type().get(t) != simdjson::SUCCESS) return Invalid("model must be a string", "model");
  if (t != od::json_type::string) return Invalid("model must be a string", "model");
  const std::string_view token = v.raw_json_token();
  std::string_view s;
  if (auto err = v.get_string().get(s); err != simdjson::SUCCESS) return BadJson(err);
  if (s.empty()) return Invalid("model must not be empty", "model");
  *model = std::string(s);
  *span = SpanOf(body, token);
  return absl::OkStatus();
}

absl::Status ReadOptionalInt(std::string_view body, od::value& v, std::string_view name,
                             std::optional<int64_t>* out, Span* span) {
  *span = SpanOf(body, v.raw_json_token());
  od::json_type t;
  if (v.type().get(t) != simdjson::SUCCESS) return BadJson(simdjson::TAPE_ERROR);
  if (t == od::json_type::null) return absl::OkStatus();
  int64_t n = 0;
  if (t != od::json_type::number || v.get_int64().get(n) != simdjson::SUCCESS || n < 0) {
    return Invalid(pai::StrCat(name, " must be a non-negative integer"), name);
  }
  *out = n;
  return absl::OkStatus();
}

// ReadChoiceCount() reads `n`: null, or an integer >= 1.
absl::Status ReadChoiceCount(od::value& v, int64_t* n) {
  od::json_type t;
  if (v.type().get(t) != simdjson::SUCCESS) return BadJson(simdjson::TAPE_ERROR);
  if (t == od::json_type::null) return absl::OkStatus();
  int64_t value = 0;
  if (t != od::json_type::number || v.get_int64().get(value) != simdjson::SUCCESS || value < 1) {
    return Invalid("n must be an integer >= 1", "n");
  }
  *n = value;
  return absl::OkStatus();
}

absl::Status CheckMessages(od::value& v, size_t* count) {
  od::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) {
    return Invalid("messages must be an array", "messages");
  }
  size_t i = 0;
  for (auto item : arr) {
    od::object msg;
    if (item.get_object().get(msg) != simdjson::SUCCESS) {
      return Invalid(pai::StrCat("messages[", i, "] must be an object"),
                     pai::StrCat("messages[", i, "]"));
    }
    bool has_role = false;
    for (auto f : msg) {
      std::string_view key;
      if (auto err = f.unescaped_key().get(key); err != simdjson::SUCCESS) return BadJson(err);
      if (key != "role") {
        od::value other;
        if (auto err = f.value().get(other); err != simdjson::SUCCESS) return BadJson(err);
        if (auto err = ValidateJson(other); err != simdjson::SUCCESS) return BadJson(err);
        continue;
      }
      std::string_view role;
      if (f.value().get_string().get(role) != simdjson::SUCCESS || role.empty()) {
        return Invalid(pai::StrCat("messages[", i, "].role must be a string"),
                       pai::StrCat("messages[", i, "].role"));
      }
      has_role = true;
    }
    if (!has_role) {
      return Invalid(pai::StrCat("messages[", i, "].role is required"),
                     pai::StrCat("messages[", i, "].role"));
    }
    ++i;
  }
  if (i == 0) return Invalid("messages must contain at least one message", "messages");
  *count = i;
  return absl::OkStatus();
}

// ReadStreamOptions() reads `include_usage` out of the raw `stream_options` object text.
absl::Status ReadStreamOptions(std::string_view raw, bool* include_usage) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(raw, ec);
  if (ec || !v.is_object()) return Invalid("stream_options must be an object", "stream_options");
  if (const auto* iu = v.as_object().if_contains("include_usage")) {
    if (iu->is_bool()) {
      *include_usage = iu->as_bool();
    } else if (!iu->is_null()) {
      return Invalid("stream_options.include_usage must be a boolean",
                     "stream_options.include_usage");
    }
  }
  return absl::OkStatus();
}

// Iterates the top-level members of `body`, calling `on_member(key, value)` for each;
// `on_member` returns a status. Rejects a member named in `unique` that appears twice: a
// duplicate `model` would let the gateway and the provider read different values.
template <typename Fn>
absl::Status ForEachMember(std::string& body, std::initializer_list<std::string_view> unique,
                           Fn&& on_member) {
  Padded padded(body);
  JsonParserLease lease;
  od::document doc;
  if (auto err = lease.parser().iterate(padded.view()).get(doc); err != simdjson::SUCCESS) {
    return BadJson(err);
  }
  od::object obj;
  if (auto err = doc.get_object().get(obj); err != simdjson::SUCCESS) return BadJson(err);
  std::vector<std::string_view> seen;
  for (auto field_result : obj) {
    od::field field;
    if (auto err = std::move(field_result).get(field); err != simdjson::SUCCESS) {
      return BadJson(err);
    }
    std::string_view key;
    if (auto err = field.unescaped_key().get(key); err != simdjson::SUCCESS) return BadJson(err);
    if (std::find(unique.begin(), unique.end(), key) != unique.end()) {
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        return Invalid(pai::StrCat("duplicate member \"", key, "\""), key);
      }
      seen.push_back(key);
    }
    od::value value = field.value();
    const char* at = doc.current_location().value_unsafe();
    absl::Status s = on_member(key, value);
    if (!s.ok()) return s;
    // A value the caller did not consume (skipped, or only its type looked at) is validated
    // here: the whole document is checked in this one pass.
    if (doc.current_location().value_unsafe() == at) {
      if (auto err = ValidateJson(value); err != simdjson::SUCCESS) return BadJson(err);
    }
  }
  // Nothing may follow the top-level object.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return BadJson(simdjson::TRAILING_CONTENT);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ChatCompletionRequest> ParseChatCompletionRequest(std::string& body) {
  EnsurePadding(body);  // before taking views: reserving may move the bytes
  ChatCompletionRequest req;
  bool has_messages = false;
  const std::string_view text = body;
  absl::Status s = ForEachMember(
      body,
      {"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "n"},
      [&](std::string_view key, od::value& v) -> absl::Status {
        if (key == "model") return ReadModel(text, v, &req.model, &req.model_span);
        if (key == "messages") {
          has_messages = true;
          return CheckMessages(v, &req.message_count);
        }
        if (key == "stream") {
          od::json_type t;
          if (v.type().get(t) != simdjson::SUCCESS) return BadJson(simdjson::TAPE_ERROR);
          if (t == od::json_type::null) return absl::OkStatus();
          if (v.get_bool().get(req.stream) != simdjson::SUCCESS) {
            return Invalid("stream must be a boolean", "stream");
          }
          return absl::OkStatus();
        }
        if (key == "stream_options") {
          const std::string_view token = v.raw_json_token();
          od::json_type t;
          if (v.type().get(t) != simdjson::SUCCESS) return BadJson(simdjson::TAPE_ERROR);
          if (t == od::json_type::null) {
            // Keep the span: the gateway replaces the null rather than adding a second member
            // (a provider keeping the last duplicate would see null and send no usage).
            req.stream_options_span = SpanOf(text, token);
            return absl::OkStatus();
          }
          od::object o;
          std::string_view raw;
          if (v.get_object().get(o) != simdjson::SUCCESS || o.raw_json().get(raw)) {
            return Invalid("stream_options must be an object", "stream_options");
          }
          req.stream_options_span = SpanOf(text, raw);
          return ReadStreamOptions(raw, &req.client_include_usage);
        }
        if (key == "max_tokens") {
          return ReadOptionalInt(text, v, "max_tokens", &req.max_tokens, &req.max_tokens_span);
        }
        if (key == "n") return ReadChoiceCount(v, &req.n);
        if (key == "max_completion_tokens") {
          return ReadOptionalInt(text, v, "max_completion_tokens", &req.max_completion_tokens,
                                 &req.max_completion_tokens_span);
        }
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  if (req.model.empty()) return Invalid("you must provide a model parameter", "model");
  if (!has_messages) return Invalid("you must provide a messages parameter", "messages");
  req.object_open = ObjectOpen(text);
  for (size_t pos = text.find("\"image_url\""); pos != std::string_view::npos;
       pos = text.find("\"image_url\"", pos + 11)) {
    ++req.image_parts;  // counts both the type tag and the member: halved below
  }
  req.image_parts = (req.image_parts + 1) / 2;
  return req;
}

absl::StatusOr<EmbeddingsRequest> ParseEmbeddingsRequest(std::string& body) {
  EnsurePadding(body);
  EmbeddingsRequest req;
  bool has_input = false;
  const std::string_view text = body;
  absl::Status s = ForEachMember(
      body, {"model", "input"}, [&](std::string_view key, od::value& v) -> absl::Status {
        if (key == "model") {
          return ReadModel(text, v, &req.model, &req.model_span);
        }
        if (key == "input") {
          od::json_type t;
          if (v.type().get(t) != simdjson::SUCCESS ||
              (t != od::json_type::string && t != od::json_type::array)) {
            return Invalid("input must be a string or an array", "input");
          }
          has_input = true;
        }
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  if (req.model.empty()) return Invalid("you must provide a model parameter", "model");
  if (!has_input) return Invalid("you must provide an input parameter", "input");
  req.object_open = ObjectOpen(text);
  return req;
}

void BodyRewriter::Replace(Span span, std::string text) {
  edits_.push_back(Edit{span.offset, span.length, std::move(text)});
}

void BodyRewriter::InsertMember(std::string_view key, std::string_view value_json) {
  AppendJsonString(inserted_, key);
  inserted_ += ':';
  inserted_ += value_json;
  inserted_ += ',';
}

std::string BodyRewriter::Finish() const {
  std::vector<const Edit*> order;
  order.reserve(edits_.size());
  size_t growth = inserted_.size();
  for (const Edit& e : edits_) {
    order.push_back(&e);
    growth += e.text.size();
  }
  std::sort(order.begin(), order.end(),
            [](const Edit* a, const Edit* b) { return a->offset < b->offset; });
  std::string out;
  out.reserve(original_.size() + growth);
  size_t pos = 0;
  auto copy_to = [&](size_t end) {
    if (end > pos) out.append(original_.substr(pos, end - pos));
    pos = std::max(pos, end);
  };
  if (!inserted_.empty()) {
    copy_to(object_open_ + 1);
    out += inserted_;
  }
  for (const Edit* e : order) {
    copy_to(e->offset);
    out += e->text;
    pos = e->offset + e->length;
  }
  copy_to(original_.size());
  return out;
}

namespace {
std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}
}  // namespace

std::string BuildUpstreamChatBody(std::string_view body, const ChatCompletionRequest& req,
                                  const UpstreamChatOptions& options) {
  BodyRewriter rw(body, req.object_open);
  rw.Replace(req.model_span, JsonString(options.model_id));
  if (options.output_limit) {
    const std::string limit = std::to_string(*options.output_limit);
    bool written = false;
    if (req.max_completion_tokens_span.present()) {
      rw.Replace(req.max_completion_tokens_span, limit);
      written = true;
    }
    if (req.max_tokens_span.present()) {
      rw.Replace(req.max_tokens_span, limit);
      written = true;
    }
    if (!written) rw.InsertMember(options.output_field, limit);
  }
  if (req.stream && options.force_include_usage && !req.client_include_usage) {
    if (req.stream_options_span.present()) {
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(
          body.substr(req.stream_options_span.offset, req.stream_options_span.length), ec);
      boost::json::object o = (!ec && v.is_object()) ? v.as_object() : boost::json::object();
      o["include_usage"] = true;
      rw.Replace(req.stream_options_span, boost::json::serialize(o));
    } else {
      rw.InsertMember("stream_options", R"({"include_usage":true})");
    }
  }
  return rw.Finish();
}

std::string BuildUpstreamEmbeddingsBody(std::string_view body, const EmbeddingsRequest& req,
                                        std::string_view model_id) {
  BodyRewriter rw(body, req.object_open);
  rw.Replace(req.model_span, JsonString(model_id));
  return rw.Finish();
}

}  // namespace pai::gateway
