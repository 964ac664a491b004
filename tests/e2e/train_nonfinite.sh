#!/usr/bin/env bash
# Non-finite steps: rank 0's loss is made NaN from step 4 on (train.inject-nonfinite-from); all
# ranks skip each such step together, count it, and train.max-bad-steps in a row end the run with
# a clear error (exit 1) instead of training on NaN.
source "$(dirname "$0")/train_lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make_data "$work/data"
set +e
train 2 "$work/r" "$work/data/shards" --train.inject-nonfinite-from 4 --train.max-bad-steps 3 \
  --train.max-steps 40 > "$work/log" 2>&1
rc=$?
set -e
grep -E "non-finite|ERROR" "$work/log" | head -8
[ "$rc" -eq 1 ] || { tail -20 "$work/log"; fail "exit code $rc, expected 1"; }
grep -q "step 3: non-finite loss or gradients, step skipped (1 in a row" "$work/log" ||
  fail "no skipped step reported at step 3 (the 4th step)"
[ "$(grep -c 'step skipped' "$work/log")" -ge 2 ] || fail "the skip is not reported by every rank"
grep -q "3 non-finite steps in a row (train.max-bad-steps = 3)" "$work/log" ||
  fail "the abort does not name train.max-bad-steps"
[ ! -f "$work/r/results.json" ] || fail "a diverged run must not write results.json"
echo "PASS: non-finite steps skipped, counted, and the run ended after 3 in a row"
