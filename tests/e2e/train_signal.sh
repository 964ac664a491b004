#!/usr/bin/env bash
# SIGTERM to one rank: every rank stops after the same step, a resumable checkpoint is written,
# the job exits 75; the resumed run completes. Usage: train_signal.sh [pretrain]: the same for
# `mmaux pretrain` (its finished run has RUN/towers and a results.json of "kind": "pretrain").
source "$(dirname "$0")/train_lib.sh"
command=${1:-train}
export MMAUX_COMMAND=$command
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make_data "$work/data"
opts=(--loss.itm 0.1)
[ "$command" = pretrain ] && opts=(--pretrain.itm 1)
train 2 "$work/r" "$work/data/shards" "${opts[@]}" > "$work/r1.log" 2>&1 &
pid=$!
# Wait for training to be under way, then signal the rank-1 process only.
for _ in $(seq 1 3000); do
  [ -f "$work/r/metrics.jsonl" ] && grep -qE '"step":3[,}]' "$work/r/metrics.jsonl" && break
  sleep 0.01
done
rank1=$( (pgrep -f "mmaux $command .*$work/r" || true) | while read -r p; do
  if tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then echo "$p"; fi
done | head -1)
[ -n "$rank1" ] || { cat "$work/r1.log"; fail "rank 1 process not found"; }
kill -TERM "$rank1"
set +e
wait "$pid"
rc=$?
set -e
cat "$work/r1.log" | tail -5
[ "$rc" -eq 75 ] || { cat "$work/r1.log"; fail "exit code $rc, expected 75"; }
ckpt=$(ls -d "$work/r/checkpoints"/step-* | tail -1)
step=$(sed -nE 's/.*"step": ([0-9]+),?/\1/p' "$ckpt/state.json" | head -1)
last=$(step_losses "$work/r" | tail -1 | cut -d' ' -f1)
[ "$step" = "$last" ] || fail "checkpoint step $step but the last logged step is $last"
n=$(grep -c "stop signal received: checkpointing at step $step " "$work/r1.log" || true)
echo "checkpoint at step $step; ranks reporting the stop at that step: $n"
[ ! -f "$work/r/results.json" ] || fail "a stopped run must not write results.json"
train 2 "$work/r" "$work/data/shards" "${opts[@]}" --train.resume auto \
  > "$work/r2.log" 2>&1 || { cat "$work/r2.log"; fail "resume after the signal failed"; }
grep -q "resumed from '.*step-0*$step'" "$work/r2.log" || { cat "$work/r2.log"; fail "did not resume at $step"; }
if [ "$command" = pretrain ]; then
  [ ! -d "$work/r/.tmp-towers" ] && [ -f "$work/r/towers/text/model.safetensors" ] ||
    fail "no towers after the resumed run"
  grep -q "done after" "$work/r2.log" || fail "the resumed pretraining did not finish"
  grep -q '"kind": "pretrain"' "$work/r/results.json" || fail "no pretraining results.json"
else
  [ -f "$work/r/results.json" ] || fail "no results.json after the resumed run"
fi
echo "PASS: signal stop at step $step, exit 75, resumed to completion"
