// SHA-256 (FIPS 180-4) through OpenSSL's EVP interface, with the digest implementation fetched
// once per process: EVP_sha256() makes OpenSSL 3 look the algorithm up again on every
// EVP_Digest() call (a locked table lookup that cost more than hashing a 60-byte token).
//
// Thread safety: every function may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace pai {

// Sha256(): the 32-byte digest of `data`.
std::array<uint8_t, 32> Sha256(std::string_view data);

// Sha256Hex(): the same digest as 64 lowercase hex digits.
std::string Sha256Hex(std::string_view data);

}  // namespace pai
