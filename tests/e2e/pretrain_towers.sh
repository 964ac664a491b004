#!/usr/bin/env bash
# `mmaux pretrain` writes RUN/towers, and both commands start from exactly those weights:
#   - `mmaux train --model.dir RUN/towers` (learning rate 0, one step): its best model, exported
#     by `mmaux export`, holds the image tower byte for byte (the same writer and keys);
#   - `mmaux pretrain --model.dir RUN/towers` (learning rate 0, one step) writes the text tower
#     and its MLM head (cls.predictions.*, loaded back from the directory) byte for byte.
# Also: `mmaux preprocess --model RUN/towers` reads the tokenizer the towers carry, pretraining
# runs on an unlabeled data set, and vilt is refused.
source "$(dirname "$0")/train_lib.sh"
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
make_data "$work/data"
export MMAUX_COMMAND=pretrain
train 2 "$work/p" "$work/data/shards" --train.max-steps 4 > "$work/p.log" 2>&1 ||
  { cat "$work/p.log"; fail "pretraining failed"; }
towers="$work/p/towers"
for f in text/config.json text/model.safetensors text/vocab.txt image/config.json image/model.safetensors; do
  [ -f "$towers/$f" ] || fail "RUN/towers/$f is missing"
done
grep -q BertForMaskedLM "$towers/text/config.json" || fail "text/config.json is not BertForMaskedLM's"
grep -q '"itc"' "$work/p/metrics.jsonl" || fail "no ITC in metrics.jsonl"

# One step at learning rate 0 of COMMAND from the towers: RUN_DIR [options...].
from_towers() {
  local command=$1 run=$2
  shift 2
  "$MMAUX" "$command" --data.dir "$work/data/shards" --model.dir "$towers" --model.preset tiny \
    --data.batch-size 16 --data.eval-batch-size 64 --train.lr 0 --train.max-steps 1 \
    --train.epochs 1 --train.out "$run" --dist.threads 1 "$@"
}

# Fine-tuning from the towers.
from_towers train "$work/t" > "$work/t.log" 2>&1 ||
  { cat "$work/t.log"; fail "training from the towers failed"; }
grep -q "pre-training tensors skipped" "$work/t.log" || fail "the MLM head was not reported as skipped"
"$MMAUX" export --checkpoint "$work/t/best" --out "$work/x" --log.level warn
cmp "$towers/image/model.safetensors" "$work/x/image/model.safetensors" ||
  fail "train did not start from the pretrained image tower"

# Pretraining again from the towers: the text tower and the MLM head come back unchanged.
from_towers pretrain "$work/q" > "$work/q.log" 2>&1 || { cat "$work/q.log"; fail "pretraining from the towers failed"; }
cmp "$towers/text/model.safetensors" "$work/q/towers/text/model.safetensors" ||
  fail "pretrain did not start from the pretrained text tower and MLM head"

# The towers' tokenizer preprocesses raw posts.
"$MMAUX" preprocess --dataset csv --raw "$work/data/raw" --out "$work/shards2" --model "$towers" \
  --log.level warn || fail "preprocess --model RUN/towers failed"

# An unlabeled data set (mmaux synth --unlabeled): pretraining needs no labels.
"$MMAUX" synth --out "$work/u" --posts 50 --unlabeled 120 --seed 4 --log.level warn
"$MMAUX" preprocess --dataset csv --raw "$work/u/unlabeled" --out "$work/ushards" \
  --model "$work/u/model" --log.level warn
train 2 "$work/pu" "$work/ushards" --train.max-steps 2 > "$work/pu.log" 2>&1 ||
  { cat "$work/pu.log"; fail "pretraining on unlabeled posts failed"; }
[ -f "$work/pu/towers/text/model.safetensors" ] || fail "no towers from the unlabeled data set"

# Models without separate towers are refused, naming the supported ones.
if "$MMAUX" pretrain --data.dir "$work/data/shards" --model.name vilt --train.out "$work/v" \
  > "$work/v.log" 2>&1; then
  fail "pretrain accepted vilt"
fi
grep -q "ber-vit-concat and ber-vit-att" "$work/v.log" || { cat "$work/v.log"; fail "unclear refusal"; }
echo "PASS: pretrained towers load into train and pretrain exactly"
