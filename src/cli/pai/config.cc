#include "cli/pai/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "boost/json/value.hpp"
#include "cli/pai/text.h"

namespace pai::cli {

namespace json = boost::json;

const Context* Config::Current() const {
  if (current_context.empty()) return nullptr;
  auto it = contexts.find(current_context);
  return it == contexts.end() ? nullptr : &it->second;
}

std::string ConfigPath() {
  if (const char* p = std::getenv("PAI_CONFIG"); p != nullptr && *p != '\0') return p;
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.pai/config.json";
}

namespace {

absl::Status Bad(const std::string& path, const std::string& why) {
  return absl::InvalidArgumentError(path + ": " + why);
}

std::string StringMember(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  Config cfg;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) return cfg;
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::UnavailableError(path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  json::value root = json::parse(ss.str(), ec);
  if (ec || !root.is_object()) return Bad(path, "not a JSON object");
  for (const auto& kv : root.get_object()) {
    const std::string_view key = kv.key();
    const json::value& v = kv.value();
    if (key == "currentContext") {
      if (v.is_string()) cfg.current_context = std::string(v.get_string());
    } else if (key == "contexts") {
      if (!v.is_object()) return Bad(path, "contexts: not an object");
      for (const auto& c : v.get_object()) {
        if (!c.value().is_object())
          return Bad(path, "contexts." + std::string(c.key()) + ": not an object");
        const auto& o = c.value().get_object();
        cfg.contexts[std::string(c.key())] = Context{
            StringMember(o, "server"), StringMember(o, "token"), StringMember(o, "namespace")};
      }
    } else if (key == "settings") {
      if (!v.is_object()) return Bad(path, "settings: not an object");
      for (const auto& s : v.get_object()) {
        cfg.settings[std::string(s.key())] = s.value().is_string()
                                                 ? std::string(s.value().get_string())
                                                 : json::serialize(s.value());
      }
    } else {
      cfg.extra[key] = v;
    }
  }
  return cfg;
}

absl::Status SaveConfig(const std::string& path, const Config& cfg) {
  json::object root;
  root["currentContext"] = cfg.current_context;
  json::object contexts;
  for (const auto& [name, c] : cfg.contexts) {
    contexts[name] = json::object{{"server", c.server}, {"token", c.token}, {"namespace", c.ns}};
  }
  root["contexts"] = std::move(contexts);
  json::object settings;
  for (const auto& [k, v] : cfg.settings) settings[k] = v;
  root["settings"] = std::move(settings);
  for (const auto& kv : cfg.extra) root[kv.key()] = kv.value();
  const std::string text = PrettyJson(root);

  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash != 0) {
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::UnavailableError(dir + ": " + std::strerror(errno));
    }
  }
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError(tmp + ": " + std::strerror(errno));
  // The umask cannot widen 0600, but an existing file of the same name could have another mode.
  ::fchmod(fd, 0600);
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::UnavailableError(tmp + ": " + std::strerror(err));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return absl::UnavailableError(tmp + ": " + std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return absl::UnavailableError(path + ": " + std::strerror(err));
  }
  return absl::OkStatus();
}

bool IsIpAddress(std::string_view host) {
  if (host.find(':') != std::string_view::npos) {
    // IPv6: hex digits, ':' and '.' (an embedded IPv4) only.
    for (char c : host) {
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) return false;
    }
    return true;
  }
  int parts = 0;
  size_t i = 0;
  while (i <= host.size()) {
    size_t j = host.find('.', i);
    if (j == std::string_view::npos) j = host.size();
    const std::string_view part = host.substr(i, j - i);
    if (part.empty() || part.size() > 3) return false;
    int v = 0;
    for (char c : part) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    if (v > 255) return false;
    ++parts;
    i = j + 1;
  }
  return parts == 4;
}

namespace {

// HostPort() splits "host:port/path" into the host (brackets removed) and whether it was a
// bracketed IPv6 literal.
std::string HostFromAuthority(std::string_view rest, bool* bracketed) {
  *bracketed = false;
  const size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  if (!authority.empty() && authority[0] == '[') {
    *bracketed = true;
    const size_t close = authority.find(']');
    return std::string(
        authority.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
  }
  // A bare IPv6 address (several colons) has no port.
  if (std::count(authority.begin(), authority.end(), ':') > 1) return std::string(authority);
  return std::string(authority.substr(0, authority.find(':')));
}

}  // namespace

absl::StatusOr<std::string> NormalizeServerUrl(std::string_view input) {
  std::string s(input);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  if (s.empty()) return absl::InvalidArgumentError("empty server URL");
  std::string url;
  if (const size_t scheme = s.find("://"); scheme != std::string::npos) {
    std::string lower = s.substr(0, scheme);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower != "http" && lower != "https") {
      return absl::InvalidArgumentError("unsupported URL scheme \"" + s.substr(0, scheme) +
                                        "\" (use http:// or https://)");
    }
    url = lower + s.substr(scheme);
  } else {
    bool bracketed = false;
    const std::string host = HostFromAuthority(s, &bracketed);
    if (!bracketed && std::count(host.begin(), host.end(), ':') > 1) {
      // Bare IPv6 without a port: bracket it so the URL is valid.
      s = "[" + s + "]";
      bracketed = true;
    }
    url = (bracketed || IsIpAddress(host) ? "http://" : "https://") + s;
  }
  while (url.size() > 1 && url.back() == '/') url.pop_back();
  if (HostOf(url).empty()) return absl::InvalidArgumentError("no host in server URL \"" + s + "\"");
  return url;
}

std::string HostOf(std::string_view url) {
  const size_t scheme = url.find("://");
  const std::string_view rest = scheme == std::string_view::npos ? url : url.substr(scheme + 3);
  bool bracketed = false;
  return HostFromAuthority(rest, &bracketed);
}

std::string DeriveContextName(std::string_view token_namespace, std::string_view server_url) {
  const std::string ns = token_namespace == "*" ? "admin" : std::string(token_namespace);
  const std::string host = HostOf(server_url);
  const std::string label = IsIpAddress(host) ? host : host.substr(0, host.find('.'));
  return ns + "@" + label;
}

std::string ResolveNamespace(std::string_view flag,
                             const std::map<std::string, std::string>& settings,
                             std::string_view token_namespace) {
  if (!flag.empty()) return std::string(flag);
  if (auto it = settings.find("default_namespace"); it != settings.end() && !it->second.empty()) {
    return it->second;
  }
  if (!token_namespace.empty() && token_namespace != "*") return std::string(token_namespace);
  return "default";
}

}  // namespace pai::cli
