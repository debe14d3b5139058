#!/usr/bin/env bash
# Runs the whole test suite: installs dependencies (apt, npm), builds, runs CTest (Catch2 unit
# tests and the Node.js integration tests that drive the gateway with the official OpenAI SDK).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh
cd "${PAI_BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 -j 2
