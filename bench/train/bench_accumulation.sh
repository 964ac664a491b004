#!/usr/bin/env bash
# Contrastive accumulation (issue 15): samples/s and peak memory of `mmaux train` on the `small`
# preset at a global batch of 256 with ITC + hard ITM, in one run of this script, side by side:
#   - 1 rank x 8 micro-batches of 32, contrastive accumulation (the whole batch's negatives:
#     the objective of one batch of 256, one extra encoder forward per micro-batch);
#   - 1 rank x 8 micro-batches of 32, plain accumulation (each micro-batch's own 32 negatives);
#   - 1 rank x one batch of 256 (skipped with MAX_FULL=0, e.g. where memory does not allow it).
# Also the ITC and ITM values of the first step (before any update): the contrastive variant
# must match one batch of 256 and plain accumulation must not. Prints figures; never passes or
# fails on time.
#   bash build/bench/train/bench_accumulation.sh [BUILD_DIR] [STEPS] [SETTING]
# SETTING: itc+itm-hard (default) or itc.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
steps=${2:-4}
setting=${3:-itc+itm-hard}
mmaux="$build/bin/mmaux"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
threads=$(nproc)

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

case $setting in
  itc) loss=(--loss.itc 0.1 --loss.itm 0) ;;
  itc+itm-hard) loss=(--loss.itc 0.1 --loss.itm 0.1 --loss.itm-mode hard) ;;
  *) echo "unknown setting '$setting' (itc or itc+itm-hard)" >&2; exit 2 ;;
esac

field() { sed -nE "s/.*\"$2\": ([0-9.e+-]+).*/\1/p" "$1" | head -1; }
first_step() { grep -m1 '"kind": *"step"' "$1/metrics.jsonl" | sed -nE "s/.*\"$2\": *([0-9.e+-]+).*/\1/p"; }

names=() rates=() peaks=() itcs=() itms=()
run() {  # run NAME BATCH ACCUMULATE CONTRASTIVE
  local name=$1 batch=$2 accumulate=$3 contrastive=$4 out="$work/run-$1"
  out=${out// /_}
  "$mmaux" train --data.dir "$work/small/shards" --model.preset small \
    --data.batch-size "$batch" --train.accumulate "$accumulate" \
    --train.contrastive-accumulation "$contrastive" --train.epochs 1000 \
    --train.max-steps "$steps" --train.lr 1e-4 --train.out "$out" --dist.threads "$threads" \
    --train.log-every 1 "${loss[@]}" --log.level warn > "$out.log" 2>&1 ||
    { echo "run failed: $out.log" >&2; tail "$out.log" >&2; return 1; }
  names+=("$name")
  rates+=("$(field "$out/results.json" train_samples_per_s)")
  peaks+=("$(field "$out/results.json" peak_memory_mb)")
  itcs+=("$(first_step "$out" itc)")
  itms+=("$(first_step "$out" itm)")
}

prepare small 128
run "8 x 32, contrastive accum." 32 8 true
run "8 x 32, plain accumulation" 32 8 false
if [ "${MAX_FULL:-1}" != 0 ]; then run "1 x 256" 256 1 true; fi

echo "small preset, 128 px, global batch 256, $setting, $steps steps, 1 rank x $threads threads"
printf '%-28s %10s %8s %9s %8s %9s %9s\n' variant samples/s ratio peak_MB ratio \
  "itc@1" "itm@1"
for i in "${!names[@]}"; do
  printf '%-28s %10.1f %8.2f %9.0f %8.2f %9.4f %9.4f\n' "${names[$i]}" "${rates[$i]}" \
    "$(awk -v a="${rates[$i]}" -v b="${rates[0]}" 'BEGIN { print a / b }')" "${peaks[$i]}" \
    "$(awk -v a="${peaks[$i]}" -v b="${peaks[0]}" 'BEGIN { print a / b }')" "${itcs[$i]}" \
    "${itms[$i]}"
done
echo "ratio: to the first row (contrastive accumulation); peak_MB: the process's peak"
echo "resident memory (results.json); samples/s excludes evaluation and checkpoints; itc@1,"
echo "itm@1: the first step's losses, before any update (plain accumulation: its last micro-batch's)"
