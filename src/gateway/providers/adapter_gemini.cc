// The Gemini adapter: Gemini API reference ("generateContent", "streamGenerateContent",
// "models.countTokens", "API errors"; google.rpc.RetryInfo).
#include <boost/json/serialize.hpp>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "common/strings.h"
#include "gateway/http/errors.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/providers/adapters.h"
#include "gateway/providers/translate_gemini.h"

namespace pai::gateway::adapters {
namespace {

// RetryDelay() is the seconds of google.rpc.RetryInfo.retryDelay ("retryDelay": "1s") in an
// error body, or "".
std::string RetryDelay(std::string_view err) {
  const size_t at = err.find("\"retryDelay\"");
  const size_t colon = at == std::string_view::npos ? at : err.find(':', at);
  const size_t q = colon == std::string_view::npos ? colon : err.find('"', colon + 1);
  const size_t s_end = q == std::string_view::npos ? q : err.find('s', q + 1);
  int64_t seconds = 0;
  if (s_end != std::string_view::npos &&
      absl::SimpleAtoi(AV(err.substr(q + 1, s_end - q - 1)), &seconds)) {
    return std::to_string(seconds);
  }
  return "";
}

}  // namespace

bool Gemini::Serves(Route route) const {
  return route != Route::kEmbeddings && route != Route::kMessages && route != Route::kCountTokens;
}

std::pair<std::string, std::string> Gemini::Credential(std::string_view api_key) const {
  return {"x-goog-api-key", std::string(api_key)};  // never in the URL
}

bool Gemini::Translates(const RequestContext& ctx) const {
  return ctx.chat.has_value() || ctx.route == Route::kResponses;
}

absl::StatusOr<ProviderRequest> Gemini::BuildRequest(const RequestContext& ctx) const {
  std::string scratch;
  auto chat = ClientChatBody(ctx, &scratch);
  if (!chat.ok()) return chat.status();
  auto body = gemini::ChatToGenerateContent(*chat, {ReservedOutput(ctx, /*always=*/true)});
  if (!body.ok()) return body.status();
  ProviderRequest req;
  req.path = gemini::Path(ctx.model->model_id, ctx.stream);
  req.body = std::move(*body);
  return req;
}

absl::StatusOr<ProviderAnswer> Gemini::ReadAnswer(const RequestContext& ctx,
                                                  std::string body) const {
  return TranslatedAnswer(ctx, gemini::GenerateContentToChatCompletion(
                                   body, ctx.model->model_id, absl::ToUnixSeconds(absl::Now())));
}

std::unique_ptr<ChatStreamTranslator> Gemini::MakeStreamTranslator(const RequestContext& ctx,
                                                                   int64_t created) const {
  return std::make_unique<gemini::StreamTranslator>(ctx.model->model_id, true, created);
}

ProviderError Gemini::MapError(const RequestContext& /*ctx*/, int status, std::string body) const {
  // Google sends the delay in the body (google.rpc.RetryInfo.retryDelay, e.g. "1s"); the error
  // itself is mapped into OpenAI's shape (docs/providers.md, "Errors").
  std::string retry = RetryDelay(body);
  const ApiError e = gemini::ErrorToOpenAI(status, body);
  return ProviderError{e.http_status, OpenAIErrorBody(e), std::move(retry)};
}

absl::StatusOr<ProviderRequest> Gemini::BuildCount(const RequestContext& ctx,
                                                   const ModelRoute& route) const {
  // countTokens takes a whole GenerateContentRequest with its `model` as "models/{id}".
  std::string scratch;
  auto chat = ClientChatBody(ctx, &scratch);
  if (!chat.ok()) return chat.status();
  auto body = gemini::ChatToGenerateContent(*chat, {std::nullopt});
  if (!body.ok()) return body.status();
  auto doc = ParseObject(*body);
  if (!doc.ok()) return absl::InternalError("translated body is not a JSON object");
  (*doc)["model"] = pai::StrCat("models/", route.model_id);
  boost::json::object out;
  out["generateContentRequest"] = std::move(*doc);
  ProviderRequest req;
  req.path = pai::StrCat("/models/", route.model_id, ":countTokens");
  req.body = boost::json::serialize(out);
  return req;
}

absl::StatusOr<int64_t> Gemini::ReadCount(std::string_view body) const {
  return CountMember(body, "totalTokens");
}

}  // namespace pai::gateway::adapters
