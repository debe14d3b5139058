#include "runtime/egress_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "common/strings.h"

namespace pai::runtime {
namespace {

bool AllZero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

AddressClass ClassifyV4(const IpAddress& addr) {
  const uint8_t a = addr.bytes[0], b = addr.bytes[1], c = addr.bytes[2];
  if (a == 0) return AddressClass::kUnspecified;
  if (a == 127) return AddressClass::kLoopback;
  if (a == 169 && b == 254) return AddressClass::kLinkLocal;
  if (a == 10 || (a == 172 && (b & 0xf0) == 16) || (a == 192 && b == 168) ||
      (a == 100 && (b & 0xc0) == 64)) {
    return AddressClass::kPrivate;
  }
  if (a >= 224 && a <= 239) return AddressClass::kMulticast;
  if (a == 255 && b == 255 && c == 255 && addr.bytes[3] == 255) return AddressClass::kBroadcast;
  if (a >= 240) return AddressClass::kReserved;
  // IETF protocol assignments, benchmarking, documentation: never a real destination.
  if ((a == 192 && b == 0 && (c == 0 || c == 2)) || (a == 198 && (b & 0xfe) == 18) ||
      (a == 198 && b == 51 && c == 100) || (a == 203 && b == 0 && c == 113)) {
    return AddressClass::kReserved;
  }
  return AddressClass::kPublic;
}

AddressClass ClassifyV6(const IpAddress& addr) {
  const auto& x = addr.bytes;
  if (AllZero(x.data(), 16)) return AddressClass::kUnspecified;
  if (AllZero(x.data(), 15) && x[15] == 1) return AddressClass::kLoopback;
  if (x[0] == 0xff) return AddressClass::kMulticast;
  if (x[0] == 0xfe && (x[1] & 0xc0) == 0x80) return AddressClass::kLinkLocal;
  if (x[0] == 0xfe && (x[1] & 0xc0) == 0xc0) return AddressClass::kPrivate;  // site-local
  if ((x[0] & 0xfe) == 0xfc) return AddressClass::kPrivate;                  // unique local
  if (auto v4 = addr.EmbeddedV4()) {
    const AddressClass c = ClassifyV4(*v4);
    if (c != AddressClass::kPublic) return c;
  }
  // 2001:db8::/32 documentation, 100::/64 discard-only.
  if ((x[0] == 0x20 && x[1] == 0x01 && x[2] == 0x0d && x[3] == 0xb8) ||
      (x[0] == 0x01 && AllZero(x.data() + 1, 7))) {
    return AddressClass::kReserved;
  }
  return AddressClass::kPublic;
}

bool ValidHostChars(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](char ch) {
    return absl::ascii_isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' ||
           ch == '_';
  });
}

std::string NormalizeName(std::string_view host) {
  std::string out = absl::AsciiStrToLower(AV(host));
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// True when the resolver would take `host` as an address, not a name: IPv6 literals, and IPv4
// in any inet_aton(3) spelling ("127.1", "0x7f.0.0.1", "017700000001", "2130706433").
bool IsNumericHost(const std::string& host) {
  if (host.find(':') != std::string::npos) return true;
  in_addr ignored;
  return inet_aton(host.c_str(), &ignored) != 0;
}

absl::StatusOr<int> ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return absl::InvalidArgumentError(StrCat("bad port \"", text, "\""));
  }
  const int port = std::stoi(std::string(text));
  if (port < 1 || port > 65535) return absl::InvalidArgumentError(StrCat("bad port ", port));
  return port;
}

// ParseAuthority(): "host[:port]" or "[v6][:port]"; `default_port` 0 makes the port required.
absl::StatusOr<ProxyTarget> ParseAuthority(std::string_view authority, int default_port) {
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError("user information in the request target is not supported");
  }
  ProxyTarget out;
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError("unterminated IPv6 literal");
    }
    const std::string_view literal = authority.substr(1, close - 1);
    auto addr = IpAddress::Parse(literal);
    if (!addr || addr->is_v4()) {
      return absl::InvalidArgumentError(StrCat("bad IPv6 literal \"", literal, "\""));
    }
    out.host = absl::AsciiStrToLower(AV(literal));
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return absl::InvalidArgumentError("bad authority");
      port_text = rest.substr(1);
      has_port = true;
    }
  } else {
    const size_t colon = authority.rfind(':');
    std::string_view host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      has_port = true;
    }
    if (!ValidHostChars(host)) {
      return absl::InvalidArgumentError(StrCat("bad host \"", host, "\""));
    }
    out.host = absl::AsciiStrToLower(AV(host));
  }
  if (!has_port || (port_text.empty() && default_port != 0)) {
    if (default_port == 0) return absl::InvalidArgumentError("the port is required");
    out.port = default_port;
    return out;
  }
  auto port = ParsePort(port_text);
  if (!port.ok()) return port.status();
  out.port = *port;
  return out;
}

}  // namespace

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string s(text);
  IpAddress out;
  if (inet_pton(AF_INET, s.c_str(), out.bytes.data()) == 1) return out;
  if (inet_pton(AF_INET6, s.c_str(), out.bytes.data()) == 1) {
    out.family = Family::kV6;
    return out;
  }
  return std::nullopt;
}

IpAddress IpAddress::V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress out;
  out.bytes[0] = a;
  out.bytes[1] = b;
  out.bytes[2] = c;
  out.bytes[3] = d;
  return out;
}

std::optional<IpAddress> IpAddress::FromBytes(std::span<const uint8_t> raw) {
  if (raw.size() != 4 && raw.size() != 16) return std::nullopt;
  IpAddress out;
  out.family = raw.size() == 4 ? Family::kV4 : Family::kV6;
  std::copy(raw.begin(), raw.end(), out.bytes.begin());
  return out;
}

std::optional<IpAddress> IpAddress::EmbeddedV4() const {
  if (is_v4()) return std::nullopt;
  const auto& x = bytes;
  const bool mapped = AllZero(x.data(), 10) && x[10] == 0xff && x[11] == 0xff;
  const bool compatible = AllZero(x.data(), 12) && !AllZero(x.data() + 12, 3);
  const bool nat64 =
      x[0] == 0x00 && x[1] == 0x64 && x[2] == 0xff && x[3] == 0x9b && AllZero(x.data() + 4, 8);
  if (mapped || compatible || nat64) return V4(x[12], x[13], x[14], x[15]);
  if (x[0] == 0x20 && x[1] == 0x02) return V4(x[2], x[3], x[4], x[5]);  // 6to4
  return std::nullopt;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes.data(), buf, sizeof(buf));
  return buf;
}

AddressClass Classify(const IpAddress& addr) {
  return addr.is_v4() ? ClassifyV4(addr) : ClassifyV6(addr);
}

std::string_view ClassName(AddressClass c) {
  switch (c) {
    case AddressClass::kPublic:
      return "public";
    case AddressClass::kLoopback:
      return "loopback";
    case AddressClass::kLinkLocal:
      return "link-local";
    case AddressClass::kPrivate:
      return "private";
    case AddressClass::kUnspecified:
      return "unspecified";
    case AddressClass::kMulticast:
      return "multicast";
    case AddressClass::kBroadcast:
      return "broadcast";
    case AddressClass::kReserved:
      return "reserved";
  }
  return "reserved";
}

absl::StatusOr<Cidr> Cidr::Parse(std::string_view text) {
  const size_t slash = text.find('/');
  std::string_view addr_text = text.substr(0, slash);
  if (addr_text.size() > 2 && addr_text.front() == '[' && addr_text.back() == ']') {
    addr_text = addr_text.substr(1, addr_text.size() - 2);
  }
  auto addr = IpAddress::Parse(addr_text);
  if (!addr) return absl::InvalidArgumentError(StrCat("\"", text, "\" is not an IP address/CIDR"));
  const int max_prefix = addr->is_v4() ? 32 : 128;
  int prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3 ||
        !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        (prefix = std::stoi(std::string(p))) > max_prefix) {
      return absl::InvalidArgumentError(StrCat("\"", text, "\": bad prefix length"));
    }
  }
  Cidr out{*addr, prefix};
  for (int bit = prefix; bit < max_prefix; ++bit) {
    out.base.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return out;
}

bool Cidr::Contains(const IpAddress& addr) const {
  IpAddress a = addr;
  if (base.is_v4() && !a.is_v4()) {
    const auto& x = a.bytes;
    if (!(AllZero(x.data(), 10) && x[10] == 0xff && x[11] == 0xff)) return false;
    a = IpAddress::V4(x[12], x[13], x[14], x[15]);
  }
  if (a.family != base.family) return false;
  const int full = prefix / 8;
  if (std::memcmp(a.bytes.data(), base.bytes.data(), full) != 0) return false;
  if (prefix % 8 == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff00u >> (prefix % 8));
  return (a.bytes[full] & mask) == base.bytes[full];
}

absl::StatusOr<AllowList> AllowList::Parse(const std::vector<std::string>& entries) {
  AllowList out;
  for (const std::string& raw : entries) {
    const std::string entry(absl::StripAsciiWhitespace(raw));
    if (entry.find('/') != std::string::npos || entry.find(':') != std::string::npos ||
        IpAddress::Parse(entry)) {
      auto cidr = Cidr::Parse(entry);
      if (!cidr.ok()) return cidr.status();
      out.cidrs_.push_back(*cidr);
      continue;
    }
    const bool wildcard = entry.rfind("*.", 0) == 0;
    const std::string name = NormalizeName(wildcard ? entry.substr(2) : entry);
    if (!ValidHostChars(name) || name.front() == '.' || name.find("..") != std::string::npos) {
      return absl::InvalidArgumentError(
          StrCat("allow-list entry \"", raw, "\" is not a host name, *.suffix or CIDR"));
    }
    if (wildcard) {
      out.suffixes_.push_back("." + name);
    } else {
      out.exact_.push_back(name);
    }
  }
  return out;
}

bool AllowList::AllowsHost(std::string_view host) const {
  const std::string name = NormalizeName(host);
  if (name.empty() || IsNumericHost(name)) return false;
  if (std::find(exact_.begin(), exact_.end(), name) != exact_.end()) return true;
  return std::any_of(suffixes_.begin(), suffixes_.end(), [&](const std::string& suffix) {
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  });
}

bool AllowList::AllowsAddress(const IpAddress& addr) const {
  return std::any_of(cidrs_.begin(), cidrs_.end(), [&](const Cidr& c) { return c.Contains(addr); });
}

EgressDecision Decide(const AllowList& allow, PublicAccess public_access, std::string_view host,
                      std::span<const IpAddress> resolved) {
  if (resolved.empty()) return {false, StrCat(host, " resolved to no address")};
  if (allow.AllowsHost(host)) return {true, ""};
  for (const IpAddress& addr : resolved) {
    if (allow.AllowsAddress(addr)) continue;
    const AddressClass c = Classify(addr);
    if (c != AddressClass::kPublic) {
      const std::string_view article = c == AddressClass::kUnspecified ? "an" : "a";
      return {false, StrCat(addr.ToString(), " is ", article, " ", ClassName(c),
                            " address (not in the allow-list)")};
    }
    if (public_access == PublicAccess::kDeny) {
      return {false, StrCat(addr.ToString(),
                            " is not in the allow-list (public destinations are denied)")};
    }
  }
  return {true, ""};
}

absl::StatusOr<ProxyTarget> ParseAbsoluteTarget(std::string_view target) {
  if (target.empty() || target.front() == '/' || target == "*") {
    return absl::InvalidArgumentError(
        "origin-form request: a proxy request needs an absolute URL (http://host/path)");
  }
  const size_t sep = target.find("://");
  if (sep == std::string_view::npos) {
    return absl::InvalidArgumentError("the request target is not an absolute http:// URL");
  }
  const std::string scheme = absl::AsciiStrToLower(AV(target.substr(0, sep)));
  if (scheme == "https") {
    return absl::InvalidArgumentError("https:// URLs go through CONNECT");
  }
  if (scheme != "http") {
    return absl::InvalidArgumentError(StrCat("unsupported scheme \"", scheme, "\""));
  }
  const std::string_view rest = target.substr(sep + 3);
  const size_t end = rest.find_first_of("/?#");
  auto out = ParseAuthority(rest.substr(0, end), 80);
  if (!out.ok()) return out.status();
  std::string_view path = end == std::string_view::npos ? "" : rest.substr(end);
  path = path.substr(0, path.find('#'));
  out->path = path.empty() || path.front() != '/' ? StrCat("/", path) : std::string(path);
  return out;
}

absl::StatusOr<ProxyTarget> ParseAuthorityTarget(std::string_view target) {
  return ParseAuthority(target, 0);
}

}  // namespace pai::runtime
