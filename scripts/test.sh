#!/usr/bin/env bash
# Runs the whole test suite: installs dependencies (apt, npm), builds, runs CTest (Catch2 unit
# tests and the Node.js integration tests that drive the gateway with the official OpenAI SDK),
# then the same suite on an AddressSanitizer + UndefinedBehaviorSanitizer build
# (PAI_SKIP_SANITIZE=1 skips that second pass). Before: .clang-format and clang-tidy checks;
# between: a ThreadSanitizer build of the libraries without Beast (PAI_SKIP_TSAN=1 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/check-format.sh  # .clang-format on every C++ file
scripts/build.sh
scripts/tidy.sh          # clang-tidy (.clang-tidy) on the recently changed sources: no warning
(cd "${PAI_BUILD_DIR:-build}" && ctest --output-on-failure --timeout 600 -j 2)
if [ -z "${PAI_SKIP_TSAN:-}" ]; then
  # ThreadSanitizer over the libraries without Beast whose state threads share: the budget
  # stores (embedded and Redis), the audit writer (and its syncer), the token store, the
  # Kubernetes runtime (its poller).
  echo "== ThreadSanitizer build (budget, audit, auth, kube) =="
  PAI_BUILD_DIR=build-tsan PAI_TARGETS="budget_test redis_store_test audit_test auth_test kube_test" \
    scripts/build.sh -DPAI_TSAN=ON -DPAI_BUILD_BENCH=OFF
  (cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure --timeout 600 -j 2 \
    -R '^(budget_test|redis_store_test|audit_test|auth_test|kube_test):')
fi
if [ -z "${PAI_SKIP_SANITIZE:-}" ]; then
  echo "== sanitizer build (ASan + UBSan) =="
  PAI_BUILD_DIR=build-asan scripts/build.sh -DPAI_SANITIZE=ON -DPAI_BUILD_BENCH=OFF
  (cd build-asan && ctest --output-on-failure --timeout 600 -j 2)
fi
