// The admin listener's bearer token (docs/configuration.md, "Admin listener").
//
// /healthz and /readyz are always open (probes); /metrics is open unless --metrics-auth
// (scrapers); everything else (/audit, /audit/verify, /usage) needs `Authorization: Bearer
// <token>` whenever a token is configured. A token is mandatory when the admin listener is not
// on a loopback address: StartupCheck() refuses such a start.
//
// Thread safety: immutable after Load(); Allows() from any thread.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "gateway/gateway.h"

namespace pai::gateway {

class AdminAuth {
 public:
  enum class Metrics { kOpen, kProtected };

  // Load() reads the token from the first line of `path` (surrounding whitespace removed);
  // an empty `path` means no token. Errors: InvalidArgument when the file cannot be read or the
  // token is shorter than 16 characters.
  static absl::StatusOr<AdminAuth> Load(const std::string& path, Metrics metrics);

  // StartupCheck(): FailedPrecondition (one line) when the admin listener's `host` is not a
  // loopback address and no token is configured, or when --metrics-auth has no token.
  absl::Status StartupCheck(std::string_view host, bool loopback) const;

  // NeedsToken(): whether a request for `path` (without the query) must carry the token.
  bool NeedsToken(std::string_view path) const;

  // Allows(): whether `authorization` (the header value) is "Bearer <token>"; compared in
  // constant time (SHA-256 of both, CRYPTO_memcmp). Always true without a token.
  bool Allows(std::string_view authorization) const;

  bool has_token() const { return !digest_.empty(); }

  // FromOptions() loads options.admin_token_file and applies StartupCheck() to
  // options.admin_listen (a host that is not an IP address counts as non-loopback, except
  // "localhost"). The error is one line, for the start-up message.
  static absl::StatusOr<AdminAuth> FromOptions(const GatewayOptions& options);

 private:
  std::string digest_;  // SHA-256 of the token; empty: no token
  Metrics metrics_ = Metrics::kOpen;
};

}  // namespace pai::gateway
