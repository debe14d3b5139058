// ToHttpRequest(): an adapter's ProviderRequest (providers/adapter.h) as the HTTP/1.1 request
// the upstream client sends. Built from scratch: no header of the agent is ever forwarded (its
// token above all), and the URL comes only from the ModelProvider.
#pragma once

#include <string_view>

#include "gateway/config/runtime.h"
#include "gateway/http/beast.h"
#include "gateway/providers/adapter.h"

namespace pai::gateway {

// ToHttpRequest() is `req` to `provider`: POST base path + req.path, the provider's host and
// credential, JSON content, `accept` text/event-stream when `stream`, the gateway's user agent,
// the request id, keep-alive, then the adapter's own headers (which may replace any of those).
inline http::request<http::string_body> ToHttpRequest(const ProviderRuntime& provider,
                                                      ProviderRequest&& req,
                                                      std::string_view request_id, bool stream) {
  const UpstreamEndpoint& ep = provider.endpoint;
  http::request<http::string_body> out{http::verb::post, ep.base_path + req.path, 11};
  out.set(http::field::host, ep.host_header);
  out.set(provider.auth_header, provider.authorization);
  out.set(http::field::content_type, "application/json");
  out.set(http::field::accept, stream ? "text/event-stream" : "application/json");
  out.set(http::field::user_agent, "pai-gateway/0.1");
  out.set("x-request-id", request_id);
  for (const auto& [name, value] : req.headers) out.set(name, value);
  out.keep_alive(true);
  out.body() = std::move(req.body);
  out.prepare_payload();
  return out;
}

}  // namespace pai::gateway
