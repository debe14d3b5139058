// The adapters of the providers that speak OpenAI's API (openai, openrouter), the in-process
// mock, and what the adapters share.
#include <boost/json/parse.hpp>

#include "common/strings.h"
#include "gateway/http/errors.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/providers/adapters.h"
#include "gateway/providers/native_request.h"
#include "gateway/providers/openai_request.h"
#include "gateway/providers/translate_responses.h"

namespace pai::gateway::adapters {

absl::StatusOr<std::string_view> ClientChatBody(const RequestContext& ctx, std::string* scratch) {
  if (!ctx.native) return std::string_view(*ctx.body);
  auto translated = responses::ResponsesToChat(*ctx.native->doc);
  if (!translated.ok()) return translated.status();
  *scratch = std::move(*translated);
  return std::string_view(*scratch);
}

std::optional<int64_t> ReservedOutput(const RequestContext& ctx, bool always) {
  if (!ctx.reservation || (!always && !ctx.reservation->impose_output_limit)) return std::nullopt;
  return ctx.reservation->output_limit;
}

absl::StatusOr<boost::json::object> ParseObject(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return absl::InvalidArgumentError("not a JSON object");
  return std::move(v.get_object());
}

absl::StatusOr<ProviderAnswer> TranslatedAnswer(const RequestContext& ctx,
                                                absl::StatusOr<std::string> chat) {
  ProviderAnswer answer;
  if (chat.ok() && ctx.native) {  // /v1/responses: the chat.completion becomes a Response
    answer.usage = ExtractUsage(*chat);
    chat = responses::ChatCompletionToResponse(*chat, *ctx.native->doc);
  }
  if (!chat.ok()) {
    return MakeHttpError(502, "The model provider's answer could not be read", "upstream_error");
  }
  answer.body = std::move(*chat);
  return answer;
}

absl::StatusOr<int64_t> CountMember(std::string_view body, std::string_view key) {
  auto doc = ParseObject(body);
  const boost::json::value* n = doc.ok() ? doc->if_contains(key) : nullptr;
  if (!n || !n->is_int64() || n->get_int64() < 0) {
    return absl::UnavailableError("the token count answer has no count");
  }
  return n->get_int64();
}

// OpenAI.

bool OpenAI::Serves(Route route) const {
  return route != Route::kMessages && route != Route::kCountTokens;
}

std::pair<std::string, std::string> OpenAI::Credential(std::string_view api_key) const {
  return {"authorization", pai::StrCat("Bearer ", api_key)};
}

std::optional<tokenizer::EncodingId> OpenAI::InputEncoding(std::string_view model_id) const {
  return tokenizer::EncodingForModel(model_id);
}

absl::StatusOr<ProviderRequest> OpenAI::BuildRequest(const RequestContext& ctx) const {
  const ModelRoute& model = *ctx.model;
  ProviderRequest req;
  if (ctx.native) {  // /v1/responses: the client's body, model and output cap set
    const std::optional<int64_t> cap = ReservedOutput(ctx, /*always=*/false);
    if (cap && *cap < 16) {
      // The Responses API refuses max_output_tokens below 16; a budget that leaves less
      // cannot be honoured by it (OpenAI API reference, "Create a model response").
      return MakeHttpError(429,
                           pai::StrCat("The remaining budget allows ", *cap,
                                       " output tokens; the Responses API needs at least 16."),
                           "insufficient_quota");
    }
    auto body = RewriteNativeBody(*ctx.native->doc, model.model_id, "max_output_tokens", cap);
    if (!body.ok()) return body.status();
    req.path = "/responses";
    req.body = std::move(*body);
  } else if (ctx.embeddings) {
    req.path = "/embeddings";
    req.body = BuildUpstreamEmbeddingsBody(*ctx.body, *ctx.embeddings, model.model_id);
  } else {
    UpstreamChatOptions opts;
    opts.model_id = model.model_id;
    opts.output_limit = ReservedOutput(ctx, /*always=*/false);
    opts.output_field = output_field();
    req.path = "/chat/completions";
    req.body = BuildUpstreamChatBody(*ctx.body, *ctx.chat, opts);
  }
  AddHeaders(req);
  return req;
}

// OpenRouter.

bool OpenRouter::Serves(Route route) const {
  return OpenAI::Serves(route) && route != Route::kResponses;
}

std::optional<tokenizer::EncodingId> OpenRouter::InputEncoding(std::string_view model_id) const {
  // OpenAI's own models, "openai/<id>", have a public tokenizer; the others are unknown here.
  if (model_id.substr(0, 7) == "openai/") return tokenizer::EncodingForModel(model_id.substr(7));
  return std::nullopt;
}

void OpenRouter::AddHeaders(ProviderRequest& req) const {
  req.headers.emplace_back("HTTP-Referer", "https://pai.io");
  req.headers.emplace_back("X-Title", "pai-gateway");
}

// Mock.

bool Mock::Serves(Route route) const {
  return route != Route::kMessages && route != Route::kCountTokens && route != Route::kResponses;
}

std::pair<std::string, std::string> Mock::Credential(std::string_view api_key) const {
  return {"authorization", pai::StrCat("Bearer ", api_key)};
}

absl::StatusOr<ProviderRequest> Mock::BuildRequest(const RequestContext& /*ctx*/) const {
  return absl::InternalError("the mock provider is answered in-process");
}

}  // namespace pai::gateway::adapters
