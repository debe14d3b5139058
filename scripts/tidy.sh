#!/usr/bin/env bash
# Runs clang-tidy (the checks of .clang-tidy) on the C++ sources changed since a base commit
# and fails on any warning in them: CI's "no new warnings" on changed files.
#   scripts/tidy.sh [base]     base: $PAI_TIDY_BASE, else the commit in .ci/tidy-base — the
#                              commit the current submission started from (each submission
#                              sets it; a whole-tree reformat sets it to the reformat) — else
#                              HEAD~1; in a clone without that history: skipped, said
# Needs a configured build directory ($PAI_BUILD_DIR, default build) for compile_commands.json.
# About 15-30 s per translation unit on this machine class.
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_TIDY="${CLANG_TIDY:-$(command -v clang-tidy-14 || command -v clang-tidy)}"
build_dir="${PAI_BUILD_DIR:-build}"
base="${1:-${PAI_TIDY_BASE:-}}"
[ -n "$base" ] || [ ! -f .ci/tidy-base ] || base="$(cat .ci/tidy-base)"
[ -z "$base" ] || git rev-parse -q --verify "$base^{commit}" >/dev/null || base=""
[ -n "$base" ] || base="$(git rev-parse -q --verify HEAD~1 || true)"
if [ -z "$base" ]; then
  # A clone without history (depth 1): "changed" is unknown, and the whole tree would take
  # most of an hour. Say so rather than pass silently.
  echo "tidy.sh: no history to diff against (shallow clone?): skipped" >&2
  exit 0
fi
mapfile -t changed < <(git diff --name-only --diff-filter=AM "$base" -- 'src/*.cc')
# Only translation units the build knows (generated and fuzz-only sources are not in it).
files=()
for f in "${changed[@]}"; do
  grep -q "\"file\": \"$PWD/$f\"" "$build_dir/compile_commands.json" && files+=("$f")
done
if [ "${#files[@]}" -eq 0 ]; then
  echo "tidy.sh: no changed C++ source since $base"
  exit 0
fi
echo "tidy.sh: ${#files[@]} changed sources since $base"
out="$(mktemp)"
# g++-only flags in compile_commands.json are not clang's: ignored.
printf '%s\n' "${files[@]}" | xargs -P "${PAI_JOBS:-$(nproc)}" -n 1 "$CLANG_TIDY" -p "$build_dir" \
  --quiet --header-filter="^$PWD/src/" --extra-arg=-Wno-unknown-warning-option \
  --extra-arg=-Wno-unused-command-line-argument >"$out" 2>/dev/null || true
if grep -q "warning:\|error:" "$out"; then
  grep -A3 "warning:\|error:" "$out" >&2
  echo "tidy.sh: clang-tidy warnings in changed sources (above)" >&2
  rm -f "$out"
  exit 1
fi
rm -f "$out"
echo "tidy.sh: no warnings"
