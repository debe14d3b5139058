// PaiAccessTokens: how people and CI authenticate to pai-server (docs/api.md).
//
// A token is "pai_at_<id>_<secret>": `id` 12 lowercase hex characters (names the token:
// `tok-<id>`), `secret` 32 random bytes in unpadded base64url. It is stored as a cluster-scoped
// PaiAccessToken resource whose server-only data holds SHA-256(token) — never the plaintext.
// Comparison is constant-time. Expired (spec.expiresAt) and revoked (status.revokedAt) tokens
// are refused.
//
// Thread safety: safe from any thread (state lives in the Store).
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "server/store.h"

namespace pai::server {

// Caller: an authenticated token.
struct Caller {
  std::string token_name;  // "tok-<id>"
  std::string ns;          // target namespace, or "*" for admin
  bool admin() const { return ns == "*"; }
  // May() is true when the caller may act in namespace `ns`.
  bool May(const std::string& target_ns) const { return admin() || target_ns == ns; }
};

struct MintedAccessToken {
  Resource resource;
  std::string token;  // plaintext, shown once
};

class AccessTokens {
 public:
  explicit AccessTokens(Store& store) : store_(store) {}

  // Create(): a new token for `target_ns` (a namespace or "*"). `expires_at` is RFC 3339 or "".
  // Errors: InvalidArgument for a bad namespace or expiry.
  absl::StatusOr<MintedAccessToken> Create(const std::string& target_ns,
                                           const std::string& description,
                                           const std::string& expires_at);
  // Authenticate(): Unauthenticated when malformed, unknown, expired or revoked; Unavailable
  // when the store cannot answer (the API answers 503, not 401).
  absl::StatusOr<Caller> Authenticate(std::string_view bearer);
  // Revoke(): sets status.revokedAt (idempotent). NotFound when absent.
  absl::Status Revoke(const std::string& name);

 private:
  Store& store_;
};

// ParseBearer(): the token of an "Authorization: Bearer <token>" value ("" when absent).
std::string ParseBearer(std::string_view authorization);

}  // namespace pai::server
