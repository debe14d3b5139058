// The `pai` CLI's local state: ~/.pai/config.json (named contexts, the current one, local
// settings) and the pure rules around it — server URL normalisation, context-name derivation,
// namespace resolution.
//
// File shape:
//   {"currentContext": "team-a@pairun",
//    "contexts": {"team-a@pairun": {"server": "https://pairun.dev", "token": "pai_at_…",
//                                   "namespace": "team-a"}},
//    "settings": {"default_namespace": "team-a"}}
// Unknown top-level members are kept on rewrite. The file holds tokens: it is written with mode
// 0600 (directory 0700), through a temporary file and rename(2), so a reader never sees a
// partial file.
//
// Thread safety: functions are pure or touch only the given path; no shared state.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "boost/json/object.hpp"

namespace pai::cli {

struct Context {
  std::string server;  // "http://127.0.0.1:7070", no trailing slash
  std::string token;   // the PaiAccessToken; never printed after login
  std::string ns;      // the token's namespace, "*" for admin
};

struct Config {
  std::string current_context;  // empty: not logged in
  std::map<std::string, Context> contexts;
  std::map<std::string, std::string> settings;  // `pai config set`
  boost::json::object extra;                    // unknown members, kept as read

  // Current() is the active context, or null.
  const Context* Current() const;
};

// ConfigPath() is $PAI_CONFIG when set, else $HOME/.pai/config.json.
std::string ConfigPath();

// LoadConfig() reads `path`; a missing file is an empty Config. Errors: a file that is not the
// JSON shape above (InvalidArgument naming the path).
absl::StatusOr<Config> LoadConfig(const std::string& path);

// SaveConfig() writes `cfg` to `path` with mode 0600, creating the parent directory with mode
// 0700 when missing (an existing directory's mode is left alone).
absl::Status SaveConfig(const std::string& path, const Config& cfg);

// NormalizeServerUrl() turns what the user typed into a base URL: a scheme is kept ("http://"
// or "https://"; others are rejected); without one, raw IP addresses (IPv4, [IPv6]; with or
// without a port) get "http://" and host names — "localhost" included — get "https://". Any
// trailing "/" is dropped. Errors: empty input, another scheme, an empty host.
absl::StatusOr<std::string> NormalizeServerUrl(std::string_view input);

// HostOf() is the host part of a normalised URL, without brackets for IPv6.
std::string HostOf(std::string_view url);

// IsIpAddress() is true for a dotted IPv4 address or an IPv6 address (without brackets).
bool IsIpAddress(std::string_view host);

// DeriveContextName() is "<namespace>@<host label>": the token namespace ("*" → "admin"), then
// the first label of the server's host name ("pairun.dev" → "pairun") or the whole address when
// the host is an IP ("10.0.0.5").
std::string DeriveContextName(std::string_view token_namespace, std::string_view server_url);

// ResolveNamespace() picks the namespace a verb works in: the -n flag, else the
// `default_namespace` setting, else the context's token namespace unless it is "*", else
// "default".
std::string ResolveNamespace(std::string_view flag,
                             const std::map<std::string, std::string>& settings,
                             std::string_view token_namespace);

}  // namespace pai::cli
