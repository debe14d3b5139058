// Resource bounds of the gateway's listeners (docs/configuration.md, "Connection limits"):
// how many client connections may be open (derived from the descriptor limit, keeping a reserve
// for provider sockets, files and admin connections), how many request-body bytes may be
// buffered at once across all connections (BodyBudget), and their metrics (docs/metrics.md).
//
// Thread safety: ComputeConnectionLimits() and RaiseDescriptorLimit() are plain functions;
// BodyBudget is lock-free and safe from any thread; ResourceMetrics handles are atomics.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace pai::gateway {

// ConnectionLimits: the client-connection cap, all shards together.
struct ConnectionLimits {
  size_t descriptors = 0;      // RLIMIT_NOFILE (soft) the cap was derived from
  size_t reserve = 0;          // descriptors kept free: provider sockets, files, admin
  size_t max_connections = 0;  // open client connections allowed
  bool clamped = false;        // `requested` was above what the descriptors allow
};

// RaiseDescriptorLimit() raises the soft RLIMIT_NOFILE to the hard limit (as servers do) and
// returns the resulting soft limit.
size_t RaiseDescriptorLimit();

// ComputeConnectionLimits(): reserve = max(64, descriptors / 2); the cap is descriptors -
// reserve (at least 1), or `requested` when non-zero and not above that.
ConnectionLimits ComputeConnectionLimits(size_t descriptors, size_t requested);

// ResourceMetrics: the gauges and counters of these bounds, in a registry of their own that
// /metrics serialises after the gateway's others (Serialize()).
struct ResourceMetrics {
  ResourceMetrics();
  std::string Serialize() const;  // Prometheus text format 0.0.4
  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Gauge* connections;       // pai_gateway_client_connections
  prometheus::Gauge* connections_max;   // pai_gateway_client_connections_max
  prometheus::Counter* evicted;         // pai_gateway_client_connections_evicted_total
  prometheus::Counter* refused;         // pai_gateway_client_connections_refused_total
  prometheus::Gauge* body_bytes;        // pai_gateway_request_body_buffer_bytes
  prometheus::Gauge* body_bytes_max;    // pai_gateway_request_body_buffer_bytes_max
  prometheus::Counter* body_refusals;   // pai_gateway_request_body_buffer_refusals_total
  prometheus::Counter* admin_refusals;  // pai_gateway_admin_queries_refused_total
};

// BodyBudget: request-body bytes buffered across all connections. A request takes its declared
// Content-Length (or, chunked, what has arrived) before the body is read; beyond the capacity
// it is refused. Bodies above 1 MiB may fill at most 7/8 of the capacity, so that large
// uploads cannot lock out ordinary requests.
class BodyBudget {
 public:
  BodyBudget(size_t capacity, ResourceMetrics* metrics);

  // Lease: bytes held for one request; returned when destroyed. Move-only.
  class Lease {
   public:
    Lease() = default;
    explicit Lease(BodyBudget* budget) : budget_(budget) {}
    Lease(Lease&& o) noexcept : budget_(o.budget_), bytes_(o.bytes_) { o.bytes_ = 0; }
    Lease& operator=(Lease&& o) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { Release(); }
    // GrowTo() holds `total` bytes in all (no-op when already held); false when the budget
    // cannot give the difference (nothing is taken then; the refusal is counted).
    bool GrowTo(size_t total);
    void Release();
    size_t bytes() const { return bytes_; }

   private:
    BodyBudget* budget_ = nullptr;
    size_t bytes_ = 0;
  };

  Lease NewLease() { return Lease(this); }
  size_t capacity() const { return capacity_; }
  size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }

 private:
  bool Take(size_t n, size_t request_total);
  void Give(size_t n);

  const size_t capacity_;
  ResourceMetrics* metrics_;
  std::atomic<size_t> in_use_{0};
};

}  // namespace pai::gateway
