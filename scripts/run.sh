#!/usr/bin/env bash
# Quick start: install dependencies, build, and run pai-gateway.
# With no arguments it serves the embedded default configuration (a mock provider that works
# offline, real providers when OPENAI_API_KEY / ANTHROPIC_API_KEY / GEMINI_API_KEY /
# OPENROUTER_API_KEY is set) on 127.0.0.1:4000 and prints a demo agent token.
# Arguments are passed to pai-gateway, e.g. scripts/run.sh -f examples/gateway.yaml
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
PAI_BUILD_TYPE=Release scripts/build.sh
exec build/src/cli/pai-gateway "$@"
