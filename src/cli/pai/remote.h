// The pure parts of `pai cp` and `pai exec` (docs/api.md, "Session and workload routes"): the
// cp argument syntax, the exec route's target, and Kubernetes' v4.channel.k8s.io framing.
//
// Thread safety: every function is pure.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/json/value.hpp"

namespace pai::cli {

// --- pai cp ---

struct CpArgs {
  enum class Direction { kDownload, kUpload };
  Direction direction = Direction::kDownload;
  std::string name;         // the Session or Agent
  std::string remote_path;  // absolute path inside the sandbox
  std::string local_path;
};

// ParseCpArgs() reads `pai cp SRC DST`. A side is remote when it is NAME:PATH — a non-empty
// NAME without '/' before the first ':' — and is not an existing local file
// (`local_exists`), so `./a:b` and an existing file `a:b` stay local. Exactly one side must be
// remote. A relative remote path is taken under /workspace. An upload to a remote path ending
// in '/' appends the local file's basename. Errors (InvalidArgument): neither or both sides
// remote, an empty NAME or PATH.
absl::StatusOr<CpArgs> ParseCpArgs(const std::string& src, const std::string& dst,
                                   const std::function<bool(const std::string&)>& local_exists);

// Basename() is the last path component ("" for a path ending in '/').
std::string Basename(std::string_view path);

// --- pai exec ---

// Channels of v4.channel.k8s.io: the first byte of every binary message.
enum class Channel : uint8_t { kStdin = 0, kStdout = 1, kStderr = 2, kStatus = 3, kResize = 4 };

// Frame() is one message: the channel byte, then `payload`. A zero-length stdin frame is EOF.
std::string Frame(Channel channel, std::string_view payload);
// ResizeFrame() is the channel-4 message {"Width":W,"Height":H}.
std::string ResizeFrame(unsigned width, unsigned height);

// ExecTarget() is the exec route's request target: `base` (".../sessions/NAME" or
// ".../agents/NAME") + "/exec?command=A&command=B&tty=true|false&stdin=true|false", each
// argument percent-encoded; no `command` when `argv` is empty (the server runs a shell).
std::string ExecTarget(const std::string& base, const std::vector<std::string>& argv, bool tty,
                       bool stdin_open);

struct ExecExit {
  int code = 1;
  std::string message;  // for a failure without an exit code
};
// ExitFromStatus() reads the channel-3 status object: {"status":"Success"} → 0;
// "Failure" with details.causes[reason=ExitCode].message "N" (or an `exitCode` member) → N;
// any other failure → 1 and its message. Bytes that are not JSON → 1, "bad status frame".
ExecExit ExitFromStatus(std::string_view payload);

// ServerUrl: the parts of a context's server URL that a WebSocket connection needs.
struct ServerUrl {
  bool tls = false;
  std::string host;         // without brackets for IPv6
  std::string port;         // "80"/"443" when the URL has none
  std::string host_header;  // what the Host header carries ("h:port" as the URL wrote it)
  std::string base_path;    // a path prefix of the server URL ("" for none)
};
// ParseServerUrl() reads "http://127.0.0.1:7070" or "https://pai.example:8443/prefix".
absl::StatusOr<ServerUrl> ParseServerUrl(std::string_view url);

}  // namespace pai::cli
