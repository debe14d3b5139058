#include "gateway/server/admin_auth.h"

#include <openssl/crypto.h>

#include <boost/asio/ip/address.hpp>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/sha256.h"
#include "common/strings.h"

namespace pai::gateway {
namespace {

constexpr size_t kMinTokenChars = 16;

std::string DigestBytes(std::string_view data) {
  const auto md = pai::Sha256(data);
  return std::string(reinterpret_cast<const char*>(md.data()), md.size());
}

// IsLoopbackListen(): whether "HOST:PORT" names a loopback address.
bool IsLoopbackListen(const std::string& listen) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto addr = boost::asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

}  // namespace

absl::StatusOr<AdminAuth> AdminAuth::FromOptions(const GatewayOptions& options) {
  auto auth =
      Load(options.admin_token_file, options.metrics_auth ? Metrics::kProtected : Metrics::kOpen);
  if (!auth.ok()) return auth.status();
  const std::string host = options.admin_listen.substr(0, options.admin_listen.rfind(':'));
  if (absl::Status s = auth->StartupCheck(host, IsLoopbackListen(options.admin_listen)); !s.ok()) {
    return s;
  }
  return auth;
}

absl::StatusOr<AdminAuth> AdminAuth::Load(const std::string& path, Metrics metrics) {
  AdminAuth auth;
  auth.metrics_ = metrics;
  if (path.empty()) return auth;
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(pai::StrCat("--admin-token-file ", path, ": cannot read"));
  }
  std::string line;
  std::getline(in, line);
  const std::string token(SV(absl::StripAsciiWhitespace(line)));
  if (token.size() < kMinTokenChars) {
    return absl::InvalidArgumentError(pai::StrCat("--admin-token-file ", path,
                                                  ": the token must have at least ", kMinTokenChars,
                                                  " characters"));
  }
  auth.digest_ = DigestBytes(token);
  return auth;
}

absl::Status AdminAuth::StartupCheck(std::string_view host, bool loopback) const {
  if (!has_token() && !loopback) {
    return absl::FailedPreconditionError(
        pai::StrCat("--admin-listen ", host.empty() ? std::string_view("*") : host,
                    " is not a loopback address: give the admin listener a bearer token with "
                    "--admin-token-file PATH (or listen on 127.0.0.1)"));
  }
  if (!has_token() && metrics_ == Metrics::kProtected) {
    return absl::FailedPreconditionError("--metrics-auth needs --admin-token-file PATH");
  }
  return absl::OkStatus();
}

bool AdminAuth::NeedsToken(std::string_view path) const {
  if (!has_token() || path == "/healthz" || path == "/readyz") return false;
  if (path == "/metrics") return metrics_ == Metrics::kProtected;
  return true;
}

bool AdminAuth::Allows(std::string_view authorization) const {
  if (!has_token()) return true;
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() < kScheme.size() ||
      !absl::EqualsIgnoreCase(AV(authorization.substr(0, kScheme.size())), AV(kScheme))) {
    return false;
  }
  const std::string presented = DigestBytes(authorization.substr(kScheme.size()));
  return presented.size() == digest_.size() &&
         CRYPTO_memcmp(presented.data(), digest_.data(), digest_.size()) == 0;
}

}  // namespace pai::gateway
