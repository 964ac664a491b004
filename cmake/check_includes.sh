#!/usr/bin/env bash
# Include walls: fails when a file under src/<area>/ includes another area's private header
# ("<other>/x.h" where src/<other> exists), or when any C++ file includes a path with "..".
# The build already refuses the first (each target sees only build/private/<area>); this also
# catches "<area>/../<other>/x.h", which the link to src/<area> would let through.
# Prints the count of offending includes, so it doubles as the measurement.
set -euo pipefail
cd "${1:-.}"
mapfile -t files < <(git ls-files -- '*.cpp' '*.h' '*.in' 2>/dev/null ||
                     find src include tests bench preprocessing -name '*.cpp' -o -name '*.h')
cross=0
climb=0
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  area=""
  [[ "$f" == src/*/* ]] && area=$(cut -d/ -f2 <<<"$f")
  while IFS= read -r inc; do
    if [[ "$inc" == *..* ]]; then
      echo "$f: #include \"$inc\" climbs with '..'"
      climb=$((climb + 1))
      continue
    fi
    top=${inc%%/*}
    if [ -n "$area" ] && [ "$inc" != "$top" ] && [ "$top" != "$area" ] && [ -d "src/$top" ]; then
      echo "$f: #include \"$inc\" is a private header of src/$top"
      cross=$((cross + 1))
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done
echo "include walls: ${#files[@]} files, $cross cross-area private includes, $climb '..' includes"
[ "$cross" -eq 0 ] && [ "$climb" -eq 0 ]
