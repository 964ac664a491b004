#!/usr/bin/env bash
# End to end through the command line: mmaux synth, then mmaux preprocess --dataset csv; the report
# adds up, the manifest is there, a re-run is a no-op, a broken image is reported, not fatal.
set -euo pipefail
mmaux=${MMAUX_BIN:?run under ctest}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$mmaux" synth --out "$dir/raw" --posts 120 --seed 4 > "$dir/synth.log"
grep -q "wrote 120 posts" "$dir/synth.log"
test -f "$dir/raw/model/vocab.txt"
head -1 "$dir/raw/posts.csv" | grep -q "^post_id,text,label,split,relation,decided_by,image$"

# One image truncated, one missing: 2 of 121 rows skipped (< 5 %).
first=$(sed -n 2p "$dir/raw/posts.csv" | cut -d, -f1)
img=$(ls "$dir/raw/images" | grep "^$first\.")
head -c 100 "$dir/raw/images/$img" > "$dir/cut" && mv "$dir/cut" "$dir/raw/images/$img"
echo "extra,an extra post,positive,train,describes,text,images/gone.jpg" >> "$dir/raw/posts.csv"

"$mmaux" preprocess --dataset csv --raw "$dir/raw" --out "$dir/out" --model "$dir/raw/model" \
  > "$dir/pre.log"
cat "$dir/pre.log"
grep -q "read 121 = written 119 + skipped 2 (missing image 1, undecodable image 1)" "$dir/pre.log"
test -f "$dir/out/manifest.json"
grep -q "^extra,.*missing image" "$dir/out/skipped.csv"
grep -q "\"preset\": \"fixed:64\"" "$dir/out/manifest.json"

"$mmaux" preprocess --dataset csv --raw "$dir/raw" --out "$dir/out" --model "$dir/raw/model" \
  > "$dir/again.log"
grep -q "is up to date" "$dir/again.log"

# Strict skip limit: a clear failure, no manifest.
if "$mmaux" preprocess --dataset csv --raw "$dir/raw" --out "$dir/strict" \
    --model "$dir/raw/model" --max-skip-fraction 0.01 2> "$dir/strict.log"; then
  echo "expected failure with --max-skip-fraction 0.01" >&2
  exit 1
fi
grep -q "max-skip-fraction" "$dir/strict.log"
test ! -f "$dir/strict/manifest.json"
echo "synth + preprocess: OK"
