#!/usr/bin/env bash
# Training parity with plain PyTorch: mmaux and bench/model/python_train.py train the same model
# from the same initial weights (mmaux's, written by --train.save-initial), without dropout, on
# the same batches in the same order, with the same loss, AdamW, schedule and clipping, for
# PARITY_STEPS steps; bench/model/parity_compare.py prints the largest relative difference of the
# per-step losses for steps 1-10, 11-50 and 51-STEPS. Twice: in float32, where two
# implementations round differently and training amplifies it, and in float64
# (--train.dtype float64), where agreement to ~1e-15 shows that the computations are the same.
# A third table compares mmaux's own float32 and float64 runs: how far float32 rounding alone
# moves one implementation's trajectory.
#
#   bash bench/model/parity.sh [BUILD]   (env: PARITY_DIR, PARITY_DATA, PARITY_MODEL,
#                                          PARITY_PRESET, PARITY_ITC, PARITY_STEPS, PARITY_THREADS)
#
# Data: the demo's synthetic set (made as launch/demo.sh makes it when PARITY_DATA has no
# manifest). Needs /usr/bin/python3 with python3-torch and python3-h5py. Prints figures; never
# passes or fails on them.
set -euo pipefail
build=${1:-build}
mmaux="$(cd "$build/bin" && pwd)/mmaux"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work=${PARITY_DIR:-runs/parity}
data=${PARITY_DATA:-data/demo/shards}
model=${PARITY_MODEL:-ber-vit-concat}
preset=${PARITY_PRESET:-tiny}
itc=${PARITY_ITC:-0.1}
steps=${PARITY_STEPS:-150}
threads=${PARITY_THREADS:-2}
py=/usr/bin/python3

if [ ! -f "$data/manifest.json" ]; then
  raw="$(dirname "$data")/raw"
  [ -f "$raw/posts.csv" ] || "$mmaux" synth --out "$raw" --posts 1500 --seed 1
  "$mmaux" preprocess --dataset csv --raw "$raw" --out "$data" --model "$raw/model"
fi

# The demo's optimisation settings (configs/demo.ini), written out for both implementations.
common=(--epochs 10 --max-steps "$steps" --batch-size 32 --lr 1e-3 --weight-decay 0.01
        --schedule linear --warmup 0.1 --clip-norm 1.0 --itc "$itc" --dropout 0 --encoder-dropout 0)
for dtype in float32 float64; do
  m="$work/mmaux-$dtype" p="$work/python-$dtype"
  rm -rf "$m" "$p"
  mkdir -p "$m"
  echo "[parity] mmaux $model $preset $dtype: $steps steps -> $m"
  "$mmaux" train --config "$root/configs/demo.ini" --data.dir "$data" --model.name "$model" \
    --model.preset "$preset" --model.dropout 0 --model.encoder-dropout 0 --loss.itc "$itc" \
    --train.seed 1 --train.epochs 10 --train.max-steps "$steps" --train.log-every 1 \
    --train.dtype "$dtype" --train.out "$m" --train.save-initial "$m/initial" \
    --dist.threads "$threads" --data.prefetch 0 > "$m.log" 2>&1 || { tail "$m.log"; exit 1; }
  echo "[parity] python $model $preset $dtype: $steps steps -> $p"
  "$py" "$here/python_train.py" --data "$data" --out "$p" --init "$m/initial" --seed 1 \
    --model "$model" --preset "$preset" --dtype "$dtype" --threads "$threads" "${common[@]}" \
    > "$p.log" 2>&1 || { tail "$p.log"; exit 1; }
done
if [ "$steps" -le 10 ]; then ranges="1-$steps"
elif [ "$steps" -le 50 ]; then ranges="1-10,11-$steps"
else ranges="1-10,11-50,51-$steps"; fi
for dtype in float32 float64; do
  echo
  "$py" "$here/parity_compare.py" "$work/mmaux-$dtype/metrics.jsonl" \
    "$work/python-$dtype/metrics.jsonl" --ranges "$ranges" --label "$model $preset, $dtype"
done
echo
"$py" "$here/parity_compare.py" "$work/mmaux-float64/metrics.jsonl" \
  "$work/mmaux-float32/metrics.jsonl" --ranges "$ranges" --names "mmaux fp64,mmaux fp32" \
  --label "control: float32 rounding within mmaux"
