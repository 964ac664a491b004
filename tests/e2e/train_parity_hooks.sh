#!/usr/bin/env bash
# The two hooks of the training parity benchmark (bench/model/parity.sh):
# - train.save-initial writes the weights the run starts from: a run that loads them with
#   --model.dir logs bit-identical losses, step by step;
# - train.dtype float64 trains in double (the checkpoint's tensors are F64) along the float32
#   trajectory (same first-step loss to float32 rounding, not bit-identical).
source "$(dirname "$0")/train_lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make_data "$work/data"
opts=(--model.dropout 0 --model.encoder-dropout 0 --loss.itc 0.1 --train.max-steps 4)
train 1 "$work/a" "$work/data/shards" "${opts[@]}" --train.save-initial "$work/init" \
  > "$work/a.log" 2>&1 || { tail "$work/a.log"; fail "run a"; }
for f in model.safetensors config.json itc.safetensors; do
  [ -s "$work/init/$f" ] || fail "train.save-initial wrote no $f"
done
train 1 "$work/b" "$work/data/shards" "${opts[@]}" --model.dir "$work/init" \
  > "$work/b.log" 2>&1 || { tail "$work/b.log"; fail "run b"; }
step_losses "$work/a" > "$work/a.losses"
step_losses "$work/b" > "$work/b.losses"
[ "$(wc -l < "$work/a.losses")" -eq 4 ] || fail "expected 4 logged steps, got $(cat "$work/a.losses")"
cmp -s "$work/a.losses" "$work/b.losses" ||
  fail "a run from the saved initial weights differs: $(paste "$work/a.losses" "$work/b.losses")"

train 1 "$work/c" "$work/data/shards" "${opts[@]}" --train.dtype float64 \
  > "$work/c.log" 2>&1 || { tail "$work/c.log"; fail "run c (float64)"; }
ckpt=$(ls -d "$work/c/checkpoints/"step-* | tail -1)
head -c 65536 "$ckpt/model.safetensors" | grep -aq '"dtype":"F64"' ||
  fail "train.dtype float64: the checkpoint holds no F64 tensor"
! head -c 65536 "$ckpt/model.safetensors" | grep -aq '"dtype":"F32"' ||
  fail "train.dtype float64: the checkpoint still holds F32 tensors"
step_losses "$work/c" > "$work/c.losses"
awk 'NR == FNR { a[$1] = $2; next } $1 == 1 {
       d = ($2 - a[1]) / a[1]; if (d < 0) d = -d
       if (d > 1e-5 || $2 == a[1]) { print "step 1: float32 " a[1] ", float64 " $2; exit 1 }
       found = 1 }
     END { exit !found }' "$work/a.losses" "$work/c.losses" ||
  fail "float64 step-1 loss not within float32 rounding of the float32 one (or identical)"
echo "PASS: initial weights reproduce the run bit for bit; float64 trains along the float32 path"
