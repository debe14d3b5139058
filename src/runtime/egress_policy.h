// The egress proxy's decisions, without sockets: IP address classes (RFC 6890 special-purpose
// registries), CIDRs (RFC 4632), the allow-list, and parsing of proxy request targets
// (RFC 9112 §3.2.2 absolute-form, §3.2.3 authority-form). Used by egress.cc; cheap to build and
// unit-tested on its own.
//
// Thread safety: all types are values; const methods may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace pai::runtime {

// IpAddress: an IPv4 or IPv6 address, network byte order (IPv4 uses bytes[0..3]).
struct IpAddress {
  enum class Family { kV4, kV6 };
  Family family = Family::kV4;
  std::array<uint8_t, 16> bytes{};

  // Parse(): strict text forms only: IPv4 dotted quad ("127.0.0.1") or IPv6 (RFC 4291 §2.2,
  // no brackets, no zone). Other IPv4 spellings ("0x7f.1", "2130706433") are not addresses
  // here: the resolver normalizes them (and the result is checked like any resolved address).
  static std::optional<IpAddress> Parse(std::string_view text);
  static IpAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
  // FromBytes(): 4 bytes → IPv4, 16 bytes → IPv6; nullopt for any other size.
  static std::optional<IpAddress> FromBytes(std::span<const uint8_t> raw);

  bool is_v4() const { return family == Family::kV4; }
  // EmbeddedV4(): the IPv4 address an IPv6 address stands for, when it is IPv4-mapped
  // (::ffff:0:0/96), IPv4-compatible (::/96, other than :: and ::1), NAT64 (64:ff9b::/96) or
  // 6to4 (2002::/16); nullopt otherwise (and for IPv4 addresses).
  std::optional<IpAddress> EmbeddedV4() const;
  // ToString(): canonical text ("10.0.0.1", "::ffff:127.0.0.1", "fe80::1").
  std::string ToString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// AddressClass: why an address is (not) reachable by default. Everything but kPublic is refused
// unless the allow-list covers it.
enum class AddressClass {
  kPublic,
  kLoopback,     // 127/8, ::1
  kLinkLocal,    // 169.254/16 (cloud metadata 169.254.169.254), fe80::/10
  kPrivate,      // 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7, fec0::/10
  kUnspecified,  // 0/8 ("this network"), ::
  kMulticast,    // 224/4, ff00::/8
  kBroadcast,    // 255.255.255.255
  kReserved,     // 240/4, 192.0.0/24, 198.18/15, documentation nets, 2001:db8::/32, 100::/64
};

// Classify(): the class of `addr`; IPv6 addresses embedding IPv4 (see EmbeddedV4()) take the
// class of the embedded address when that is not public.
AddressClass Classify(const IpAddress& addr);
// ClassName(): "public", "loopback", "link-local", "private", "unspecified", "multicast",
// "broadcast", "reserved".
std::string_view ClassName(AddressClass c);

// Cidr: an address block, "10.1.0.0/16" or "fd00::/8". A bare address is a /32 or /128.
struct Cidr {
  IpAddress base;  // host bits cleared
  int prefix = 0;

  // Parse(): errors: InvalidArgument naming the text.
  static absl::StatusOr<Cidr> Parse(std::string_view text);
  // Contains(): IPv4 blocks also contain the IPv4-mapped form of their addresses.
  bool Contains(const IpAddress& addr) const;
};

// AllowList: what a sandbox may reach although it is not public (or although public
// destinations are denied). Entries are host names ("api.example.com", matched exactly,
// case-insensitively, a trailing dot ignored), "*.example.com" (any name below example.com, not
// example.com itself), and CIDRs or bare IP addresses.
class AllowList {
 public:
  AllowList() = default;
  // Parse(): errors: InvalidArgument naming the first bad entry.
  static absl::StatusOr<AllowList> Parse(const std::vector<std::string>& entries);

  // AllowsHost(): `host` (as requested) matches a host-name entry. Hosts that are IP literals in
  // any spelling the resolver accepts ("127.1", "0x7f000001", "::1") never match a name: only
  // CIDRs allow addresses.
  bool AllowsHost(std::string_view host) const;
  bool AllowsAddress(const IpAddress& addr) const;

 private:
  std::vector<std::string> exact_;     // lowercase, no trailing dot
  std::vector<std::string> suffixes_;  // ".example.com"
  std::vector<Cidr> cidrs_;
};

enum class PublicAccess { kAllow, kDeny };

struct EgressDecision {
  bool allowed = false;
  std::string reason;  // when refused: "127.0.0.1 is a loopback address (not in the allow-list)"
};

// Decide(): whether a request for `host` may proceed to the `resolved` addresses (all of them
// are checked: one refused address refuses the request; none refuses it too). A host-name
// match allows every address; otherwise each address must be in an allowed CIDR or be public
// (and public must be allowed).
EgressDecision Decide(const AllowList& allow, PublicAccess public_access, std::string_view host,
                      std::span<const IpAddress> resolved);

// ProxyTarget: where a proxy request goes.
struct ProxyTarget {
  std::string host;  // lowercase; an IPv6 literal without its brackets
  int port = 0;
  std::string path;  // origin-form ("/x?y"); empty for CONNECT
};

// ParseAbsoluteTarget(): "http://host[:port][/path][?query]" (the scheme case-insensitive; port
// 80 by default; path "/" when absent). Errors: InvalidArgument for origin-form, other schemes
// (https goes through CONNECT), userinfo, a bad host or port.
absl::StatusOr<ProxyTarget> ParseAbsoluteTarget(std::string_view target);
// ParseAuthorityTarget(): CONNECT's "host:port" ("[v6]:port"); the port is required.
absl::StatusOr<ProxyTarget> ParseAuthorityTarget(std::string_view target);

}  // namespace pai::runtime
