#include "gateway/server/conn_limits.h"

#include <prometheus/text_serializer.h>
#include <sys/resource.h>

#include <algorithm>

namespace pai::gateway {

size_t RaiseDescriptorLimit() {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    struct rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  if (rl.rlim_cur == RLIM_INFINITY) return size_t{1} << 20;
  return static_cast<size_t>(rl.rlim_cur);
}

ConnectionLimits ComputeConnectionLimits(size_t descriptors, size_t requested) {
  ConnectionLimits l;
  l.descriptors = descriptors;
  // Half: every active client connection may hold one provider socket of its own.
  l.reserve = std::max<size_t>(64, descriptors / 2);
  const size_t allowed = descriptors > l.reserve ? descriptors - l.reserve : 1;
  l.max_connections = allowed;
  if (requested > 0) {
    l.clamped = requested > allowed;
    l.max_connections = std::min(requested, allowed);
  }
  return l;
}

ResourceMetrics::ResourceMetrics() : registry(std::make_shared<prometheus::Registry>()) {
  auto gauge = [&](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(*registry).Add({});
  };
  auto counter = [&](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(*registry).Add({});
  };
  connections = gauge("pai_gateway_client_connections", "Open agent-facing client connections.");
  connections_max =
      gauge("pai_gateway_client_connections_max",
            "The client-connection cap (--max-connections, or derived from RLIMIT_NOFILE).");
  evicted =
      counter("pai_gateway_client_connections_evicted_total",
              "Idle client connections (agent or admin listener) closed to make room for a new one "
              "at the cap.");
  refused = counter("pai_gateway_client_connections_refused_total",
                    "Client connections closed at once: at the cap with no idle one to evict.");
  body_bytes = gauge("pai_gateway_request_body_buffer_bytes",
                     "Request-body bytes held by requests in flight (declared or received).");
  body_bytes_max = gauge("pai_gateway_request_body_buffer_bytes_max",
                         "The request-body budget (--max-buffered-body-bytes).");
  body_refusals = counter("pai_gateway_request_body_buffer_refusals_total",
                          "Requests refused with 503 because the request-body budget was full.");
  admin_refusals = counter("pai_gateway_admin_queries_refused_total",
                           "/audit and /audit/verify queries refused with 503: the audit query "
                           "worker's queue was full.");
}

std::string ResourceMetrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry->Collect());
}

BodyBudget::BodyBudget(size_t capacity, ResourceMetrics* metrics)
    : capacity_(capacity), metrics_(metrics) {
  if (metrics_) metrics_->body_bytes_max->Set(static_cast<double>(capacity_));
}

bool BodyBudget::Take(size_t n, size_t request_total) {
  constexpr size_t kLarge = 1u << 20;
  const size_t limit = request_total > kLarge ? capacity_ - capacity_ / 8 : capacity_;
  size_t cur = in_use_.load(std::memory_order_relaxed);
  do {
    if (n > limit || cur > limit - n) {
      if (metrics_) metrics_->body_refusals->Increment();
      return false;
    }
  } while (!in_use_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
  if (metrics_) metrics_->body_bytes->Increment(static_cast<double>(n));
  return true;
}

void BodyBudget::Give(size_t n) {
  in_use_.fetch_sub(n, std::memory_order_relaxed);
  if (metrics_) metrics_->body_bytes->Decrement(static_cast<double>(n));
}

BodyBudget::Lease& BodyBudget::Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    Release();
    budget_ = o.budget_;
    bytes_ = o.bytes_;
    o.bytes_ = 0;
  }
  return *this;
}

bool BodyBudget::Lease::GrowTo(size_t total) {
  if (total <= bytes_ || !budget_) return true;
  if (!budget_->Take(total - bytes_, total)) return false;
  bytes_ = total;
  return true;
}

void BodyBudget::Lease::Release() {
  if (budget_ && bytes_ > 0) budget_->Give(bytes_);
  bytes_ = 0;
}

}  // namespace pai::gateway
