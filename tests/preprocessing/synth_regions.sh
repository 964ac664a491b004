#!/usr/bin/env bash
# Region features through the command line: mmaux synth --region-feature-dim writes regions.h5
# and visual_feat_dim; mmaux preprocess --region-features stores them at 1 and at 2 ranks with the
# same files; a re-run is a no-op; a missing source is a usage error naming it.
set -euo pipefail
mmaux=${MMAUX_BIN:?run under ctest}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$mmaux" synth --out "$dir/raw" --posts 60 --seed 2 --region-feature-dim 16 > /dev/null
test -f "$dir/raw/regions.h5"
grep -q '"visual_feat_dim": 16' "$dir/raw/model/config.json"

args=(preprocess --dataset csv --raw "$dir/raw" --model "$dir/raw/model" --shard-size 8
      --region-features "$dir/raw/regions.h5")
"$mmaux" "${args[@]}" --out "$dir/out" > "$dir/pre.log"
grep -q "read 60 = written 60 + filtered 0 + skipped 0" "$dir/pre.log"
grep -q '"feature_dim": 16' "$dir/out/manifest.json"
grep -q '"source_kind": "hdf5"' "$dir/out/manifest.json"
"${MPIEXEC:?run under ctest}" -np 2 "$mmaux" "${args[@]}" --out "$dir/out2" > /dev/null
for f in manifest.json skipped.csv splits.csv $(cd "$dir/out" && ls *.h5); do
  cmp "$dir/out/$f" "$dir/out2/$f"
done
"$mmaux" "${args[@]}" --out "$dir/out" | grep -q "is up to date"

rc=0
"$mmaux" preprocess --dataset csv --raw "$dir/raw" --model "$dir/raw/model" --out "$dir/bad" \
  --region-features "$dir/nowhere.h5" 2> "$dir/bad.log" || rc=$?
test "$rc" -eq 2
grep -q "nowhere.h5' does not exist" "$dir/bad.log"
echo "synth + preprocess with region features: OK"
