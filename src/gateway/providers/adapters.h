// The provider adapters, one class per ModelProvider kind (adapter.h says what each member
// does). Internal to pai_gateway: the request path reaches them through AdapterFor().
#pragma once

#include <string>
#include <string_view>

#include "gateway/providers/adapter.h"

namespace pai::gateway::adapters {

// OpenAI: the client's body, its model and output limit spliced (chat, embeddings) or
// rewritten (Responses), in OpenAI's own API.
class OpenAI : public ProviderAdapter {
 public:
  config::ProviderKind kind() const override { return config::ProviderKind::kOpenAI; }
  bool Serves(Route route) const override;
  std::pair<std::string, std::string> Credential(std::string_view api_key) const override;
  std::optional<tokenizer::EncodingId> InputEncoding(std::string_view model_id) const override;
  absl::StatusOr<ProviderRequest> BuildRequest(const RequestContext& ctx) const override;

 protected:
  // output_field(): the member an imposed output limit is inserted as. OpenAI deprecated
  // max_tokens for max_completion_tokens (reasoning models reject the old name); other
  // OpenAI-compatible servers mostly know only max_tokens.
  virtual std::string_view output_field() const { return "max_completion_tokens"; }
  // AddHeaders(): the provider's own request headers.
  virtual void AddHeaders(ProviderRequest& /*req*/) const {}
};

// OpenRouter: OpenAI's API (chat and embeddings; no Responses), models named
// "<vendor>/<model>", app attribution headers (openrouter.ai/docs, "API reference").
class OpenRouter : public OpenAI {
 public:
  config::ProviderKind kind() const override { return config::ProviderKind::kOpenRouter; }
  bool Serves(Route route) const override;
  std::optional<tokenizer::EncodingId> InputEncoding(std::string_view model_id) const override;

 protected:
  std::string_view output_field() const override { return "max_tokens"; }
  void AddHeaders(ProviderRequest& req) const override;
};

// Anthropic: the Messages routes in Anthropic's own API (the client's body, model and output
// limit rewritten); chat and Responses translated into a Messages request and back.
class Anthropic : public ProviderAdapter {
 public:
  config::ProviderKind kind() const override { return config::ProviderKind::kAnthropic; }
  bool Serves(Route route) const override;
  std::pair<std::string, std::string> Credential(std::string_view api_key) const override;
  std::optional<tokenizer::EncodingId> InputEncoding(std::string_view) const override {
    return std::nullopt;  // not public: the count endpoint is asked (docs/budgets.md)
  }
  bool Translates(const RequestContext& ctx) const override;
  absl::StatusOr<ProviderRequest> BuildRequest(const RequestContext& ctx) const override;
  absl::StatusOr<ProviderAnswer> ReadAnswer(const RequestContext& ctx,
                                            std::string body) const override;
  std::unique_ptr<ChatStreamTranslator> MakeStreamTranslator(const RequestContext& ctx,
                                                             int64_t created) const override;
  ProviderError MapError(const RequestContext& ctx, int status, std::string body) const override;
  bool CountsTokens() const override { return true; }
  absl::StatusOr<ProviderRequest> BuildCount(const RequestContext& ctx,
                                             const ModelRoute& route) const override;
  absl::StatusOr<int64_t> ReadCount(std::string_view body) const override;
};

// Gemini: chat and Responses translated into a GenerateContentRequest and back.
class Gemini : public ProviderAdapter {
 public:
  config::ProviderKind kind() const override { return config::ProviderKind::kGemini; }
  bool Serves(Route route) const override;
  std::pair<std::string, std::string> Credential(std::string_view api_key) const override;
  std::optional<tokenizer::EncodingId> InputEncoding(std::string_view) const override {
    return std::nullopt;  // not public: the count endpoint is asked (docs/budgets.md)
  }
  bool Translates(const RequestContext& ctx) const override;
  absl::StatusOr<ProviderRequest> BuildRequest(const RequestContext& ctx) const override;
  absl::StatusOr<ProviderAnswer> ReadAnswer(const RequestContext& ctx,
                                            std::string body) const override;
  std::unique_ptr<ChatStreamTranslator> MakeStreamTranslator(const RequestContext& ctx,
                                                             int64_t created) const override;
  ProviderError MapError(const RequestContext& ctx, int status, std::string body) const override;
  bool CountsTokens() const override { return true; }
  absl::StatusOr<ProviderRequest> BuildCount(const RequestContext& ctx,
                                             const ModelRoute& route) const override;
  absl::StatusOr<int64_t> ReadCount(std::string_view body) const override;
};

// Mock: answered in-process (mock_provider.h) for offline use and tests; chat and embeddings,
// counted with o200k_base.
class Mock : public ProviderAdapter {
 public:
  config::ProviderKind kind() const override { return config::ProviderKind::kMock; }
  bool Serves(Route route) const override;
  bool in_process() const override { return true; }
  std::pair<std::string, std::string> Credential(std::string_view api_key) const override;
  std::optional<tokenizer::EncodingId> InputEncoding(std::string_view) const override {
    return tokenizer::EncodingId::kO200kBase;
  }
  absl::StatusOr<ProviderRequest> BuildRequest(const RequestContext& ctx) const override;
};

// ClientChatBody() is ctx's request as a chat completion body: the client's own, or its
// Responses request translated (translate_responses.h). `scratch` holds a translation.
// Errors: InvalidArgument (400) for what chat cannot express.
absl::StatusOr<std::string_view> ClientChatBody(const RequestContext& ctx, std::string* scratch);

// ReservedOutput() is the output limit the reservation of ctx imposes on the provider, or
// nullopt. `always`: the reserved output even where the client's own limit is kept (the
// translations always write one).
std::optional<int64_t> ReservedOutput(const RequestContext& ctx, bool always);

// TranslatedAnswer() is a translated chat.completion (`chat`, from the provider's answer) in
// the client's API: as it is on the chat route, a Response on /v1/responses (with the usage
// read before, since a Response's usage has no field for cache writes). Errors: Unavailable
// (502 upstream_error) when `chat` failed or cannot be turned into a Response.
absl::StatusOr<ProviderAnswer> TranslatedAnswer(const RequestContext& ctx,
                                                absl::StatusOr<std::string> chat);

// CountMember() is the non-negative integer member `key` of a token-count answer `body`.
// Errors: Unavailable (no such count in it).
absl::StatusOr<int64_t> CountMember(std::string_view body, std::string_view key);

// ParseObject() parses a JSON object (Boost.JSON). Errors: InvalidArgument.
absl::StatusOr<boost::json::object> ParseObject(std::string_view text);

}  // namespace pai::gateway::adapters
