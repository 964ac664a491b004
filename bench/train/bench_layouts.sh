#!/usr/bin/env bash
# 2 ranks x 1 thread against 1 rank x 2 threads, run by run: for each preset and loss setting the
# two layouts alternate REPEATS times, so that both see the same slow or quick spells of a shared
# machine, and the median of the per-pair ratios (2x1 samples/s / 1x2 samples/s) is printed.
#   bash build/bench/train/bench_layouts.sh [BUILD_DIR] [STEPS] [REPEATS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
steps=${2:-12}
repeats=${3:-3}
mmaux="$build/bin/mmaux"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

run() {  # run PRESET RANKS THREADS OUT OPTS... -> samples/s
  local preset=$1 ranks=$2 threads=$3 out=$4
  shift 4
  local bind=()
  [ "$threads" -gt 1 ] && bind=(--bind-to none)
  mpirun -np "$ranks" "${bind[@]}" "$mmaux" train --data.dir "$work/$preset/shards" --model.preset "$preset" \
    --data.batch-size 32 --train.epochs 1000 --train.max-steps "$steps" --train.lr 1e-4 \
    --train.out "$out" --dist.threads "$threads" --train.log-every 1000 --log.level warn "$@" \
    > "$out.log" 2>&1 || { echo "run failed: $out.log" >&2; tail "$out.log" >&2; exit 1; }
  sed -nE 's/.*"train_samples_per_s": ([0-9.e+-]+).*/\1/p' "$out/results.json" | head -1
}

printf '%-6s %-12s %-34s %s\n' preset setting "samples/s 1x2 / 2x1 per pair" "median 2x1/1x2"
for preset in tiny small; do
  size=64; [ "$preset" = small ] && size=128
  prepare "$preset" "$size"
  for setting in ce itc itm itc+itm-hard; do
    opts=(--loss.itc 0 --loss.itm 0)
    case $setting in
      itc) opts=(--loss.itc 0.1 --loss.itm 0) ;;
      itm) opts=(--loss.itc 0 --loss.itm 0.1) ;;
      itc+itm-hard) opts=(--loss.itc 0.1 --loss.itm 0.1 --loss.itm-mode hard) ;;
    esac
    pairs="" ratios=()
    for r in $(seq "$repeats"); do
      a=$(run "$preset" 1 2 "$work/a-$preset-$setting-$r" "${opts[@]}")
      b=$(run "$preset" 2 1 "$work/b-$preset-$setting-$r" "${opts[@]}")
      pairs+=$(printf '%.0f/%.0f ' "$a" "$b")
      ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", b / a}')")
    done
    median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}')
    printf '%-6s %-12s %-34s %s\n' "$preset" "$setting" "$pairs" "$median"
  done
done
