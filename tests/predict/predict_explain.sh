#!/usr/bin/env bash
# --explain on synthetic posts whose label is decided by the text alone or by the image alone
# (mmaux synth --decided-by-mix 1,1,0, no label noise), after a brief training of the tiny model.
# Checks the mechanics (drops = p - p without the modality, decided_by follows the threshold
# rule) and prints, for the held-out test posts, the share whose explanation names the modality
# that decided the label. That share is reported, not asserted: it measures the model.
source "$(dirname "$0")/../e2e/train_lib.sh"
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
"$MMAUX" synth --out "$work/raw" --posts 800 --seed 11 --decided-by-mix 1,1,0 --label-noise 0 \
  --log.level warn
"$MMAUX" preprocess --dataset csv --raw "$work/raw" --out "$work/shards" \
  --model "$work/raw/model" --log.level warn > /dev/null
"$MMAUX" train --data.dir "$work/shards" --model.preset tiny --data.batch-size 32 \
  --train.epochs "${EXPLAIN_EPOCHS:-3}" --train.lr 1e-3 --train.out "$work/run" --dist.threads 1 \
  --log.level warn > "$work/train.log" 2>&1 || { cat "$work/train.log"; fail "training failed"; }
"$MMAUX" predict --checkpoint "$work/run/best" --input "$work/raw/posts.csv" --explain true --threads 1 \
  --out "$work/explain.csv" --log.level warn
head -1 "$work/explain.csv" | grep -qx "post_id,status,reason,predicted,prob_negative,\
prob_neutral,prob_positive,itm_match,p_no_image,p_no_text,drop_image,drop_text,decided_by" ||
  fail "unexpected header"

# posts.csv: post_id first; label, split, relation, decided_by, image last (texts may hold commas).
awk -F, '
  NR == FNR { if (FNR > 1) { split_of[$1] = $(NF - 3); by[$1] = $(NF - 1); label[$1] = $(NF - 4) }
              next }
  FNR == 1 { for (c = 1; c <= NF; c++) col[$c] = c; next }
  {
    id = $1; p = $(col["prob_" $4])
    # Mechanics, on every row.
    di = p - $(col["p_no_image"]); dt = p - $(col["p_no_text"])
    if (di - $(col["drop_image"]) > 1e-6 || $(col["drop_image"]) - di > 1e-6) wrong++
    if (dt - $(col["drop_text"]) > 1e-6 || $(col["drop_text"]) - dt > 1e-6) wrong++
    t = $(col["drop_text"]) >= 0.1; i = $(col["drop_image"]) >= 0.1
    want = t && i ? "both" : t ? "text" : i ? "image" : "neither"
    if ($(col["decided_by"]) != want) wrong++
    if (split_of[id] != "test") next
    n[by[id]]++; named[by[id], $(col["decided_by"])]++
    if ($(col["decided_by"]) == "neither") neither[$4]++
    if ($4 == label[id]) correct[by[id]]++
  }
  END {
    for (b in n) {
      printf "decided by %s: %d test posts, accuracy %.2f; explanation names text %d, image %d, both %d, neither %d; share naming %s: %.2f\n",
        b, n[b], correct[b] / n[b], named[b, "text"], named[b, "image"], named[b, "both"],
        named[b, "neither"], b, named[b, b] / n[b]
      total += n[b]; right += named[b, b]
    }
    printf "share of test posts whose explanation names the deciding modality: %.2f (%d of %d)\n",
      right / total, right, total
    for (c in neither) printf "\"neither\" with predicted class %s: %d\n", c, neither[c]
    exit !(wrong == 0 && total > 0)
  }' "$work/raw/posts.csv" "$work/explain.csv" || fail "explain columns inconsistent"
echo "PASS: explain"
