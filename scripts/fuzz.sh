#!/usr/bin/env bash
# Long fuzzing runs, outside CI (tests/fuzz/README.md): builds the libFuzzer binaries of the fuzz
# targets with clang-14 under ASan + UBSan into build-fuzz/, then runs each target for
# $PAI_FUZZ_RUNS executions (default 10,000,000) from its committed corpus. New interesting
# inputs go to build-fuzz/corpus/<target>/, crashes to build-fuzz/artifacts/.
#   scripts/fuzz.sh [target...]      (default: every target)
# Needs: clang-14, libclang-rt-14-dev (scripts/install-deps.sh --fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${PAI_FUZZ_RUNS:-10000000}"
all=(http_request chat_request native_request sse stream_translate usage manifest)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
# Release (-O3) with line tables: fast executions, and sanitizer reports still name lines.
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS=-gline-tables-only \
  -DPAI_FUZZ=ON -DPAI_SANITIZE=ON -DPAI_BUILD_BENCH=OFF >/dev/null
build=()
for t in "${targets[@]}"; do build+=(--target "${t}_fuzz"); done
cmake --build build-fuzz -j "${PAI_JOBS:-$(nproc)}" "${build[@]}"
mkdir -p build-fuzz/artifacts
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  echo "== $t: $runs runs"
  start=$(date +%s)
  "build-fuzz/tests/fuzz/${t}_fuzz" -runs="$runs" -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/artifacts/$t-" "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" \
    2>"build-fuzz/$t.log" || { tail -n 40 "build-fuzz/$t.log"; exit 1; }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov:" "build-fuzz/$t.log" | tail -n 3
  echo "   $(( $(date +%s) - start )) s"
done
