#!/usr/bin/env bash
# Training throughput of `mmaux train` (the real trainer, real data): samples/s and peak memory for
# the tiny and small presets of each model in $MODELS (default ber-vit-concat, mmbt and lxmert,
# the last on synthetic 2048-d region features) at 1 and 2 ranks with each loss setting, and the
# share of the matmul peak reached. Prints figures; never passes or fails on time.
#   [MODELS="ber-vit-concat mmbt lxmert"] bash build/bench/train/bench_train.sh [BUILD_DIR] [STEPS]
# FLOPs per sample: forward FLOPs of the preset × 3 (forward + backward) × the passes a step
# makes: 1, plus 1 for random ITM (b pairs), plus 3 for hard ITM (3b pairs). MMBT's ITC adds a
# text-only BERT pass that this count leaves out, so its share is a lower bound with ITC.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
steps=${2:-30}
mmaux="$build/bin/mmaux"
flops="$build/bench/train/bench_flops"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
cores=$(nproc)

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

field() { sed -nE "s/.*\"$2\": ([0-9.e+-]+).*/\1/p" "$1" | head -1; }

printf '%-14s %-6s %-5s %-12s %10s %9s %9s %8s\n' model preset ranks setting samples/s peak_MB "%peak" "GF/s"
for model in ${MODELS:-ber-vit-concat mmbt lxmert}; do
for preset in tiny small; do
  size=64; [ "$preset" = small ] && size=128
  data="$work/$preset"
  if [ "$model" = lxmert ]; then
    prepare_lxmert "$preset" "$size"
    data="$work/lxmert-$preset"
  else
    [ -d "$work/$preset/shards" ] || prepare "$preset" "$size"
  fi
  len=$(sed -nE 's/.*"max_text_length": *([0-9]+).*/\1/p' "$data/raw/model/config.json")
  for ranks in 1 2; do
    threads=$((cores / ranks)); [ "$threads" -ge 1 ] || threads=1
    for setting in ce itc itm itc+itm-hard; do
      opts=(--loss.itc 0 --loss.itm 0); passes=1
      case $setting in
        itc) opts=(--loss.itc 0.1 --loss.itm 0) ;;
        itm) opts=(--loss.itc 0 --loss.itm 0.1); passes=2 ;;
        itc+itm-hard) opts=(--loss.itc 0.1 --loss.itm 0.1 --loss.itm-mode hard); passes=4 ;;
      esac
      run="$work/run-$model-$preset-$ranks-$setting"
      # One multi-threaded rank must not be bound to one core (mpirun's default for np <= 2).
      bind=(); [ "$threads" -gt 1 ] && bind=(--bind-to none)
      # The machine's neighbours change its speed from minute to minute: the matmul peak is
      # measured right before and right after each run, and the run is compared with their mean.
      read -r gf peak_before < <("$flops" "$model" "$preset" "${len:-32}" "$cores")
      mpirun -np "$ranks" "${bind[@]}" "$mmaux" train --data.dir "$data/shards" --model.name "$model" --model.preset "$preset" \
        --data.batch-size 32 --train.epochs 1000 --train.max-steps "$steps" --train.lr 1e-4 \
        --train.out "$run" --dist.threads "$threads" --train.log-every 1000 "${opts[@]}" \
        --log.level warn > "$run.log" 2>&1 || { echo "run failed: $run.log"; tail "$run.log"; continue; }
      read -r gf peak_after < <("$flops" "$model" "$preset" "${len:-32}" "$cores")
      peak=$(awk -v a="$peak_before" -v b="$peak_after" 'BEGIN {printf "%.1f", (a + b) / 2}')
      sps=$(field "$run/results.json" train_samples_per_s)
      mem=$(field "$run/results.json" peak_memory_mb)
      pct=$(awk -v s="$sps" -v g="$gf" -v p="$passes" -v k="$peak" 'BEGIN {printf "%.0f", 100 * s * g * 3 * p / k}')
      printf '%-14s %-6s %-5s %-12s %10.1f %9.0f %8s%% %8.1f\n' "$model" "$preset" "$ranks" "$setting" "$sps" "$mem" "$pct" "$peak"
    done
  done
done
done
echo "GF/s: float32 1024x1024 matmul GFLOP/s with $cores threads in one process, mean of before and after the run"
echo "peak_MB: rank 0's peak resident memory; samples/s excludes evaluation and checkpoints"
