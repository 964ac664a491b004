#!/usr/bin/env bash
# Keeps ARCHITECTURE.md true where a script can tell: every file or directory it names in
# backquotes exists (at the root, under src/ or under include/mmaux/; a bare file name anywhere
# in the tree), and it names every
# library target of the build (mmaux::<name> aliases) and no other.
set -euo pipefail
cd "${1:-.}"
doc=ARCHITECTURE.md
bad=0
while IFS= read -r p; do
  [ -e "$p" ] || [ -e "src/$p" ] || [ -e "include/mmaux/$p" ] || {
    echo "$doc names '$p', which is not in the tree"
    bad=$((bad + 1))
  }
done < <(grep -o '`[A-Za-z0-9_./<>-]*/[A-Za-z0-9_./<>-]*`' "$doc" | tr -d '`' | grep -v '[<>]' |
         sed 's/,$//' | sort -u)
# A bare file name (`results.cpp`) must exist somewhere in the tree.
while IFS= read -r f; do
  [ -n "$(find src include preprocessing tests cmake -name "$f" -print -quit)" ] || {
    echo "$doc names '$f', which is not in the tree"
    bad=$((bad + 1))
  }
done < <(grep -o '`[A-Za-z0-9_.-]*\.\(cpp\|h\|sh\|cmake\)`' "$doc" | tr -d '`' | sort -u)
built=$(grep -rho 'ALIAS mmaux::[a-z_]*' src preprocessing --include=CMakeLists.txt |
        sed 's/ALIAS //' | sort -u)
named=$(grep -o '`mmaux::[a-z_]*`' "$doc" | tr -d '`' | sort -u)
while IFS= read -r t; do
  grep -qx "$t" <<<"$named" || { echo "$doc does not describe target $t"; bad=$((bad + 1)); }
done <<<"$built"
while IFS= read -r t; do
  grep -qx "$t" <<<"$built" || { echo "$doc names target $t, which the build lacks"; bad=$((bad + 1)); }
done <<<"$named"
echo "architecture doc: $bad stale reference(s)"
[ "$bad" -eq 0 ]
