#include "gateway/stages/input_tokens.h"

#include <openssl/sha.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "common/text_cache.h"
#include "gateway/config/runtime.h"
#include "gateway/http/errors.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/providers/adapter.h"
#include "gateway/providers/json_parser.h"
#include "gateway/providers/native_request.h"
#include "gateway/providers/openai_request.h"
#include "gateway/stages/tool_tokens.h"

namespace pai::gateway {
namespace od = simdjson::ondemand;
namespace json = boost::json;

namespace {

// Top-level request members that are parameters of the call, never rendered into the prompt
// (OpenAI API reference, "Create chat completion" and "Create a model response"). Every other
// member counts as the tokens of its JSON text.
constexpr std::array<std::string_view, 30> kParameters = {"model",
                                                          "stream",
                                                          "stream_options",
                                                          "max_tokens",
                                                          "max_completion_tokens",
                                                          "max_output_tokens",
                                                          "temperature",
                                                          "top_p",
                                                          "n",
                                                          "stop",
                                                          "presence_penalty",
                                                          "frequency_penalty",
                                                          "logit_bias",
                                                          "logprobs",
                                                          "top_logprobs",
                                                          "seed",
                                                          "user",
                                                          "metadata",
                                                          "store",
                                                          "service_tier",
                                                          "parallel_tool_calls",
                                                          "reasoning_effort",
                                                          "reasoning",
                                                          "modalities",
                                                          "audio",
                                                          "prediction",
                                                          "safety_identifier",
                                                          "prompt_cache_key",
                                                          "background",
                                                          "truncation"};

bool IsParameter(std::string_view key) {
  return std::find(kParameters.begin(), kParameters.end(), key) != kParameters.end();
}

// Content members whose cost is not text: an image is kImageTokens whatever its URL; audio
// and files count their bytes (base64 data is far more bytes than the tokens they bill).
enum class MemberCost { kText, kImage, kBytes };

MemberCost CostOf(std::string_view key) {
  if (key == "image_url") return MemberCost::kImage;
  if (key == "input_audio" || key == "file" || key == "file_data" || key == "file_url" ||
      key == "file_id") {
    return MemberCost::kBytes;
  }
  return MemberCost::kText;
}

// Cached() is compute(), remembered per thread under the SHA-256 of `text` and `kind` (what
// is computed from it): an agent resends its whole history with every request, so most of a
// long request's text was counted on an earlier one. A cryptographic digest, so that no crafted
// text can collide with another and borrow its (smaller) count. Bounded; cleared when full.
template <class Compute>
int64_t Cached(const tokenizer::Encoding& enc, std::string_view text, char kind,
               const Compute& compute) {
  constexpr size_t kMaxEntries = 4096;
  std::string key(SHA256_DIGEST_LENGTH + 2, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(),
         reinterpret_cast<unsigned char*>(key.data()));
  key[SHA256_DIGEST_LENGTH] = static_cast<char>(enc.id());
  key.back() = kind;
  // Every key has the same size: the byte bound is kMaxEntries entries.
  thread_local TextCache<int64_t> cache(kMaxEntries *
                                        (key.size() + TextCache<int64_t>::kEntryOverhead));
  if (const int64_t* known = cache.Find(key)) return *known;
  const int64_t n = compute();
  cache.Put(key, n);
  return n;
}

// CachedCount() is enc.Count(text), cached for long texts.
int64_t CachedCount(const tokenizer::Encoding& enc, std::string_view text) {
  constexpr size_t kMinCached = 1024;  // shorter texts: counting is as cheap as hashing
  if (text.size() < kMinCached) return enc.Count(text);
  return Cached(enc, text, 'c', [&] { return enc.Count(text); });
}

// CachedToolTokens() is ToolTokens() of the tool whose JSON text is `text` (`parsed`: that
// text already parsed, if the caller has it). Cached whatever its size: rendering a tool costs
// a parse, more than a hash.
int64_t CachedToolTokens(const tokenizer::Encoding& enc, std::string_view text,
                         const json::value* parsed = nullptr) {
  return Cached(enc, text, 't', [&]() -> int64_t {
    if (parsed) return ToolTokens(*parsed, enc);
    boost::system::error_code ec;
    const json::value v = json::parse(text, ec);
    return ec ? enc.Count(text) + kToolSlack : ToolTokens(v, enc);
  });
}

// --- chat completions: simdjson On-Demand over the client's body -------------------------

class ChatCounter {
 public:
  explicit ChatCounter(const tokenizer::Encoding& enc) : enc_(enc) {}

  simdjson::error_code Body(od::object obj) {
    for (auto field : obj) {
      std::string_view key;
      SIMDJSON_TRY(field.unescaped_key().get(key));
      od::value v = field.value();
      if (key == "messages") {
        SIMDJSON_TRY(Messages(v));
      } else if (key == "tools" || key == "functions") {
        SIMDJSON_TRY(Tools(v));
      } else if (!IsParameter(key)) {
        std::string_view raw;
        SIMDJSON_TRY(RawJson(v, &raw));
        total_ += CachedCount(enc_, raw);
      }  // parameters: left unread (On-Demand skips them)
    }
    total_ += kReplyPriming;
    return simdjson::SUCCESS;
  }

  int64_t total() const { return total_; }

 private:
  static simdjson::error_code RawJson(od::value& v, std::string_view* raw) {
    od::json_type t;
    SIMDJSON_TRY(v.type().get(t));
    if (t == od::json_type::object) {
      od::object o;
      SIMDJSON_TRY(v.get_object().get(o));
      return o.raw_json().get(*raw);
    }
    if (t == od::json_type::array) {
      od::array a;
      SIMDJSON_TRY(v.get_array().get(a));
      return a.raw_json().get(*raw);
    }
    *raw = v.raw_json_token();
    return simdjson::SUCCESS;
  }

  simdjson::error_code Messages(od::value& v) {
    od::array arr;
    SIMDJSON_TRY(v.get_array().get(arr));
    for (auto item : arr) {
      od::object msg;
      SIMDJSON_TRY(item.get_object().get(msg));
      total_ += kTokensPerMessage;
      for (auto field : msg) {
        std::string_view key;
        SIMDJSON_TRY(field.unescaped_key().get(key));
        if (key == "name") total_ += kTokensPerName;
        od::value fv = field.value();
        if (key == "tool_calls") {
          SIMDJSON_TRY(ToolCalls(fv));
        } else if (key == "tool_call_id") {
          SIMDJSON_TRY(ToolResult(fv));
        } else {
          SIMDJSON_TRY(Value(fv));
        }
      }
    }
    return simdjson::SUCCESS;
  }

  // A tool result is rendered with the name of the function it answers, which its message
  // does not carry: that name's tokens (from the call with this id) plus kTokensPerToolResult.
  simdjson::error_code ToolResult(od::value& v) {
    std::string_view id;
    if (v.get_string().get(id) != simdjson::SUCCESS) return Value(v);
    total_ += CachedCount(enc_, id) + kTokensPerToolResult;
    auto it = call_names_.find(std::string(id));
    total_ += it == call_names_.end() ? kUnknownToolName : it->second;
    return simdjson::SUCCESS;
  }

  simdjson::error_code ToolCalls(od::value& v) {
    od::json_type t;
    SIMDJSON_TRY(v.type().get(t));
    if (t != od::json_type::array) return Value(v);
    od::array arr;
    SIMDJSON_TRY(v.get_array().get(arr));
    for (auto item : arr) {
      total_ += kTokensPerToolCall;
      od::object call;
      if (item.get_object().get(call) != simdjson::SUCCESS) continue;  // not a call: invalid
      std::string id;
      int64_t name_tokens = 0;
      for (auto field : call) {
        std::string_view key;
        SIMDJSON_TRY(field.unescaped_key().get(key));
        od::value fv = field.value();
        if (key == "id") {
          std::string_view s;
          if (fv.get_string().get(s) == simdjson::SUCCESS) {
            id = std::string(s);
            total_ += CachedCount(enc_, s);
            continue;
          }
        } else if (key == "function") {
          SIMDJSON_TRY(Function(fv, &name_tokens));
          continue;
        }
        SIMDJSON_TRY(Value(fv));
      }
      call_names_[id] = std::max(call_names_[id], name_tokens);
    }
    return simdjson::SUCCESS;
  }

  // Function(): a tool call's `function` ({name, arguments}); `*name_tokens` the name's tokens.
  simdjson::error_code Function(od::value& v, int64_t* name_tokens) {
    od::object fn;
    if (v.get_object().get(fn) != simdjson::SUCCESS) return Value(v);
    for (auto field : fn) {
      std::string_view key;
      SIMDJSON_TRY(field.unescaped_key().get(key));
      od::value fv = field.value();
      std::string_view s;
      if (key == "name" && fv.get_string().get(s) == simdjson::SUCCESS) {
        *name_tokens = CachedCount(enc_, s);
        total_ += *name_tokens;
        continue;
      }
      SIMDJSON_TRY(Value(fv));
    }
    return simdjson::SUCCESS;
  }

  simdjson::error_code Tools(od::value& v) {
    od::json_type t;
    SIMDJSON_TRY(v.type().get(t));
    if (t != od::json_type::array) return Value(v);
    od::array arr;
    SIMDJSON_TRY(v.get_array().get(arr));
    bool any = false;
    for (auto item : arr) {
      od::value tool;
      SIMDJSON_TRY(item.get(tool));
      std::string_view raw;
      SIMDJSON_TRY(RawJson(tool, &raw));
      total_ += CachedToolTokens(enc_, raw);
      any = true;
    }
    if (any) total_ += kToolsEnd;
    return simdjson::SUCCESS;
  }

  // Value(): the tokens of every string in `v`; numbers and booleans as their text; image,
  // audio and file members by their own cost.
  simdjson::error_code Value(od::value& v) {
    od::json_type t;
    SIMDJSON_TRY(v.type().get(t));
    switch (t) {
      case od::json_type::string: {
        std::string_view s;
        SIMDJSON_TRY(v.get_string().get(s));
        total_ += CachedCount(enc_, s);
        return simdjson::SUCCESS;
      }
      case od::json_type::array: {
        od::array arr;
        SIMDJSON_TRY(v.get_array().get(arr));
        for (auto item : arr) {
          od::value e;
          SIMDJSON_TRY(item.get(e));
          SIMDJSON_TRY(Value(e));
        }
        return simdjson::SUCCESS;
      }
      case od::json_type::object: {
        od::object obj;
        SIMDJSON_TRY(v.get_object().get(obj));
        for (auto field : obj) {
          std::string_view key;
          SIMDJSON_TRY(field.unescaped_key().get(key));
          od::value fv = field.value();
          switch (CostOf(key)) {
            case MemberCost::kImage:
              total_ += kImageTokens;  // its URL or data left unread
              break;
            case MemberCost::kBytes: {
              std::string_view raw;
              SIMDJSON_TRY(RawJson(fv, &raw));
              total_ += static_cast<int64_t>(raw.size());
              break;
            }
            case MemberCost::kText:
              SIMDJSON_TRY(Value(fv));
              break;
          }
        }
        return simdjson::SUCCESS;
      }
      case od::json_type::null:
        return simdjson::SUCCESS;
      default:  // numbers, booleans: their text
        total_ += CachedCount(enc_, v.raw_json_token());
        return simdjson::SUCCESS;
    }
  }

  const tokenizer::Encoding& enc_;
  int64_t total_ = 0;
  absl::flat_hash_map<std::string, int64_t> call_names_;  // tool call id → its name's tokens
};

// --- Responses API: the body already parsed by ParseResponsesRequest (Boost.JSON) ---------

class ResponsesCounter {
 public:
  explicit ResponsesCounter(const tokenizer::Encoding& enc) : enc_(enc) {}

  int64_t Body(const json::object& body) {
    for (const auto& member : body) {
      const std::string_view key = member.key();
      const json::value& v = member.value();
      if (key == "input") {
        Input(v);
      } else if (key == "instructions") {
        total_ += kTokensPerMessage;
        Value(v);
      } else if (key == "tools") {
        Tools(v);
      } else if (!IsParameter(key)) {
        total_ += CachedCount(enc_, json::serialize(v));
      }
    }
    return total_ + kReplyPriming;
  }

 private:
  void Input(const json::value& v) {
    if (!v.is_array()) {
      total_ += kTokensPerMessage;  // a string input is one user message
      Value(v);
      return;
    }
    for (const json::value& item : v.get_array()) {
      total_ += kTokensPerMessage;  // messages, function calls and their outputs alike
      Value(item);
    }
  }

  void Tools(const json::value& v) {
    if (!v.is_array()) return Value(v);
    for (const json::value& tool : v.get_array()) {
      total_ += CachedToolTokens(enc_, json::serialize(tool), &tool);
    }
    if (!v.get_array().empty()) total_ += kToolsEnd;
  }

  void Value(const json::value& v) {
    switch (v.kind()) {
      case json::kind::string:
        total_ += CachedCount(enc_, v.get_string());
        break;
      case json::kind::array:
        for (const json::value& e : v.get_array()) Value(e);
        break;
      case json::kind::object:
        for (const auto& member : v.get_object()) {
          switch (CostOf(member.key())) {
            case MemberCost::kImage:
              total_ += kImageTokens;
              break;
            case MemberCost::kBytes:
              total_ += static_cast<int64_t>(json::serialize(member.value()).size());
              break;
            case MemberCost::kText:
              Value(member.value());
              break;
          }
        }
        break;
      case json::kind::null:
        break;
      default:
        total_ += CachedCount(enc_, json::serialize(v));
        break;
    }
  }

  const tokenizer::Encoding& enc_;
  int64_t total_ = 0;
};

bool InputBoundMatters(const RequestContext& ctx, const ModelRoute& route) {
  const budget::AgentLimits& lim = ctx.agent->limits;
  return lim.tokens_per_day > 0 || lim.nano_usd_per_day > 0 || lim.tokens_per_request > 0 ||
         route.provider->spec.max_tokens_day > 0;
}

}  // namespace

std::optional<tokenizer::EncodingId> EncodingFor(config::ProviderKind kind,
                                                 std::string_view model_id) {
  return AdapterFor(kind).InputEncoding(model_id);
}

absl::StatusOr<int64_t> ChatInputTokens(const std::string& body, const tokenizer::Encoding& enc) {
  JsonParserLease lease;
  od::parser& parser = lease.parser();
  simdjson::padded_string copy;
  simdjson::padded_string_view view;
  if (body.capacity() - body.size() >= simdjson::SIMDJSON_PADDING) {
    view = simdjson::padded_string_view(body.data(), body.size(), body.capacity());
  } else {
    copy = simdjson::padded_string(body);
    view = copy;
  }
  od::document doc;
  od::object obj;
  ChatCounter counter(enc);
  simdjson::error_code err = parser.iterate(view).get(doc);
  if (!err) err = doc.get_object().get(obj);
  if (!err) err = counter.Body(obj);
  if (err) {
    return MakeError(absl::StatusCode::kInvalidArgument, simdjson::error_message(err),
                     "invalid_json");
  }
  return counter.total();
}

absl::StatusOr<int64_t> EmbeddingsInputTokens(const std::string& body,
                                              const tokenizer::Encoding& enc) {
  JsonParserLease lease;
  od::parser& parser = lease.parser();
  simdjson::padded_string copy(body);
  od::document doc;
  od::object obj;
  simdjson::error_code err = parser.iterate(copy).get(doc);
  if (!err) err = doc.get_object().get(obj);
  int64_t total = 0;
  // `input`: a string, an array of strings, an array of token ids, or an array of such arrays
  // (OpenAI API reference, "Create embeddings"); billed as exactly its tokens, no framing.
  auto count = [&](od::value v, auto&& self) -> simdjson::error_code {
    od::json_type t;
    SIMDJSON_TRY(v.type().get(t));
    if (t == od::json_type::string) {
      std::string_view s;
      SIMDJSON_TRY(v.get_string().get(s));
      total += CachedCount(enc, s);
    } else if (t == od::json_type::array) {
      od::array arr;
      SIMDJSON_TRY(v.get_array().get(arr));
      for (auto item : arr) {
        od::value e;
        SIMDJSON_TRY(item.get(e));
        SIMDJSON_TRY(self(e, self));
      }
    } else {
      total += 1;  // a token id
    }
    return simdjson::SUCCESS;
  };
  if (!err) {
    for (auto field : obj) {
      std::string_view key;
      if ((err = field.unescaped_key().get(key))) break;
      if (key != "input") continue;
      od::value v;
      if ((err = field.value().get(v))) break;
      if ((err = count(v, count))) break;
    }
  }
  if (err) {
    return MakeError(absl::StatusCode::kInvalidArgument, simdjson::error_message(err),
                     "invalid_json");
  }
  return total;
}

int64_t ResponsesInputTokens(const boost::json::object& body, const tokenizer::Encoding& enc) {
  return ResponsesCounter(enc).Body(body);
}

namespace {

// NativeImageParts(): the image parts of a native body — Responses `input_image`, Anthropic
// `image` blocks (tool results included), chat-style `image_url` — found anywhere in it (the
// parsed document's depth is bounded by the JSON parser).
int64_t NativeImageParts(const boost::json::value& v);

int64_t NativeImageParts(const boost::json::object& o) {
  int64_t n = 0;
  if (const auto* t = o.if_contains("type"); t && t->is_string()) {
    const boost::json::string& type = t->get_string();
    if (type == "input_image" || type == "image" || type == "image_url") ++n;
  }
  for (const auto& member : o) n += NativeImageParts(member.value());
  return n;
}

int64_t NativeImageParts(const boost::json::value& v) {
  if (const auto* o = v.if_object()) return NativeImageParts(*o);
  int64_t n = 0;
  if (const auto* a = v.if_array()) {
    for (const auto& item : *a) n += NativeImageParts(item);
  }
  return n;
}

}  // namespace

InputBound InputBoundOf(Route route, std::optional<tokenizer::EncodingId> enc,
                        const std::string& body, const ChatCompletionRequest* chat,
                        const NativeRequest* native) {
  const int64_t bytes = static_cast<int64_t>(body.size());
  const int64_t images = chat                    ? static_cast<int64_t>(chat->image_parts)
                         : native && native->doc ? NativeImageParts(*native->doc)
                                                 : 0;
  const InputBound by_bytes{bytes + images * kImageTokens,
                            (bytes + 3) / 4 + images * kImageTokens / 2, InputMethod::kBodyBytes};
  if (!enc) return by_bytes;
  const tokenizer::Encoding& encoding = tokenizer::Encoding::Get(*enc);
  int64_t tokens = 0;
  if (route == Route::kChatCompletions && chat) {
    auto n = ChatInputTokens(body, encoding);
    if (!n.ok()) return by_bytes;
    tokens = *n;
  } else if (route == Route::kResponses && native && native->doc) {
    tokens = ResponsesInputTokens(*native->doc, encoding);
  } else if (route == Route::kEmbeddings) {
    auto n = EmbeddingsInputTokens(body, encoding);
    if (!n.ok()) return by_bytes;
    tokens = *n;
  } else {
    return by_bytes;
  }
  // The byte bound holds too: never reserve more than it.
  tokens = std::min(tokens, by_bytes.upper);
  return InputBound{tokens, tokens, InputMethod::kTokenizer};
}

InputBound InputBoundFor(const RequestContext& ctx, const ModelRoute& route) {
  static const std::string kEmpty;
  const std::string& body = ctx.body ? *ctx.body : kEmpty;
  const ChatCompletionRequest* chat = ctx.chat ? &*ctx.chat : nullptr;
  const NativeRequest* native = ctx.native ? &*ctx.native : nullptr;
  if (!route.provider || !InputBoundMatters(ctx, route)) {
    // No limit reads this bound: the byte count, without walking a native body for images.
    return InputBoundOf(ctx.route, std::nullopt, body, chat, nullptr);
  }
  return InputBoundOf(ctx.route, EncodingFor(route.provider->spec.kind, route.model_id), body, chat,
                      native);
}

absl::StatusOr<InputBound> CountRequestTokens(Route route, config::ProviderKind kind,
                                              std::string_view model_id, std::string body) {
  std::optional<ChatCompletionRequest> chat;
  std::optional<NativeRequest> native;
  if (route == Route::kChatCompletions) {
    auto r = ParseChatCompletionRequest(body);
    if (!r.ok()) return r.status();
    chat = std::move(*r);
  } else if (route == Route::kResponses) {
    auto r = ParseResponsesRequest(body);
    if (!r.ok()) return r.status();
    native = std::move(*r);
  } else if (route == Route::kEmbeddings) {
    auto r = ParseEmbeddingsRequest(body);
    if (!r.ok()) return r.status();
  }
  return InputBoundOf(route, EncodingFor(kind, model_id), body, chat ? &*chat : nullptr,
                      native ? &*native : nullptr);
}

std::string_view InputMethodName(InputMethod m) {
  switch (m) {
    case InputMethod::kTokenizer:
      return "tokenizer";
    case InputMethod::kProviderCount:
      return "provider_count";
    default:
      return "body_bytes";
  }
}

}  // namespace pai::gateway
