#include "gateway/providers/upstream_body.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/strings.h"
#include "gateway/providers/openai_request.h"
#include "gateway/providers/translate_anthropic.h"
#include "gateway/providers/translate_gemini.h"
#include "gateway/providers/translate_responses.h"

namespace pai::gateway {

Dialect DialectOf(const RequestContext& ctx) {
  // /v1/responses to anthropic / gemini goes through the chat translation
  // (translate_responses.h).
  if (!ctx.chat && ctx.route != Route::kResponses) return Dialect::kOpenAI;
  switch (ctx.model->provider->spec.kind) {
    case config::ProviderKind::kAnthropic:
      return Dialect::kAnthropic;
    case config::ProviderKind::kGemini:
      return Dialect::kGemini;
    default:
      return Dialect::kOpenAI;
  }
}

absl::StatusOr<std::string> TranslatedBody(const RequestContext& ctx, const ModelRoute& model,
                                           Dialect dialect, std::optional<int64_t> cap) {
  const std::string* chat = ctx.body;
  std::string from_responses;
  if (ctx.native) {
    auto translated = responses::ResponsesToChat(*ctx.native->doc);
    if (!translated.ok()) return translated.status();
    from_responses = std::move(*translated);
    chat = &from_responses;
  }
  if (dialect == Dialect::kAnthropic) {
    return anthropic::ChatToMessages(*chat, {model.model_id, cap});
  }
  return gemini::ChatToGenerateContent(*chat, {cap});
}

absl::StatusOr<std::string> CountBody(const RequestContext& ctx, const ModelRoute& model) {
  const bool anthropic = model.provider->spec.kind == config::ProviderKind::kAnthropic;
  boost::json::object doc;
  if (ctx.route == Route::kMessages && ctx.native) {
    doc = *ctx.native->doc;  // the client's own Messages request
  } else {
    auto body = TranslatedBody(ctx, model, anthropic ? Dialect::kAnthropic : Dialect::kGemini,
                               std::nullopt);
    if (!body.ok()) return body.status();
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(*body, ec);
    if (ec || !v.is_object()) return absl::InternalError("translated body is not a JSON object");
    doc = std::move(v.get_object());
  }
  boost::json::object out;
  if (anthropic) {
    for (const std::string_view key :
         {"messages", "system", "tools", "tool_choice", "thinking", "mcp_servers"}) {
      if (const boost::json::value* v = doc.if_contains(key)) out[key] = *v;
    }
    out["model"] = model.model_id;
  } else {
    doc["model"] = pai::StrCat("models/", model.model_id);
    out["generateContentRequest"] = std::move(doc);
  }
  return boost::json::serialize(out);
}

std::string UpstreamBody(const RequestContext& ctx) {
  const ModelRoute& model = *ctx.model;
  if (ctx.embeddings)
    return BuildUpstreamEmbeddingsBody(*ctx.body, *ctx.embeddings, model.model_id);
  UpstreamChatOptions opts;
  opts.model_id = model.model_id;
  if (ctx.reservation && ctx.reservation->impose_output_limit) {
    opts.output_limit = ctx.reservation->output_limit;
  }
  // OpenAI deprecated max_tokens for max_completion_tokens (reasoning models reject the old
  // name); other OpenAI-compatible servers mostly know only max_tokens.
  opts.output_field = model.provider->spec.kind == config::ProviderKind::kOpenAI
                          ? "max_completion_tokens"
                          : "max_tokens";
  return BuildUpstreamChatBody(*ctx.body, *ctx.chat, opts);
}
std::unique_ptr<ChatStreamTranslator> MakeChatStreamTranslator(Dialect dialect,
                                                               const std::string& model_id,
                                                               int64_t created) {
  switch (dialect) {
    case Dialect::kAnthropic:
      return std::make_unique<anthropic::StreamTranslator>(model_id, true, created);
    case Dialect::kGemini:
      return std::make_unique<gemini::StreamTranslator>(model_id, true, created);
    case Dialect::kOpenAI:
      break;
  }
  return nullptr;
}

}  // namespace pai::gateway
