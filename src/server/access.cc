#include "server/access.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/json_util.h"
#include "common/sha256.h"
#include "common/strings.h"

namespace pai::server {
namespace json = boost::json;
namespace {

constexpr std::string_view kPrefix = "pai_at_";

std::string Base64Url(const unsigned char* p, size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | p[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

bool ValidNamespace(std::string_view ns) {
  if (ns == "*") return true;
  if (ns.empty() || ns.size() > 63) return false;
  for (char c : ns) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return ns.front() != '-' && ns.back() != '-';
}

const json::value* Path(const json::object& o, std::initializer_list<const char*> keys) {
  const json::value* v = nullptr;
  const json::object* cur = &o;
  for (const char* k : keys) {
    if (!cur) return nullptr;
    v = cur->if_contains(k);
    if (!v) return nullptr;
    cur = v->is_object() ? &v->as_object() : nullptr;
  }
  return v;
}

}  // namespace

std::string ParseBearer(std::string_view authorization) {
  if (authorization.size() > 7 &&
      absl::EqualsIgnoreCase(AV(authorization.substr(0, 7)), "bearer ")) {
    std::string_view t = authorization.substr(7);
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    return std::string(t);
  }
  return "";
}

absl::StatusOr<MintedAccessToken> AccessTokens::Create(const std::string& target_ns,
                                                       const std::string& description,
                                                       const std::string& expires_at) {
  if (!ValidNamespace(target_ns)) {
    return absl::InvalidArgumentError(
        "spec.targetNamespace: must be a namespace (lowercase letters, digits, '-') or \"*\"");
  }
  std::string expires;  // RFC 3339 (the CRD's format: date-time), whatever form was given
  if (!expires_at.empty()) {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, expires_at, &t, &err)) {
      // Plain dates ("2027-01-31") as the seeds' --expires <iso> allows.
      if (!absl::ParseTime("%Y-%m-%d", expires_at, &t, &err)) {
        return absl::InvalidArgumentError(
            "spec.expiresAt: expected an ISO-8601 date or RFC 3339 time");
      }
    }
    if (t <= absl::Now()) return absl::InvalidArgumentError("spec.expiresAt: already passed");
    expires = absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
  }
  unsigned char id_bytes[6];
  unsigned char secret[32];
  if (RAND_bytes(id_bytes, sizeof id_bytes) != 1 || RAND_bytes(secret, sizeof secret) != 1) {
    return absl::InternalError("no randomness");
  }
  const std::string id = HexEncode(id_bytes, sizeof id_bytes);
  const std::string token = pai::StrCat(kPrefix, id, "_", Base64Url(secret, sizeof secret));
  OPENSSL_cleanse(secret, sizeof secret);
  Resource r;
  r.kind = "PaiAccessToken";
  r.name = pai::StrCat("tok-", id);
  json::object spec;
  spec["targetNamespace"] = target_ns;
  if (!description.empty()) spec["description"] = description;
  if (!expires.empty()) spec["expiresAt"] = expires;
  spec["env"] = json::object();
  r.object = {{"apiVersion", "pai.io/v1"},
              {"kind", "PaiAccessToken"},
              {"metadata", {{"name", r.name}}},
              {"spec", std::move(spec)}};
  r.private_data = json::serialize(json::object{{"sha256", Sha256Hex(token)}});
  auto stored = store_.Create(std::move(r));
  if (!stored.ok()) return stored.status();
  return MintedAccessToken{std::move(*stored), token};
}

absl::StatusOr<Caller> AccessTokens::Authenticate(std::string_view bearer) {
  const auto fail = [] {
    return absl::UnauthenticatedError("invalid, expired or revoked access token");
  };
  if (!absl::StartsWith(AV(bearer), AV(kPrefix)) || bearer.size() < kPrefix.size() + 14 ||
      bearer[kPrefix.size() + 12] != '_') {
    return fail();
  }
  const std::string id(bearer.substr(kPrefix.size(), 12));
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return fail();
  }
  auto r = store_.Get("PaiAccessToken", "", pai::StrCat("tok-", id));
  // A store that cannot answer (the Kubernetes API unreachable, or refusing pai-server's own
  // credentials) is not a bad token.
  if (!r.ok() && !absl::IsNotFound(r.status())) {
    return absl::UnavailableError(std::string(r.status().message()));
  }
  if (!r.ok()) return fail();
  boost::system::error_code ec;
  json::value priv = json::parse(r->private_data, ec);
  const json::value* want =
      ec || !priv.is_object() ? nullptr : priv.as_object().if_contains("sha256");
  if (!want || !want->is_string()) return fail();
  const std::string got = Sha256Hex(bearer);
  const json::string& w = want->as_string();
  if (w.size() != got.size() || CRYPTO_memcmp(w.data(), got.data(), got.size()) != 0) {
    return fail();
  }
  if (const json::value* rv = Path(r->object, {"status", "revokedAt"}); rv && rv->is_string()) {
    return fail();
  }
  if (const json::value* e = Path(r->object, {"spec", "expiresAt"}); e && e->is_string()) {
    absl::Time t;
    std::string err;
    const std::string s(e->as_string());
    if ((absl::ParseTime(absl::RFC3339_full, s, &t, &err) ||
         absl::ParseTime("%Y-%m-%d", s, &t, &err)) &&
        absl::Now() >= t) {
      return fail();
    }
  }
  const json::value* ns = Path(r->object, {"spec", "targetNamespace"});
  if (!ns || !ns->is_string()) return fail();
  return Caller{r->name, std::string(ns->as_string())};
}

absl::Status AccessTokens::Revoke(const std::string& name) {
  auto r = store_.Get("PaiAccessToken", "", name);
  if (!r.ok()) return r.status();
  json::object status;
  if (const json::value* s = r->object.if_contains("status"); s && s->is_object()) {
    status = s->as_object();
  }
  if (!status.contains("revokedAt")) status["revokedAt"] = NowRfc3339();
  return store_.UpdateStatus("PaiAccessToken", "", name, r->uid(), status);
}

}  // namespace pai::server
