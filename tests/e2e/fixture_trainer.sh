#!/usr/bin/env bash
# TEST FIXTURE for the launcher and cluster scripts; it trains nothing. It follows the contract
# of `mmaux train` that the launch machinery relies on, with known numbers, so the Slurm and
# aggregation paths can be tested without the real trainer (tests/e2e/slurm_sweep_real.sh runs
# the real one):
#   - options --train.out DIR, --train.seed S, --train.resume auto, --loss.itc W, --loss.itm W
#     (every other option is accepted and ignored); one process per rank (mpirun or srun);
#   - "steps" of MMAUX_FIXTURE_STEP_S seconds (default 0.2), MMAUX_FIXTURE_STEPS of them
#     (default 15); rank 0 writes DIR/checkpoint (the last finished step) after each;
#   - SIGUSR1 or SIGTERM: every rank stops after its current step and exits 75 (rank 0 after
#     writing the checkpoint); --train.resume auto continues after the checkpointed step;
#   - at the end rank 0 writes DIR/results.json with test macro F1 = 0.50 + 0.01 * seed + b and
#     weighted F1 = macro F1 + 0.05, b = 0, 0.02, 0.01, 0.03 for ce, itc, itm, itc+itm;
#   - seed MMAUX_FIXTURE_FAIL_SEED (if set) fails with exit code 1 after its first step.
set -uo pipefail
[ "${1:-}" = train ] && shift
out="" seed=1 resume=none itc=0 itm=0 model=tiny-model data=data/fixture
while [ $# -gt 0 ]; do
  case "$1" in
    --train.out) out=$2 ;;
    --train.seed) seed=$2 ;;
    --train.resume) resume=$2 ;;
    --loss.itc) itc=$2 ;;
    --loss.itm) itm=$2 ;;
    --model.name) model=$2 ;;
    --data.dir) data=$2 ;;
  esac
  shift; [ $# -gt 0 ] && shift
done
[ -n "$out" ] || { echo "fixture: --train.out is required" >&2; exit 2; }
rank=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${SLURM_PROCID:-0}}}
world=${OMPI_COMM_WORLD_SIZE:-${SLURM_STEP_NUM_TASKS:-${SLURM_NTASKS:-1}}}
steps=${MMAUX_FIXTURE_STEPS:-15}
dt=${MMAUX_FIXTURE_STEP_S:-0.2}
mkdir -p "$out"
stop=0
trap 'stop=1' USR1 TERM
start=0
if [ "$resume" = auto ] && [ -f "$out/checkpoint" ]; then
  start=$(cat "$out/checkpoint")
  [ "$rank" = 0 ] && echo "fixture: resumed from checkpoint at step $start"
fi
[ "$rank" = 0 ] && echo "fixture: rank 0 of $world, seed $seed, itc $itc, itm $itm, steps $start..$steps"
for ((step = start + 1; step <= steps; step++)); do
  sleep "$dt" &
  sleeper=$!
  # A trapped signal interrupts wait; finish the step first.
  while kill -0 "$sleeper" 2> /dev/null; do wait "$sleeper"; done
  [ "$rank" = 0 ] && echo "$step" > "$out/checkpoint.tmp" && mv "$out/checkpoint.tmp" "$out/checkpoint"
  [ "$rank" = 0 ] && echo "fixture: step $step"
  if [ "${MMAUX_FIXTURE_FAIL_SEED:-}" = "$seed" ]; then
    echo "fixture: rank $rank fails on purpose (MMAUX_FIXTURE_FAIL_SEED=$seed)" >&2
    exit 1
  fi
  if [ $stop = 1 ]; then
    echo "fixture: rank $rank stops after step $step on a signal; checkpoint written"
    exit 75
  fi
done
if [ "$rank" = 0 ]; then
  setting=ce
  awk "BEGIN{exit !($itc > 0)}" && setting=itc
  awk "BEGIN{exit !($itm > 0)}" && { [ $setting = itc ] && setting=itc+itm || setting=itm; }
  case $setting in ce) b=0 ;; itc) b=0.02 ;; itm) b=0.01 ;; itc+itm) b=0.03 ;; esac
  macro=$(awk "BEGIN{printf \"%.4f\", 0.50 + 0.01 * $seed + $b}")
  weighted=$(awk "BEGIN{printf \"%.4f\", $macro + 0.05}")
  cat > "$out/results.json.tmp" <<JSON
{"mmaux_version": "fixture", "config": {"train.seed": "$seed", "loss.itc": "$itc", "loss.itm": "$itm"},
 "dataset": "$(basename "$data")", "model": "$model", "preset": "tiny", "loss_setting": "$setting",
 "itm_mode": "random", "seed": $seed, "world_size": $world, "best_epoch": 1,
 "validation": {"macro_f1": $macro}, "test": {"macro_f1": $macro, "weighted_f1": $weighted, "accuracy": $macro},
 "timings": {}, "peak_memory_mb": 1.0}
JSON
  mv "$out/results.json.tmp" "$out/results.json"
  echo "fixture: done, results.json written"
fi
exit 0
