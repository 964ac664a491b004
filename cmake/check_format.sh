#!/usr/bin/env bash
# Fails when a tracked C++ file differs from .clang-format; lists the files to fix.
set -euo pipefail
cf=${1:-clang-format}
mapfile -t files < <(git ls-files -- '*.cpp' '*.h' '*.cu' 2>/dev/null || find src include tests bench preprocessing -name '*.cpp' -o -name '*.h')
bad=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  if ! "$cf" --dry-run --Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "clang-format: ${#bad[@]} file(s) need formatting (run: clang-format -i FILE):"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "clang-format: ${#files[@]} files clean"
