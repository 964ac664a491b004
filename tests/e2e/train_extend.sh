#!/usr/bin/env bash
# Extending a run: N steps, then resumed with train.max-steps 2N, equals a run straight to 2N
# (bit-identical parameters, optimizer state and RNG streams, identical losses) for a constant
# schedule; the same for more epochs, with train.accumulate leaving micro-batches at each epoch's
# end. results.json records the extension. A linear schedule refuses until told how to go on.
source "$(dirname "$0")/train_lib.sh"
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
make_data "$work/data"

# run RUN_DIR [options...]: one process, the tiny model, dropout on (tiny preset).
run() {
  local dir=$1
  shift
  "$MMAUX" train --data.dir "$work/data/shards" --model.preset tiny --data.batch-size 16 \
    --data.eval-batch-size 64 --train.lr 1e-3 --train.out "$dir" --dist.threads 1 \
    --train.log-every 1 --train.keep-last 100 --loss.itc 0.1 --loss.itm 0.1 "$@"
}
same_state() {  # same_state RUN_A RUN_B STEP
  local a=$1/checkpoints/step-$(printf %08d "$3") b=$2/checkpoints/step-$(printf %08d "$3")
  cmp "$a/model.safetensors" "$b/model.safetensors" || fail "parameters differ at step $3"
  cmp "$a/trainer.safetensors" "$b/trainer.safetensors" || fail "optimizer or RNG state differs at step $3"
  diff <(step_losses "$1") <(step_losses "$2") || fail "logged losses differ"
}

# 1. train.max-steps 6 -> 12: the first leg stops inside an epoch, the second crosses into the next.
run "$work/a" --train.epochs 3 --train.max-steps 12 > "$work/a.log" 2>&1 || { cat "$work/a.log"; fail "run a"; }
per_epoch=$(grep -m1 '"kind":"epoch"' "$work/a/metrics.jsonl" | sed -E 's/.*"step":([0-9]+).*/\1/')
echo "steps per epoch: $per_epoch"
[ "$per_epoch" -gt 6 ] && [ "$per_epoch" -lt 12 ] || fail "the fixture needs 6 < steps per epoch < 12"
run "$work/b" --train.epochs 3 --train.max-steps 6 > "$work/b1.log" 2>&1 || { cat "$work/b1.log"; fail "run b, first leg"; }
[ -f "$work/b/results.json" ] || fail "the first leg wrote no results.json"
run "$work/b" --train.epochs 3 --train.max-steps 12 --train.resume auto > "$work/b2.log" 2>&1 ||
  { cat "$work/b2.log"; fail "run b, extension"; }
grep -q "extending the run at step 6: train.max-steps 6 -> 12 (12 steps in all instead of 6)" \
  "$work/b2.log" || { cat "$work/b2.log"; fail "the extension was not logged"; }
same_state "$work/a" "$work/b" 12
[ -f "$work/b/results-step-00000006.json" ] || fail "the first leg's results.json was not kept aside"
grep -q '"train.max-steps": {' "$work/b/results.json" || fail "no extension in results.json"
grep -A3 '"train.max-steps": {' "$work/b/results.json" | tr -d ' \n' | grep -q '"from":"6","to":"12"' ||
  fail "results.json does not say from 6 to 12: $(grep -A12 '"extensions"' "$work/b/results.json")"
grep -q '"train.max-steps": "12"' "$work/b/results.json" || fail "results.json lacks the final value"
echo "check: max-steps 6 -> 12 equals a run straight to 12"

# 2. train.epochs 1 -> 2 with 3 micro-batches a step: each epoch ends with micro-batches that make
# no step but draw dropout masks; the extended run reads them exactly as a straight one does.
run "$work/c" --train.epochs 2 --train.accumulate 3 > "$work/c.log" 2>&1 || { cat "$work/c.log"; fail "run c"; }
run "$work/d" --train.epochs 1 --train.accumulate 3 > "$work/d1.log" 2>&1 || { cat "$work/d1.log"; fail "run d"; }
run "$work/d" --train.epochs 2 --train.accumulate 3 --train.resume auto > "$work/d2.log" 2>&1 ||
  { cat "$work/d2.log"; fail "run d, extension"; }
last=$(ls "$work/c/checkpoints" | grep '^step-' | tail -1 | sed 's/step-0*//')
same_state "$work/c" "$work/d" "$last"
[ "$(grep -c '"kind":"epoch"' "$work/c/metrics.jsonl")" = "$(grep -c '"kind":"epoch"' "$work/d/metrics.jsonl")" ] ||
  fail "the extended run validated an epoch twice"
echo "check: epochs 1 -> 2 equals a run straight to 2 epochs (step $last)"

# 2b. The first leg stops (train.max-steps) at the last full step of epoch 1, before that epoch's
# leftover micro-batches: the extended run reads them, and does not validate the same model again.
per_epoch_c=$(grep -m1 '"kind":"epoch"' "$work/c/metrics.jsonl" | sed -E 's/.*"step":([0-9]+).*/\1/')
run "$work/g" --train.epochs 2 --train.accumulate 3 --train.max-steps "$per_epoch_c" \
  > "$work/g1.log" 2>&1 || { cat "$work/g1.log"; fail "run g"; }
run "$work/g" --train.epochs 2 --train.accumulate 3 --train.resume auto > "$work/g2.log" 2>&1 ||
  { cat "$work/g2.log"; fail "run g, extension"; }
grep -q "was validated when the run stopped there" "$work/g2.log" ||
  { cat "$work/g2.log"; fail "the extended run did not recognise the validated model"; }
same_state "$work/c" "$work/g" "$last"
[ "$(grep -c '"kind":"epoch"' "$work/c/metrics.jsonl")" = "$(grep -c '"kind":"epoch"' "$work/g/metrics.jsonl")" ] ||
  fail "the extended run validated the model of step $per_epoch_c twice"
echo "check: max-steps $per_epoch_c -> all (epoch end with leftover micro-batches) equals a straight run"

# 3. A linear schedule over 4 steps, extended to 8: refused, then rescaled.
run "$work/e" --train.epochs 3 --train.max-steps 4 --train.schedule linear > "$work/e1.log" 2>&1 ||
  { cat "$work/e1.log"; fail "run e"; }
set +e
run "$work/e" --train.epochs 3 --train.max-steps 8 --train.schedule linear --train.resume auto \
  > "$work/e2.log" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || { cat "$work/e2.log"; fail "extending a linear schedule: exit $rc, expected 2"; }
grep -q "Say how to go on: --train.extend-schedule rescale" "$work/e2.log" ||
  { cat "$work/e2.log"; fail "the refusal does not say how to go on"; }
run "$work/e" --train.epochs 3 --train.max-steps 8 --train.schedule linear --train.resume auto \
  --train.extend-schedule rescale > "$work/e3.log" 2>&1 || { cat "$work/e3.log"; fail "rescale"; }
tr -d ' \n' < "$work/e/results.json" | grep -q '"schedule":"rescale"' || fail "rescale not recorded"
# Step 5 is step 4 of a schedule over 8: 1e-3 * (1 - 4/8).
grep '"kind":"step"' "$work/e/metrics.jsonl" | grep '"step":5}' | tail -1 | grep -q '"lr":0.0005,' ||
  fail "step 5's learning rate is not 0.0005: $(grep '"step":5}' "$work/e/metrics.jsonl")"
echo "PASS: extensions are exact; a schedule over the number of steps needs train.extend-schedule"
