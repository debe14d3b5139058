// ToHttpRequest(): an adapter's ProviderRequest (providers/adapter.h) as the HTTP/1.1 request
// the upstream client sends. Built from scratch: no header of the agent is ever forwarded (its
// token above all), and the URL comes only from the ModelProvider.
#pragma once

#include <string_view>

#include "gateway/config/runtime.h"
#include "gateway/providers/adapter.h"
#include "gateway/upstream/upstream.h"

namespace pai::gateway {

// ToHttpRequest() is `req` to `provider`: POST base path + req.path, the provider's host and
// credential, JSON content, `accept` text/event-stream when `stream`, the gateway's user agent,
// the request id, then the adapter's own headers (one of which replaces a default of the same
// name), then the body's Content-Length. HTTP/1.1 keeps the connection alive by default.
inline UpstreamRequest ToHttpRequest(const ProviderRuntime& provider, ProviderRequest&& req,
                                     std::string_view request_id, bool stream) {
  const UpstreamEndpoint& ep = provider.endpoint;
  RequestHeadBuilder head("POST", ep.base_path + req.path);
  const auto field = [&](std::string_view name, std::string_view value) {
    for (const auto& [n, v] : req.headers) {
      if (beast::iequals(n, beast::string_view(name.data(), name.size()))) return;  // adapter wins
    }
    head.Field(name, value);
  };
  field("Host", ep.host_header);
  field(provider.auth_header, provider.authorization);
  field("Content-Type", "application/json");
  field("Accept", stream ? "text/event-stream" : "application/json");
  field("User-Agent", "pai-gateway/0.1");
  field("x-request-id", request_id);
  for (const auto& [name, value] : req.headers) head.Field(name, value);
  return std::move(head).Finish(std::move(req.body));
}

}  // namespace pai::gateway
