// The in-process mock provider's answers (providers/mock_provider.h): chat completions, streamed
// or not, and embeddings — through the same relay, guards, accounting and audit as a provider's.
#include "common/strings.h"
#include "gateway/http/errors.h"
#include "gateway/providers/mock_provider.h"
#include "gateway/providers/openai_request.h"
#include "gateway/relay/stream_relay.h"
#include "gateway/server/proxy_internal.h"
#include "gateway/server/server_impl.h"

namespace pai::gateway {

Task<absl::Status> GatewayImpl::AnswerMockChat(ClientConn* conn, RequestContext* ctx) {
  const ModelRoute& model = *ctx->model;
  const ChatCompletionRequest& chat = *ctx->chat;
  // The mock answers in-process but through the same relay and accounting as a provider, and
  // honours the output limit like one.
  const auto t0 = Clock::now();
  const std::optional<int64_t> max_output =
      ctx->reservation ? ctx->reservation->output_limit : std::nullopt;
  if (!chat.stream) {
    std::string body =
        MockChatCompletion(chat, *ctx->body, model.model_id, ctx->request_id, max_output);
    ChatAnswer read = ReadChatAnswer(body, ctx->agent->scans_responses).value_or(ChatAnswer{});
    ctx->usage = read.usage;
    ctx->tool_calls = std::move(read.tool_calls);
    ctx->upstream_seconds = Seconds(Clock::now() - t0);
    ctx->response_bytes = static_cast<int64_t>(body.size());
    if (absl::Status g = co_await ScanChatResponse(ctx, std::move(read.contents)); !g.ok()) {
      co_return g;
    }
    auto res = JsonReply(*conn, *ctx, 200, std::move(body));
    if (!co_await BeforeSuccess(conn, ctx)) co_return NotAudited();
    auto ec = co_await WriteReply(conn, ctx, res, options_.body_timeout);
    if (ec) ctx->reply.close = true;
  } else {
    const std::string events = MockChatStream(chat, *ctx->body, model.model_id, ctx->request_id,
                                              /*include_usage=*/true, max_output);
    ChatStreamRelay relay(chat.client_include_usage);
    if (ctx->agent->scans_responses) relay.CollectContent();
    std::string out;
    relay.Process(events, out);
    ctx->usage = relay.usage();
    ctx->tool_calls = relay.tool_calls();
    ScrubForRecords(*ctx, nullptr, &ctx->tool_calls);
    ctx->upstream_seconds = Seconds(Clock::now() - t0);
    ctx->response_bytes = static_cast<int64_t>(out.size());
    ChunkWriter w{conn, options_.body_timeout, ctx};
    ctx->reply.status = 200;
    beast::error_code ec = co_await w.Header();
    if (!ec) ec = co_await w.Body(out);
    out.clear();
    co_await ScanStreamedResponse(ctx, relay);  // audit-only: the client has it already
    if (co_await BeforeSuccess(conn, ctx)) {    // before the client sees [DONE]
      relay.Finish(out);
    } else {
      const ApiError e = ToApiError(NotAudited());
      ctx->reply.status = e.http_status;
      ctx->error_code = e.code;
      pai::StrAppend(&out, "data: ", OpenAIErrorBody(e), "\n\n");  // the body still ends properly
    }
    if (!ec) ec = co_await w.Body(out);
    if (!ec) ec = co_await w.End();
    if (ec) ctx->reply.close = true;
  }
  model.metrics.calls->Increment();
  model.metrics.input_tokens->Increment(static_cast<double>(ctx->usage.prompt_tokens));
  model.metrics.output_tokens->Increment(static_cast<double>(ctx->usage.completion_tokens));
  co_return absl::OkStatus();
}

Task<absl::Status> GatewayImpl::AnswerMockEmbeddings(ClientConn* conn, RequestContext* ctx) {
  const ModelRoute& model = *ctx->model;
  std::string body = MockEmbeddings(model.model_id, ctx->body->size());
  ctx->usage = ExtractUsage(body);
  ctx->upstream_seconds = 0;
  ctx->response_bytes = static_cast<int64_t>(body.size());
  model.metrics.calls->Increment();
  model.metrics.input_tokens->Increment(static_cast<double>(ctx->usage.prompt_tokens));
  auto res = JsonReply(*conn, *ctx, 200, std::move(body));
  if (!co_await BeforeSuccess(conn, ctx)) co_return NotAudited();
  co_await WriteReply(conn, ctx, res, options_.body_timeout);
  co_return absl::OkStatus();
}

}  // namespace pai::gateway
