#include "gateway/config/runtime.h"

#include <atomic>
#include <boost/url/parse.hpp>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "gateway/http/errors.h"
#include "gateway/providers/adapter.h"
#include "gateway/stages/input_tokens.h"
#include "guard/builtin_classifier.h"

namespace pai::gateway {
namespace {
std::atomic<uint64_t> g_generation{0};

// PriceFor(): the ModelProvider's spec.pricing entry for the model, else the price table.
std::optional<budget::Price> PriceFor(const config::ModelProvider& p, const std::string& model) {
  const auto table = budget::PriceTable::Default().Find(config::ProviderKindName(p.kind), model);
  auto it = p.pricing.find(model);
  if (it == p.pricing.end()) return table;
  auto price = budget::PriceFromFields(it->second.fields, "spec.pricing");  // validated at load
  if (!price.ok()) return table;
  if (price->max_output == 0 && table) price->max_output = table->max_output;
  if (price->max_input == 0 && table) price->max_input = table->max_input;
  return *price;
}

}  // namespace

absl::StatusOr<UpstreamEndpoint> ParseEndpoint(std::string_view base_url) {
  auto url = boost::urls::parse_absolute_uri(base_url);
  if (!url) return absl::InvalidArgumentError(pai::StrCat("invalid URL \"", base_url, "\""));
  UpstreamEndpoint ep;
  if (url->scheme() == "https") {
    ep.tls = true;
  } else if (url->scheme() != "http") {
    return absl::InvalidArgumentError("URL scheme must be http or https");
  }
  ep.host = url->encoded_host_address();  // IPv6 literal without brackets
  if (ep.host.empty()) return absl::InvalidArgumentError("URL has no host");
  const std::string default_port = ep.tls ? "443" : "80";
  ep.port = url->has_port() && !url->port().empty() ? std::string(url->port()) : default_port;
  ep.base_path = url->encoded_path();
  while (!ep.base_path.empty() && ep.base_path.back() == '/') ep.base_path.pop_back();
  const std::string host_for_header =
      ep.host.find(':') != std::string::npos ? pai::StrCat("[", ep.host, "]") : ep.host;
  ep.host_header =
      ep.port == default_port ? host_for_header : pai::StrCat(host_for_header, ":", ep.port);
  ep.pool_key = pai::StrCat(url->scheme(), "://", host_for_header, ":", ep.port);
  return ep;
}

absl::StatusOr<std::shared_ptr<const RuntimeConfig>> RuntimeConfig::Build(config::Config config,
                                                                          Metrics& metrics) {
  auto rt = std::make_shared<RuntimeConfig>();
  rt->generation_ = ++g_generation;
  for (const auto& [name, spec] : config.providers) {
    ProviderRuntime p;
    p.spec = spec;
    p.adapter = &AdapterFor(spec.kind);
    // Provider daily caps are per ModelProvider; outside "default" the namespace is part of the
    // scope so that two tenants' providers of the same name never share a cap.
    p.budget_scope = spec.ns == "default" ? spec.name : spec.Key();
    if (spec.kind != config::ProviderKind::kMock) {
      auto ep = ParseEndpoint(spec.base_url);
      if (!ep.ok()) {
        return absl::InvalidArgumentError(
            pai::StrCat("ModelProvider ", name, ": spec.baseURL: ", ep.status().message()));
      }
      p.endpoint = std::move(*ep);
      p.endpoint.label = pai::StrCat("ModelProvider ", name);
      std::tie(p.auth_header, p.authorization) = p.adapter->Credential(spec.api_key);
    }
    rt->providers_.emplace(name, std::move(p));
  }
  for (const auto& [name, spec] : config.guard_bindings) {
    GuardBindingRuntime b;
    b.spec = spec;
    if (spec.classifier.type == config::GuardClassifier::Type::kHttp) {
      auto ep = ParseEndpoint(spec.classifier.url);
      if (!ep.ok()) {
        return absl::InvalidArgumentError(
            pai::StrCat("GuardBinding ", name, ": spec.classifier.url: ", ep.status().message()));
      }
      b.endpoint = std::move(*ep);
      b.endpoint.label = pai::StrCat("GuardBinding ", name);
      if (b.endpoint.base_path.empty()) b.endpoint.base_path = "/";
      if (!spec.classifier.api_key.empty()) {
        b.authorization = pai::StrCat("Bearer ", spec.classifier.api_key);
      }
    } else {
      (void)guard::BuiltinClassifier::Shared();  // compile the rules now, not on a request
    }
    b.metrics = metrics.GuardMetricsFor(spec.name, b.classifier_name());
    rt->guard_bindings_.emplace(name, std::move(b));
  }
  // Every key the gateway injects is scrubbed from what providers answer (scrub.h).
  std::vector<std::string> keys;
  for (const auto& [name, spec] : config.providers) keys.push_back(spec.api_key);
  for (const auto& [name, spec] : config.guard_bindings) keys.push_back(spec.classifier.api_key);
  rt->scrubber_ = std::make_unique<KeyScrubber>(keys);
  for (const auto& [key, spec] : config.agents) {
    AgentRuntime a;
    for (const config::AgentGuard& g : spec.guards) {
      const GuardBindingRuntime* binding =
          config::FindScoped(rt->guard_bindings_, spec.ns, g.binding);
      if (!binding) {
        return absl::InvalidArgumentError(
            pai::StrCat("Agent ", key, ": GuardBinding ", g.binding, " not found"));
      }
      AgentGuardRuntime ag;
      ag.binding = binding;
      ag.prompts = g.prompts;
      ag.responses = g.responses;
      for (const std::string& t : g.tool_results) {
        if (t == "*") {
          ag.all_tools = true;
        } else {
          ag.tools.push_back(t);
        }
      }
      ag.enforce = binding->spec.enforcement == config::GuardEnforcement::kEnforce ||
                   (g.enforcement && *g.enforcement == config::GuardEnforcement::kEnforce);
      a.scans_responses = a.scans_responses || ag.responses;
      a.guards.push_back(std::move(ag));
    }
    a.spec = spec;
    a.key = spec.Key();
    a.limits.tokens_per_day = spec.tokens.max_per_day;
    a.limits.tokens_per_request = spec.tokens.max_per_request;
    a.limits.requests_per_minute = spec.rate_limits.max_requests_per_minute;
    a.limits.concurrent_requests = spec.rate_limits.max_concurrent_requests;
    a.limits.nano_usd_per_day = static_cast<int64_t>(spec.rate_limits.max_cost_per_day_usd * 1e9);
    a.metrics = metrics.AgentMetricsFor(spec.ns, spec.name, a.limits.tokens_per_day,
                                        a.limits.nano_usd_per_day);
    for (const std::string& ref : spec.models) {
      std::string_view prov, model;
      config::SplitModelRef(ref, &prov, &model);
      ModelRoute route;
      route.ref = ref;
      route.model_id = std::string(model);
      const ProviderRuntime* provider = config::FindScoped(rt->providers_, spec.ns, prov);
      route.index = a.models.size();
      if (provider) {
        route.provider = provider;
        route.price = PriceFor(provider->spec, route.model_id);
      }
      route.metrics = metrics.ModelMetricsFor(spec.ns, spec.name, ref, prov);
      a.models.push_back(std::move(route));
    }
    rt->agents_.emplace(key, std::move(a));
  }
  // Parse the rank tables the budgeted routes will count with (input_tokens.h) now, once per
  // process (~0.1 s), so that no request pays for it.
  for (const auto& [key, agent] : rt->agents_) {
    const budget::AgentLimits& lim = agent.limits;
    const bool budgeted =
        lim.tokens_per_day > 0 || lim.nano_usd_per_day > 0 || lim.tokens_per_request > 0;
    for (const ModelRoute& route : agent.models) {
      if (!route.provider || !(budgeted || route.provider->spec.max_tokens_day > 0)) continue;
      if (auto id = EncodingFor(route.provider->spec.kind, route.model_id)) {
        tokenizer::Encoding::Get(*id);
      }
    }
  }
  rt->config_ = std::move(config);
  return std::shared_ptr<const RuntimeConfig>(std::move(rt));
}

const AgentRuntime* RuntimeConfig::FindAgent(std::string_view key) const {
  auto it = agents_.find(AV(key));
  return it == agents_.end() ? nullptr : &it->second;
}

absl::StatusOr<const ModelRoute*> RuntimeConfig::ResolveModel(const AgentRuntime& agent,
                                                              std::string_view requested) const {
  const ModelRoute* found = nullptr;
  for (const ModelRoute& r : agent.models) {
    if (r.ref == requested) {
      found = &r;
      break;
    }
  }
  if (!found) {
    std::string_view prov, model;
    if (config::SplitModelRef(requested, &prov, &model) &&
        config::FindScoped(providers_, agent.spec.ns, prov)) {
      return MakeError(
          absl::StatusCode::kPermissionDenied,
          pai::StrCat("agent ", agent.spec.Key(), " may not call model \"", requested, "\""),
          "model_not_allowed", "model");
    }
    for (const ModelRoute& r : agent.models) {
      if (r.model_id == requested) {
        found = &r;
        break;
      }
    }
  }
  if (!found || !found->provider) {
    return MakeError(absl::StatusCode::kNotFound,
                     pai::StrCat("The model \"", requested, "\" does not exist"), "model_not_found",
                     "model");
  }
  return found;
}

}  // namespace pai::gateway
