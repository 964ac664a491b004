#!/usr/bin/env bash
# End to end through the command line: mmaux synth, then mmaux preprocess --dataset csv; the report
# adds up, the manifest is there, a re-run is a no-op, a broken image and a decompression bomb are
# reported, not fatal; under mpirun at 2 ranks the output is the same files, and a re-run at any
# number of ranks is a no-op.
set -euo pipefail
mmaux=${MMAUX_BIN:?run under ctest}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$mmaux" synth --out "$dir/raw" --posts 120 --seed 4 > "$dir/synth.log"
grep -q "wrote 120 posts" "$dir/synth.log"
test -f "$dir/raw/model/vocab.txt"
head -1 "$dir/raw/posts.csv" | grep -q "^post_id,text,label,split,relation,decided_by,image$"

# One image truncated, one a 69-byte PNG declaring 60000 x 60000 pixels, one missing: 3 of 121
# rows skipped (< 5 %).
first=$(sed -n 2p "$dir/raw/posts.csv" | cut -d, -f1)
img=$(ls "$dir/raw/images" | grep "^$first\.")
head -c 100 "$dir/raw/images/$img" > "$dir/cut" && mv "$dir/cut" "$dir/raw/images/$img"
third=$(sed -n 4p "$dir/raw/posts.csv" | cut -d, -f1)
img=$(ls "$dir/raw/images" | grep "^$third\.")
cp "${MMAUX_SOURCE_DIR:?}/tests/data/image_bombs/png_60000x60000.png" "$dir/raw/images/$img"
echo "extra,an extra post,positive,train,describes,text,images/gone.jpg" >> "$dir/raw/posts.csv"

"$mmaux" preprocess --dataset csv --raw "$dir/raw" --out "$dir/out" --model "$dir/raw/model" \
  --shard-size 16 > "$dir/pre.log"
cat "$dir/pre.log"
grep -q "read 121 = written 118 + filtered 0 + skipped 3 (image too large 1, missing image 1, \
undecodable image 1)" "$dir/pre.log"
test -f "$dir/out/manifest.json"
grep -q "^extra,.*missing image" "$dir/out/skipped.csv"
grep -q "declares 60000x60000 = 3600000000 pixels" "$dir/out/skipped.csv"

# Two ranks: the same shards, manifest, skip report and splits; re-runs at 2 and at 1 rank are
# no-ops (the output does not depend on the number of ranks).
mpi=("${MPIEXEC:?run under ctest}" -np 2)
"${mpi[@]}" "$mmaux" preprocess --dataset csv --raw "$dir/raw" --out "$dir/out2" \
  --model "$dir/raw/model" --shard-size 16 > "$dir/pre2.log"
grep -q "read 121 = written 118 + filtered 0 + skipped 3" "$dir/pre2.log"
for f in manifest.json skipped.csv splits.csv $(cd "$dir/out" && ls *.h5); do
  cmp "$dir/out/$f" "$dir/out2/$f"
done
test "$(ls "$dir/out" | grep -c '\.h5$')" -ge 8
"${mpi[@]}" "$mmaux" preprocess --dataset csv --raw "$dir/raw" --out "$dir/out2" \
  --model "$dir/raw/model" --shard-size 16 > "$dir/again2.log"
grep -q "is up to date" "$dir/again2.log"
"$mmaux" preprocess --dataset csv --raw "$dir/raw" --out "$dir/out2" --model "$dir/raw/model" \
  --shard-size 16 | grep -q "is up to date"
grep -q "\"preset\": \"fixed:64\"" "$dir/out/manifest.json"

"$mmaux" preprocess --dataset csv --raw "$dir/raw" --out "$dir/out" --model "$dir/raw/model" \
  --shard-size 16 > "$dir/again.log"
grep -q "is up to date" "$dir/again.log"

# Strict skip limit: a clear failure, no manifest.
if "$mmaux" preprocess --dataset csv --raw "$dir/raw" --out "$dir/strict" \
    --model "$dir/raw/model" --max-skip-fraction 0.01 2> "$dir/strict.log"; then
  echo "expected failure with --max-skip-fraction 0.01" >&2
  exit 1
fi
grep -q "max-skip-fraction" "$dir/strict.log"
test ! -f "$dir/strict/manifest.json"
# The same failure at 2 ranks ends the job with an error, and no manifest.
if "${mpi[@]}" "$mmaux" preprocess --dataset csv --raw "$dir/raw" --out "$dir/strict2" \
    --model "$dir/raw/model" --max-skip-fraction 0.01 > /dev/null 2> "$dir/strict2.log"; then
  echo "expected failure at 2 ranks with --max-skip-fraction 0.01" >&2
  exit 1
fi
grep -q "max-skip-fraction" "$dir/strict2.log"
test ! -f "$dir/strict2/manifest.json"
echo "synth + preprocess: OK"
