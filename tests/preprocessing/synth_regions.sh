#!/usr/bin/env bash
# Region features through the command line: mmaux synth --region-feature-dim writes regions.h5
# and visual_feat_dim; mmaux preprocess --region-features stores them at 1 and at 2 ranks with the
# same files; a re-run is a no-op; a missing source is a usage error naming it. The grid variant
# (--region-features grid with the tiny ResNet of tests/data, 160 channels) stores 36 cells per
# post that --model.name lxmert trains on; grid without --region-grid-model is a usage error.
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

resnet="$(dirname "$0")/../data/hf_golden/models/resnet"
"$mmaux" synth --out "$dir/raw160" --posts 40 --seed 2 --region-feature-dim 160 > /dev/null
"$mmaux" preprocess --dataset csv --raw "$dir/raw160" --model "$dir/raw160/model" --out "$dir/grid" \
  --region-features grid --region-grid-model "$resnet" > "$dir/grid.log"
grep -q "read 40 = written 40 + filtered 0 + skipped 0" "$dir/grid.log"
grep -q '"source_kind": "grid"' "$dir/grid/manifest.json"
grep -q '"feature_dim": 160' "$dir/grid/manifest.json"
"$mmaux" train --data.dir "$dir/grid" --model.name lxmert --model.preset tiny \
  --model.dir "$dir/raw160/model" --data.batch-size 8 --train.max-steps 2 --train.epochs 1 \
  --loss.itc 0.1 --loss.itm 0.1 --train.out "$dir/grid-run" > "$dir/grid-run.log" 2>&1 ||
  { cat "$dir/grid-run.log"; exit 1; }
test -f "$dir/grid-run/results.json"
rc=0
"$mmaux" preprocess --dataset csv --raw "$dir/raw160" --model "$dir/raw160/model" \
  --out "$dir/bad2" --region-features grid 2> "$dir/bad2.log" || rc=$?
test "$rc" -eq 2
grep -q "needs --region-grid-model" "$dir/bad2.log"
echo "synth + preprocess with region features (files and grid): OK"
