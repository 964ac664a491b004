#!/usr/bin/env bash
# Unlabeled posts and retrieval, through the command line: `mmaux synth --unlabeled` writes
# OUT/unlabeled (no label column), preprocess makes an unlabeled data set ("labelled": false, no
# classes), `mmaux train` refuses it naming the directory and 'mmaux pretrain'; a run with
# --model.itc-pooling mean records it in best/config.ini; `mmaux eval` reports classification
# and retrieval on the labelled test split, and retrieval alone on the unlabeled validation split.
source "$(dirname "$0")/train_lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$MMAUX" synth --out "$work/raw" --posts 120 --unlabeled 80 --seed 3 > "$work/synth.log"
grep -q "wrote 80 unlabeled posts to $work/raw/unlabeled" "$work/synth.log" ||
  { cat "$work/synth.log"; fail "synth did not report the unlabeled posts"; }
head -1 "$work/raw/unlabeled/posts.csv" | grep -qx "post_id,text,image" ||
  fail "unlabeled posts.csv header: $(head -1 "$work/raw/unlabeled/posts.csv")"
[ "$(($(wc -l < "$work/raw/unlabeled/posts.csv") - 1))" = 80 ] || fail "not 80 unlabeled rows"
[ "$(ls "$work/raw/unlabeled/images" | wc -l)" = 80 ] || fail "not 80 unlabeled images"
# No unlabeled post id is a labelled one.
cut -d, -f1 "$work/raw/posts.csv" | sort > "$work/ids"
cut -d, -f1 "$work/raw/unlabeled/posts.csv" | sort > "$work/uids"
[ -z "$(comm -12 "$work/ids" "$work/uids" | grep -v post_id)" ] || fail "shared post ids"

"$MMAUX" preprocess --dataset csv --raw "$work/raw" --out "$work/labelled" \
  --model "$work/raw/model" --log.level warn
"$MMAUX" preprocess --dataset csv --raw "$work/raw/unlabeled" --out "$work/unlabeled" \
  --model "$work/raw/model" --shard-size 16 > "$work/pre.log"
grep -q "read 80 = written 80" "$work/pre.log" || { cat "$work/pre.log"; fail "preprocess"; }
grep -q '"labelled": false' "$work/unlabeled/manifest.json" || fail "manifest not unlabeled"
grep -q '"class_names": \[\]' "$work/unlabeled/manifest.json" || fail "unlabeled manifest has classes"
grep -q '"labelled": true' "$work/labelled/manifest.json" || fail "labelled manifest"

if train 1 "$work/refused" "$work/unlabeled" > "$work/refused.log" 2>&1; then
  fail "train accepted an unlabeled data set"
fi
grep -q "data set in '$work/unlabeled' is unlabeled" "$work/refused.log" &&
  grep -q "mmaux pretrain" "$work/refused.log" ||
  { cat "$work/refused.log"; fail "the refusal does not name the directory and mmaux pretrain"; }
[ ! -e "$work/refused" ] || fail "a refused run left a run directory"

train 1 "$work/r" "$work/labelled" --loss.itc 0.1 --model.itc-pooling mean \
  > "$work/t.log" 2>&1 || { cat "$work/t.log"; fail "training failed"; }
sed -n '/^\[model\]/,/^\[/p' "$work/r/best/config.ini" | grep -qx "itc-pooling = mean" ||
  fail "best/config.ini does not record model.itc-pooling"

"$MMAUX" eval --checkpoint "$work/r/best" --split test --out "$work/pred.csv" --dist.threads 1 \
  > "$work/eval.json" 2> "$work/eval.log" || { cat "$work/eval.log"; fail "eval failed"; }
grep -q '"macro_f1"' "$work/eval.json" || fail "no classification metrics"
grep -q '"image_to_text"' "$work/eval.json" && grep -q '"text_to_image"' "$work/eval.json" ||
  fail "no retrieval in eval's JSON"
grep -q "R@1/5/10 over [0-9]* pairs" "$work/eval.log" || { cat "$work/eval.log"; fail "no R@K line"; }

"$MPIRUN" -np 2 "$MMAUX" eval --checkpoint "$work/r/best" --data-dir "$work/unlabeled" \
  --split validation --out "$work/u/pred.csv" --dist.threads 1 > "$work/u.json" 2> "$work/u.log" ||
  { cat "$work/u.log"; fail "eval on the unlabeled data set failed"; }
grep -q '"labelled": false' "$work/u.json" || fail "unlabeled eval JSON"
grep -q '"image_to_text"' "$work/u.json" || fail "no retrieval on the unlabeled split"
! grep -q '"macro_f1"' "$work/u.json" || fail "classification metrics on unlabeled data"
[ ! -e "$work/u/pred.csv" ] || fail "predictions written for unlabeled posts"
[ -f "$work/u/pred.metrics.json" ] || fail "no metrics file"
cat "$work/u.json"
echo "PASS: unlabeled data set, train refusal, eval retrieval"
