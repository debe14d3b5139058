// The Anthropic adapter: Messages API reference ("Messages", "Count tokens in a Message",
// "Versions", "Beta headers", "Errors").
#include <boost/json/serialize.hpp>

#include "absl/time/clock.h"
#include "gateway/http/errors.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/providers/adapters.h"
#include "gateway/providers/native_request.h"
#include "gateway/providers/translate_anthropic.h"

namespace pai::gateway::adapters {
namespace {

constexpr std::string_view kDefaultVersion = "2023-06-01";

// AddVersionHeaders(): on the Anthropic routes the client's API version and beta flags (betas
// change what is answered and counted, e.g. tool types); else 2023-06-01 and no beta.
void AddVersionHeaders(const RequestContext& ctx, ProviderRequest& req) {
  const bool native = AnthropicRoute(ctx.route);
  req.headers.emplace_back("anthropic-version", native && !ctx.anthropic_version.empty()
                                                    ? ctx.anthropic_version
                                                    : kDefaultVersion);
  if (native && !ctx.anthropic_beta.empty()) {
    req.headers.emplace_back("anthropic-beta", ctx.anthropic_beta);
  }
}

}  // namespace

bool Anthropic::Serves(Route route) const { return route != Route::kEmbeddings; }

std::pair<std::string, std::string> Anthropic::Credential(std::string_view api_key) const {
  return {"x-api-key", std::string(api_key)};
}

bool Anthropic::Translates(const RequestContext& ctx) const {
  return ctx.chat.has_value() || ctx.route == Route::kResponses;
}

absl::StatusOr<ProviderRequest> Anthropic::BuildRequest(const RequestContext& ctx) const {
  ProviderRequest req;
  req.path = "/messages";
  if (Translates(ctx)) {
    std::string scratch;
    auto chat = ClientChatBody(ctx, &scratch);
    if (!chat.ok()) return chat.status();
    auto body = anthropic::ChatToMessages(
        *chat, {ctx.model->model_id, ReservedOutput(ctx, /*always=*/true)});
    if (!body.ok()) return body.status();
    req.body = std::move(*body);
  } else {  // the Messages routes: the client's body, model and output cap set
    const bool count = ctx.route == Route::kCountTokens;
    if (count) req.path = "/messages/count_tokens";
    auto body = RewriteNativeBody(*ctx.native->doc, ctx.model->model_id, count ? "" : "max_tokens",
                                  ReservedOutput(ctx, false));
    if (!body.ok()) return body.status();
    req.body = std::move(*body);
  }
  AddVersionHeaders(ctx, req);
  return req;
}

absl::StatusOr<ProviderAnswer> Anthropic::ReadAnswer(const RequestContext& ctx,
                                                     std::string body) const {
  if (!Translates(ctx)) return ProviderAnswer{std::move(body), std::nullopt};
  return TranslatedAnswer(ctx, anthropic::MessageToChatCompletion(
                                   body, ctx.model->model_id, absl::ToUnixSeconds(absl::Now())));
}

std::unique_ptr<ChatStreamTranslator> Anthropic::MakeStreamTranslator(const RequestContext& ctx,
                                                                      int64_t created) const {
  if (!Translates(ctx)) return nullptr;
  return std::make_unique<anthropic::StreamTranslator>(ctx.model->model_id, true, created);
}

ProviderError Anthropic::MapError(const RequestContext& ctx, int status, std::string body) const {
  if (!Translates(ctx)) return ProviderAdapter::MapError(ctx, status, std::move(body));
  // The provider's own error shape, mapped into OpenAI's (docs/providers.md, "Errors").
  const ApiError e = anthropic::ErrorToOpenAI(status, body);
  return ProviderError{e.http_status, OpenAIErrorBody(e), ""};
}

absl::StatusOr<ProviderRequest> Anthropic::BuildCount(const RequestContext& ctx,
                                                      const ModelRoute& route) const {
  // count_tokens takes the prompt members of a Messages request (model, messages, system,
  // tools, tool_choice, thinking, mcp_servers).
  boost::json::object doc;
  if (ctx.route == Route::kMessages && ctx.native) {
    doc = *ctx.native->doc;  // the client's own Messages request
  } else {
    std::string scratch;
    auto chat = ClientChatBody(ctx, &scratch);
    if (!chat.ok()) return chat.status();
    auto body = anthropic::ChatToMessages(*chat, {route.model_id, std::nullopt});
    if (!body.ok()) return body.status();
    auto parsed = ParseObject(*body);
    if (!parsed.ok()) return absl::InternalError("translated body is not a JSON object");
    doc = std::move(*parsed);
  }
  boost::json::object out;
  for (const std::string_view key :
       {"messages", "system", "tools", "tool_choice", "thinking", "mcp_servers"}) {
    if (const boost::json::value* v = doc.if_contains(key)) out[key] = *v;
  }
  out["model"] = route.model_id;
  ProviderRequest req;
  req.path = "/messages/count_tokens";
  req.body = boost::json::serialize(out);
  // The headers the call itself will carry: a beta the call does not send must not lower the
  // count.
  AddVersionHeaders(ctx, req);
  return req;
}

absl::StatusOr<int64_t> Anthropic::ReadCount(std::string_view body) const {
  return CountMember(body, "input_tokens");
}

}  // namespace pai::gateway::adapters
