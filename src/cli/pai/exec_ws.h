// RunExec(): `pai exec` over the exec route's WebSocket (docs/api.md: subprotocol
// v4.channel.k8s.io, binary messages whose first byte is the channel). The only translation
// unit of the CLI that uses Boost.Beast (libcurl 7.88 has no usable WebSocket client); Asio and
// Beast themselves are compiled once, in pai_beast.
//
// Thread safety: call from one thread; it runs its own io_context (plus a thread that reads
// stdin, which outlives the call when stdin never ends — the process exits soon after).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "cli/pai/remote.h"

namespace pai::cli {

enum class Tty { kNo, kYes };        // -it: raw local terminal, remote pty
enum class SendStdin { kNo, kYes };  // pump our stdin to channel 0

struct ExecRequest {
  ServerUrl server;
  std::string target;  // ExecTarget(), including the server URL's path prefix
  std::string token;   // bearer token ("" for none)
  Tty tty = Tty::kNo;
  SendStdin send_stdin = SendStdin::kNo;
};

// RunExec() connects (TLS for https, verified, extra CA bundle from $PAI_CA_FILE), pumps
// channels 0/1/2 (and 4 on start and SIGWINCH with a TTY) until the status message, and
// returns the remote exit status (ExitFromStatus(); a failure's message is printed on stderr
// as "pai: <message>"). With Tty::kYes the local terminal is raw until the call returns, and
// restored on SIGTERM/SIGHUP too. Errors: Unavailable when the server cannot be reached; the
// server's error.message when it refuses the upgrade (404, 409 "not running", 403).
absl::StatusOr<int> RunExec(const ExecRequest& request);

}  // namespace pai::cli
