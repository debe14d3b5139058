#!/usr/bin/env bash
# Checks that every C++ file of the project is formatted by .clang-format (clang-format 14, the
# Debian bookworm version): exits 1 and names the files otherwise.
#   scripts/check-format.sh          check (CI)
#   scripts/check-format.sh --fix    reformat in place
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT="${CLANG_FORMAT:-$(command -v clang-format-14 || command -v clang-format)}"
mapfile -t files < <(git ls-files ':!bench/fixtures' 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc' \
  'bench/*.h')
if [ "${1:-}" = "--fix" ]; then
  "$CLANG_FORMAT" -i "${files[@]}"
  exit 0
fi
# One process for all files; each unformatted one is reported as "<file>:<line>:<col>: error:".
mapfile -t bad < <("$CLANG_FORMAT" --dry-run --Werror "${files[@]}" 2>&1 >/dev/null |
  sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error:.*/\1/p' | sort -u)
if [ "${#bad[@]}" -gt 0 ]; then
  echo "check-format.sh: not formatted by .clang-format (fix: scripts/check-format.sh --fix):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-format.sh: ${#files[@]} files formatted"
