#!/usr/bin/env bash
# The paper's train/eval switching through the real trainer: in paper mode vilt trains its first
# epoch in training mode and every later one in eval mode (no dropout), as the reference code
# did; without paper mode, and for the dual-stream models in paper mode, every epoch trains with
# dropout. Read from the "dropout" field of metrics.jsonl's epoch records (the model's mode while
# it trained that epoch); a resumed paper-mode run keeps the switch.
source "$(dirname "$0")/train_lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make_data "$work/data"
# dropout_by_epoch RUN_DIR: the "dropout" values of the epoch records, in order.
dropout_by_epoch() {
  grep '"kind":"epoch"' "$1/metrics.jsonl" | sed -E 's/.*"dropout":(true|false).*/\1/' | tr '\n' ' '
}
check() {  # NAME EXPECTED OPTIONS...
  local name=$1 want=$2
  shift 2
  "$MMAUX" train --data.dir "$work/data/shards" --model.preset tiny --data.batch-size 32 \
    --data.eval-batch-size 64 --train.epochs 3 --train.lr 1e-3 --train.out "$work/$name" \
    --dist.threads 1 "$@" > "$work/$name.log" 2>&1 ||
    { cat "$work/$name.log"; fail "$name: training failed"; }
  local got
  got=$(dropout_by_epoch "$work/$name")
  echo "$name: dropout by epoch: $got"
  [ "$got" = "$want" ] || fail "$name: expected '$want', got '$got'"
}
check vilt_paper "true false false " --model.name vilt --train.paper true
grep -q "trains in eval mode" "$work/vilt_paper.log" || fail "paper mode does not log the switch"
check vilt_scaled "true true true " --model.name vilt
check concat_paper "true true true " --model.name ber-vit-concat --train.paper true
echo "PASS: dropout is off from epoch 2 in paper mode for vilt, on otherwise"
