#include "common/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

#include "common/json_util.h"

namespace pai {
namespace {

const EVP_MD* FetchedSha256() {
  // Fetched once, never freed (it lives as long as the process, like OpenSSL's own tables).
  static const EVP_MD* const md = [] {
    const EVP_MD* m = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
    if (m == nullptr) std::abort();  // no default provider: OpenSSL is unusable
    return m;
  }();
  return md;
}

}  // namespace

std::array<uint8_t, 32> Sha256(std::string_view data) {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, FetchedSha256(), nullptr) != 1 ||
      len != out.size()) {
    std::abort();  // cannot fail with a fetched SHA-256 and a 32-byte buffer
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  const auto md = Sha256(data);
  return HexEncode(md.data(), md.size());
}

}  // namespace pai
