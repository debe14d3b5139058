#include "gateway/providers/adapter.h"

#include "common/strings.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/providers/adapters.h"

namespace pai::gateway {

absl::StatusOr<ProviderAnswer> ProviderAdapter::ReadAnswer(const RequestContext& /*ctx*/,
                                                           std::string body) const {
  return ProviderAnswer{std::move(body), std::nullopt};
}

std::unique_ptr<ChatStreamTranslator> ProviderAdapter::MakeStreamTranslator(
    const RequestContext& /*ctx*/, int64_t /*created*/) const {
  return nullptr;
}

ProviderError ProviderAdapter::MapError(const RequestContext& ctx, int status,
                                        std::string body) const {
  ProviderError out;
  out.status = status;
  if (!body.empty() && body.front() == '{') {  // the provider's own error object, in its API
    out.body = std::move(body);
    return out;
  }
  ApiError e;
  e.http_status = status;
  e.type = status >= 500 ? "api_error" : "invalid_request_error";
  e.code = "upstream_error";
  e.message = pai::StrCat("The model provider answered HTTP ", status);
  out.body = AnthropicRoute(ctx.route) ? AnthropicErrorBody(e) : OpenAIErrorBody(e);
  return out;
}

absl::StatusOr<ProviderRequest> ProviderAdapter::BuildCount(const RequestContext& /*ctx*/,
                                                            const ModelRoute& route) const {
  return absl::UnimplementedError(
      pai::StrCat("ModelProvider ", route.provider->spec.name, " has no token count"));
}

absl::StatusOr<int64_t> ProviderAdapter::ReadCount(std::string_view /*body*/) const {
  return absl::UnimplementedError("no token count");
}

const ProviderAdapter& AdapterFor(config::ProviderKind kind) {
  static const adapters::OpenAI openai;
  static const adapters::OpenRouter openrouter;
  static const adapters::Anthropic anthropic;
  static const adapters::Gemini gemini;
  static const adapters::Mock mock;
  switch (kind) {
    case config::ProviderKind::kOpenAI:
      return openai;
    case config::ProviderKind::kOpenRouter:
      return openrouter;
    case config::ProviderKind::kAnthropic:
      return anthropic;
    case config::ProviderKind::kGemini:
      return gemini;
    case config::ProviderKind::kMock:
      return mock;
  }
  return openai;  // unreachable: every kind is listed
}

}  // namespace pai::gateway
