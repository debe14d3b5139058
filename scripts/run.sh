#!/usr/bin/env bash
# Quick start: install dependencies, build, and run the Pai platform — pai-server (REST API,
# resource store, controller) supervising pai-gateway — on the embedded default: a mock
# ModelProvider that works offline (real providers join when OPENAI_API_KEY / ANTHROPIC_API_KEY
# / GEMINI_API_KEY / OPENROUTER_API_KEY is set), the builtin prompt guard in audit mode and the
# demo Agent default/demo. Prints the admin token and the `pai login` line.
#   API     http://127.0.0.1:7070      (pai login)
#   gateway http://127.0.0.1:4000/v1   (OpenAI-compatible; admin /metrics on 127.0.0.1:4001)
# Arguments are passed to pai-server, e.g. scripts/run.sh --listen 0.0.0.0:7070
# State lives in ./pai-state (PAI_STATE_DIR to change it) — or, run as root from a checkout the
# sandbox user cannot reach (below a 0700 directory such as /root), in /var/lib/pai.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build_dir="${PAI_BUILD_DIR:-build}"
PAI_BUILD_TYPE=Release PAI_TARGETS="pai-server pai-gateway pai" scripts/build.sh
cli_dir="$(cd "$build_dir/src/cli" && pwd)"
echo "The pai CLI is $cli_dir/pai — put it on your PATH:"
echo "  export PATH=\"$cli_dir:\$PATH\""
# Sessions run as an unprivileged sandbox user (uid 65532) that must search every directory
# down to the state directory: a checkout below /root (mode 0700 on Debian) is out of its reach.
state_dir="${PAI_STATE_DIR:-}"
if [ -z "$state_dir" ]; then
  state_dir=pai-state
  d="$PWD"
  while [ "$d" != / ]; do
    if [ $((0$(stat -c %a "$d") & 1)) -eq 0 ]; then  # no search permission for others
      if [ "$(id -u)" = 0 ]; then
        state_dir=/var/lib/pai
        echo "State in $state_dir: ./pai-state would be below $d (mode $(stat -c %a "$d")), which the" \
          "sandbox user cannot traverse (PAI_STATE_DIR chooses another place)."
      fi
      break
    fi
    d="$(dirname "$d")"
  done
fi
exec "$build_dir/src/server/pai-server" --state-dir "$state_dir" --print-admin-token "$@"
