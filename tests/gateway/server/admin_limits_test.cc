#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "gateway/server/admin_auth.h"
#include "gateway/server/conn_limits.h"

namespace pai::gateway {
namespace {

std::string WriteTemp(const std::string& text) {
  char tmpl[] = "/tmp/pai-admin-token-XXXXXX";
  const int fd = mkstemp(tmpl);
  REQUIRE(fd >= 0);
  std::ofstream(tmpl) << text;
  return tmpl;
}

TEST_CASE("admin token: probes open, audit and usage need the token, metrics by flag") {
  const std::string token = "0123456789abcdef0123456789abcdef";
  auto auth = AdminAuth::Load(WriteTemp(token + "\n"), AdminAuth::Metrics::kOpen);
  REQUIRE(auth.ok());
  CHECK_FALSE(auth->NeedsToken("/healthz"));
  CHECK_FALSE(auth->NeedsToken("/readyz"));
  CHECK_FALSE(auth->NeedsToken("/metrics"));
  CHECK(auth->NeedsToken("/audit"));
  CHECK(auth->NeedsToken("/audit/verify"));
  CHECK(auth->NeedsToken("/usage"));
  CHECK(auth->Allows("Bearer " + token));
  CHECK(auth->Allows("bearer " + token));
  CHECK_FALSE(auth->Allows(""));
  CHECK_FALSE(auth->Allows(token));
  CHECK_FALSE(auth->Allows("Bearer " + token.substr(1)));
  CHECK_FALSE(auth->Allows("Bearer " + token + "x"));
  auto strict = AdminAuth::Load(WriteTemp(token), AdminAuth::Metrics::kProtected);
  REQUIRE(strict.ok());
  CHECK(strict->NeedsToken("/metrics"));
}

TEST_CASE("admin token: short or missing token files are refused") {
  CHECK_FALSE(AdminAuth::Load(WriteTemp("short\n"), AdminAuth::Metrics::kOpen).ok());
  CHECK_FALSE(AdminAuth::Load("/nonexistent/admin-token", AdminAuth::Metrics::kOpen).ok());
}

TEST_CASE("admin listener off loopback without a token refuses to start") {
  GatewayOptions o;
  o.admin_listen = "0.0.0.0:4001";
  CHECK(AdminAuth::FromOptions(o).status().code() == absl::StatusCode::kFailedPrecondition);
  o.admin_listen = "[::]:4001";
  CHECK_FALSE(AdminAuth::FromOptions(o).ok());
  o.admin_listen = "127.0.0.1:0";
  CHECK(AdminAuth::FromOptions(o).ok());
  o.admin_listen = "[::1]:4001";
  CHECK(AdminAuth::FromOptions(o).ok());
  o.admin_listen = "localhost:4001";
  CHECK(AdminAuth::FromOptions(o).ok());
  o.metrics_auth = true;
  CHECK_FALSE(AdminAuth::FromOptions(o).ok());  // --metrics-auth without a token
  o.admin_listen = "0.0.0.0:4001";
  o.admin_token_file = WriteTemp("0123456789abcdef0123\n");
  CHECK(AdminAuth::FromOptions(o).ok());
}

TEST_CASE("connection cap keeps a descriptor reserve") {
  const ConnectionLimits small = ComputeConnectionLimits(128, 0);
  CHECK(small.reserve == 64);
  CHECK(small.max_connections == 64);
  const ConnectionLimits big = ComputeConnectionLimits(1 << 20, 0);
  CHECK(big.reserve == (1 << 19));
  CHECK(ComputeConnectionLimits(1024, 100).max_connections == 100);
  const ConnectionLimits clamped = ComputeConnectionLimits(1024, 5000);
  CHECK(clamped.clamped);
  CHECK(clamped.max_connections == 512);
}

TEST_CASE("body budget refuses what does not fit and returns leases") {
  ResourceMetrics metrics;
  BodyBudget budget(64u << 20, &metrics);
  {
    auto a = budget.NewLease();
    CHECK(a.GrowTo(32u << 20));
    auto b = budget.NewLease();
    CHECK(b.GrowTo(24u << 20));  // 56 MiB: at 7/8 of 64 MiB, the most large bodies may take
    auto c = budget.NewLease();
    CHECK_FALSE(c.GrowTo(2u << 20));  // large: beyond 7/8
    CHECK(c.GrowTo(100 << 10));       // small: may use the rest
    CHECK(metrics.body_refusals->Value() == 1);
    CHECK(budget.in_use() == (56u << 20) + (100 << 10));
  }
  CHECK(budget.in_use() == 0);
  CHECK(metrics.body_bytes->Value() == 0);
}

}  // namespace
}  // namespace pai::gateway
