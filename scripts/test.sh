#!/usr/bin/env bash
# Runs the whole test suite: installs dependencies (apt, npm), builds, runs CTest (Catch2 unit
# tests and the Node.js integration tests that drive the gateway with the official OpenAI SDK),
# then the same suite on an AddressSanitizer + UndefinedBehaviorSanitizer build
# (PAI_SKIP_SANITIZE=1 skips that second pass).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh
(cd "${PAI_BUILD_DIR:-build}" && ctest --output-on-failure --timeout 600 -j 2)
if [ -z "${PAI_SKIP_SANITIZE:-}" ]; then
  echo "== sanitizer build (ASan + UBSan) =="
  PAI_BUILD_DIR=build-asan scripts/build.sh -DPAI_SANITIZE=ON -DPAI_BUILD_BENCH=OFF
  (cd build-asan && ctest --output-on-failure --timeout 600 -j 2)
fi
