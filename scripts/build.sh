#!/usr/bin/env bash
# Configures and builds the Pai binaries into build/ (or $PAI_BUILD_DIR) with Ninja and ccache.
#   scripts/build.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${PAI_BUILD_DIR:-build}"
# ccache keyed on paths relative to the checkout, so that another clone of the same sources (CI
# runs in a fresh one) reuses what this one compiled.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
build_type="${PAI_BUILD_TYPE:-RelWithDebInfo}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" "$@" >/dev/null
# Beast/Asio translation units need ~1.5 GB each at -O2: two jobs fit comfortably.
# PAI_TARGETS: build only these targets (the quick start does not build the tests).
targets=()
for t in ${PAI_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j "${PAI_JOBS:-$(nproc)}" "${targets[@]}"
