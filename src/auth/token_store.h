// Agent tokens: how an agent proves who it is to the gateway.
//
// A token looks like "pai_<id>_<secret>": `id` is 12 lowercase hex characters (not secret; it
// names the token for listing and revocation), `secret` is 32 random bytes in unpadded
// base64url. Only SHA-256(token) is stored, in "<state-dir>/tokens.json"; the plaintext is
// printed once, at minting. Tokens carry 256 bits of entropy, so a plain SHA-256 (not a slow
// password hash) is what GitHub-style API tokens use too.
//
// File format (JSON, rewritten atomically: temp file, fsync, rename, directory fsync, under an
// flock on "<state-dir>/tokens.lock"):
//   {"tokens":[{"id":"…","agent":"ns/name","session":"name" (optional),"sha256":"<hex>",
//               "created":"RFC 3339","revoked":"RFC 3339" (optional)}]}
// `session` is set on the token of one Session of the Agent (docs/sessions.md): the Session's
// name, in the Agent's namespace. Files written before the field existed load unchanged (no
// session). A session token authenticates as its Agent — all Sessions of an Agent share the
// Agent's budgets — and the gateway attributes its calls to the session (docs/audit.md).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace pai::auth {

struct TokenRecord {
  std::string id;
  std::string agent;    // "namespace/name"
  std::string session;  // the Session's name (namespace of `agent`); empty: the Agent's own
  std::array<uint8_t, 32> sha256{};
  std::string created;  // RFC 3339
  std::string revoked;  // RFC 3339, empty while valid
};

// Identity: who a presented token belongs to.
struct Identity {
  std::string agent;    // "namespace/name"
  std::string session;  // the Session's name in the agent's namespace; empty when none
  std::string id;       // the token's id
};

// TokenStore: an immutable snapshot of the token file.
// Thread safety: immutable after Load(); share it freely (std::shared_ptr<const TokenStore>).
class TokenStore {
 public:
  // Load() reads "<state_dir>/tokens.json". A missing file is an empty store.
  // Errors: DataLoss when the file exists but cannot be parsed.
  static absl::StatusOr<std::shared_ptr<const TokenStore>> Load(const std::string& state_dir);
  // LoadFile() reads the token file at `path` (a read-only copy, e.g. a mounted Kubernetes
  // Secret shared by gateway replicas). Errors as Load().
  static absl::StatusOr<std::shared_ptr<const TokenStore>> LoadFile(const std::string& path);

  // Authenticate() returns the agent ("namespace/name") a presented token belongs to.
  // Unauthenticated when the token is malformed, unknown or revoked. The digest comparison is
  // constant-time (CRYPTO_memcmp).
  absl::StatusOr<std::string> Authenticate(std::string_view presented) const;

  // AuthenticateIdentity() is Authenticate() returning the agent, the session (empty for a
  // token without one) and the token id. Same errors.
  absl::StatusOr<Identity> AuthenticateIdentity(std::string_view presented) const;

  const std::vector<TokenRecord>& records() const { return records_; }

 private:
  std::vector<TokenRecord> records_;
  absl::flat_hash_map<std::string, size_t> by_id_;
};

struct MintedToken {
  std::string id;
  std::string token;  // plaintext; shown once
};

// MintToken() creates a token for `agent` ("namespace/name") and records its hash; with
// `session` (a Session's name, in the agent's namespace), the token is that Session's: it
// authenticates as `agent` and carries the session. A "namespace/" prefix equal to the agent's
// namespace is accepted and dropped. Creates `state_dir` when missing.
// Errors: InvalidArgument when `session` names another namespace or has control characters;
// Internal on I/O failure.
absl::StatusOr<MintedToken> MintToken(const std::string& state_dir, const std::string& agent,
                                      const std::string& session = "");

// RevokeToken() marks token `id` revoked (the record is kept). NotFound when there is no such id.
absl::Status RevokeToken(const std::string& state_dir, const std::string& id);

// TokenFilePath() is "<state_dir>/tokens.json" (the gateway watches it for changes).
std::string TokenFilePath(const std::string& state_dir);

}  // namespace pai::auth
