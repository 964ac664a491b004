#!/usr/bin/env bash
# Checkpoint robustness: a corrupt newest checkpoint is reported and the one before it used;
# resuming with a different configuration is refused with the differing keys listed.
source "$(dirname "$0")/train_lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make_data "$work/data"
opts=(--train.max-steps 6 --train.checkpoint-every 3 --train.keep-last 3)
train 1 "$work/r" "$work/data/shards" "${opts[@]}" > "$work/1.log" 2>&1 ||
  { cat "$work/1.log"; fail "first run failed"; }
[ -d "$work/r/checkpoints/step-00000003" ] && [ -d "$work/r/checkpoints/step-00000006" ] ||
  fail "expected checkpoints at steps 3 and 6: $(ls "$work/r/checkpoints")"

# A different learning rate: refused, naming the key, exit code 2.
set +e
train 1 "$work/r" "$work/data/shards" "${opts[@]}" --train.resume auto --train.weight-decay 0.5 \
  > "$work/2.log" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "resuming with another configuration was accepted"
grep -q "differing keys: train.weight-decay" "$work/2.log" || { cat "$work/2.log"; fail "differing key not named"; }

# Truncate the newest checkpoint's model: it is skipped with a warning, step 3 is used.
f="$work/r/checkpoints/step-00000006/model.safetensors"
head -c 100 "$f" > "$f.part" && mv "$f.part" "$f"
train 1 "$work/r" "$work/data/shards" "${opts[@]}" --train.resume auto > "$work/3.log" 2>&1 ||
  { cat "$work/3.log"; fail "resume past a corrupt checkpoint failed"; }
grep -q "skipping checkpoint '.*step-00000006': model.safetensors has 100 bytes" "$work/3.log" ||
  { cat "$work/3.log"; fail "the corrupt checkpoint was not reported"; }
grep -q "resumed from '.*step-00000003'" "$work/3.log" || { cat "$work/3.log"; fail "did not fall back to step 3"; }
[ -f "$work/r/results.json" ] || fail "no results.json"
echo "PASS: corrupt checkpoint skipped, configuration change refused"
