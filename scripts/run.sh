#!/usr/bin/env bash
# Quick start: install dependencies, build, and run the Pai platform — pai-server (REST API,
# resource store, controller) supervising pai-gateway — on the embedded default: a mock
# ModelProvider that works offline (real providers join when OPENAI_API_KEY / ANTHROPIC_API_KEY
# / GEMINI_API_KEY / OPENROUTER_API_KEY is set), the builtin prompt guard in audit mode and the
# demo Agent default/demo. Prints the admin token and the `pai login` line.
#   API     http://127.0.0.1:7070      (pai login)
#   gateway http://127.0.0.1:4000/v1   (OpenAI-compatible; admin /metrics on 127.0.0.1:4001)
# Arguments are passed to pai-server, e.g. scripts/run.sh --listen 0.0.0.0:7070
# State lives in ./pai-state (PAI_STATE_DIR to change it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build_dir="${PAI_BUILD_DIR:-build}"
PAI_BUILD_TYPE=Release PAI_TARGETS="pai-server pai-gateway pai" scripts/build.sh
cli_dir="$(cd "$build_dir/src/cli" && pwd)"
echo "The pai CLI is $cli_dir/pai — put it on your PATH:"
echo "  export PATH=\"$cli_dir:\$PATH\""
exec "$build_dir/src/server/pai-server" --state-dir "${PAI_STATE_DIR:-pai-state}" \
  --print-admin-token "$@"
