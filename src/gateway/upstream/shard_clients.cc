// A shard's calls besides the agent's own: http guard classifiers (ClassifierTransport) and
// provider token counts (InputCounter), each on a pool of its own.

#include "absl/strings/str_replace.h"
#include "common/strings.h"
#include "gateway/providers/adapter.h"
#include "gateway/server/proxy_internal.h"
#include "gateway/server/server_impl.h"
#include "gateway/upstream/provider_request.h"

namespace pai::gateway {

Task<absl::StatusOr<std::string>> ShardClassifierClient::Post(const GuardBindingRuntime& binding,
                                                              std::string body) {
  const int64_t timeout_ms = binding.spec.classifier.timeout_ms;
  auto& pool = pools_[timeout_ms];
  if (!pool) {
    const std::chrono::milliseconds t{timeout_ms};
    pool = std::make_unique<UpstreamPool>(ex_, tls_ctx_, UpstreamTimeouts{t, t, t}, nullptr);
  }
  const UpstreamEndpoint& ep = binding.endpoint;
  RequestHeadBuilder head("POST", ep.base_path);
  head.Field("Host", ep.host_header);
  if (!binding.authorization.empty()) head.Field("Authorization", binding.authorization);
  head.Field("Content-Type", "application/json");
  head.Field("Accept", "application/json");
  head.Field("User-Agent", "pai-gateway/0.1");
  UpstreamRequest req = std::move(head).Finish(std::move(body));
  // The upstream client words its errors for model providers; here the peer is a classifier.
  auto reword = [](const absl::Status& s) {
    return absl::Status(s.code(),
                        absl::StrReplaceAll(s.message(), {{"The model provider", "The classifier"},
                                                          {"model provider", "classifier"}}));
  };
  auto started = co_await UpstreamCall::Start(*pool, ep, std::move(req));
  if (!started.ok()) co_return reword(started.status());
  std::unique_ptr<UpstreamCall> call = std::move(*started);
  const int status = call->status();
  auto text = co_await call->ReadAll(1u << 20);
  if (!text.ok()) co_return reword(text.status());
  if (status < 200 || status >= 300) {
    co_return absl::UnavailableError(pai::StrCat("classifier answered HTTP ", status));
  }
  co_return std::move(*text);
}

Task<absl::StatusOr<int64_t>> ShardInputCounter::CountInput(const RequestContext& ctx,
                                                            const ModelRoute& route) {
  const ProviderRuntime& provider = *route.provider;
  const ProviderAdapter& adapter = *provider.adapter;
  auto count = adapter.BuildCount(ctx, route);
  if (!count.ok()) co_return count.status();
  UpstreamRequest req = ToHttpRequest(provider, std::move(*count), ctx.request_id,
                                      /*stream=*/false);
  const UpstreamEndpoint& ep = provider.endpoint;
  // One deadline for the whole count (connect, a stale-connection retry, the answer): the
  // request's slot is held meanwhile.
  const auto deadline = Clock::now() + kCountTimeout;
  CancelSlot slot;
  SteadyTimer timer(co_await net::this_coro::executor, deadline);
  timer.async_wait([&slot](beast::error_code ec) {
    if (!ec) slot.Cancel();  // on operation_aborted (the count ended first) `slot` is not used
  });
  auto started = co_await UpstreamCall::Start(pool_, ep, std::move(req), &slot);
  if (!started.ok()) {
    co_return slot.cancelled ? absl::DeadlineExceededError("the provider's token count timed out")
                             : started.status();
  }
  std::unique_ptr<UpstreamCall> call = std::move(*started);
  call->set_deadline(deadline);
  const int status = call->status();
  auto text = co_await call->ReadAll(size_t{64} * 1024);
  if (!text.ok()) co_return text.status();
  if (status < 200 || status >= 300) {
    co_return absl::UnavailableError(pai::StrCat("ModelProvider ", provider.spec.name,
                                                 " answered HTTP ", status, " to the token count"));
  }
  auto n = adapter.ReadCount(*text);
  if (!n.ok()) {
    co_return absl::UnavailableError(pai::StrCat("ModelProvider ", provider.spec.name,
                                                 " answered the token count without a count"));
  }
  co_return *n;
}

}  // namespace pai::gateway
