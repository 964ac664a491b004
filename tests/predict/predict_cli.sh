#!/usr/bin/env bash
# mmaux predict from raw posts equals mmaux eval on their shards (two models); bad rows get a
# status and exit code 3 while the others are scored; JSON Lines stream through a pipe; 2 ranks
# give the output of 1; an old checkpoint is refused naming what it lacks; mmaux export.
source "$(dirname "$0")/../e2e/train_lib.sh"
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
make_data "$work/data"
raw=$work/data/raw
predict() { "$MMAUX" predict --log.level warn --threads 1 "$@"; }

# compare EVAL.csv PREDICT.csv: every row of eval is in predict's output with the same predicted
# label and probabilities within 1e-6 (eval prints 6 decimals, so up to 5e-7 is its rounding).
compare() {
  awk -F, '
    NR == FNR { if (FNR > 1) { for (c = 4; c <= NF; c++) p[$1, c - 4] = $c; pred[$1] = $3;
                               k = NF - 3; n++ } next }
    FNR > 1 && ($1 in pred) && $2 == "ok" {
      m++; if ($4 != pred[$1]) bad++
      for (c = 0; c < k; c++) { d = $(5 + c) - p[$1, c]; if (d < 0) d = -d; if (d > max) max = d }
    }
    END { printf "%d eval rows, %d found in predict, max |diff| %.3g, %d labels differ\n",
                 n, m, max, bad
          exit !(n > 0 && m == n && max <= 1e-6 && bad == 0) }' "$1" "$2"
}

for model in ber-vit-concat vilt; do
  run=$work/$model
  train 1 "$run" "$work/data/shards" --model.name "$model" --log.level warn \
    > "$run.log" 2>&1 || { cat "$run.log"; fail "training $model failed"; }
  [ -f "$run/best/predict_config.json" ] || fail "$model: best/ has no predict_config.json"
  [ -f "$run/best/tokenizer/vocab.txt" ] || fail "$model: best/ has no tokenizer/vocab.txt"
  "$MMAUX" eval --checkpoint "$run/best" --split test --out "$run/eval.csv" --log.level warn \
    > /dev/null
  predict --checkpoint "$run/best" --input "$raw/posts.csv" --out "$run/predict.csv"
  [ "$(wc -l < "$run/predict.csv")" -eq 201 ] || fail "$model: expected 200 rows and a header"
  compare "$run/eval.csv" "$run/predict.csv" || fail "$model: predict differs from eval"
done
best=$work/ber-vit-concat/best
head -1 "$work/ber-vit-concat/predict.csv" |
  grep -qx "post_id,status,reason,predicted,prob_negative,prob_neutral,prob_positive,itm_match" ||
  fail "unexpected csv header"

# Bad rows: each gets its status and reason, the good ones around them are scored, in order.
bad=$work/bad
mkdir -p "$bad/images"
good=$(ls "$raw/images" | head -1)
cp "$raw/images/$good" "$bad/images/good.${good##*.}"
head -c 100 "$raw/images/$good" > "$bad/images/cut.${good##*.}"
cp "${MMAUX_SOURCE_DIR:?}/tests/data/image_bombs/png_60000x60000.png" "$bad/images/bomb.png"
g=images/good.${good##*.}
cat > "$bad/posts.jsonl" <<JSON
{"post_id": "ok1", "text": "the red circle is great", "image": "$g"}
{"post_id": "missing", "text": "where is it", "image": "images/gone.jpg"}
{"post_id": "cut", "text": "a truncated file", "image": "images/cut.${good##*.}"}
{"post_id": "bomb", "text": "a decompression bomb", "image": "images/bomb.png"}
{"post_id": "empty", "text": "   ", "image": "$g"}
{"post_id": "escape", "text": "outside", "image": "../../etc/passwd"}
not json at all
{"post_id": 7, "text": "an integer id", "image": "$g"}
{"post_id": "notext", "image": "$g"}
JSON
set +e
predict --checkpoint "$best" --input "$bad/posts.jsonl" --out "$bad/out.jsonl"
code=$?
set -e
[ "$code" -eq 3 ] || fail "expected exit code 3 when rows fail, got $code"
cat "$bad/out.jsonl"
[ "$(wc -l < "$bad/out.jsonl")" -eq 9 ] || fail "expected one output row per input row"
expect() {  # LINE POST_ID STATUS REASON-SUBSTRING
  sed -n "$1p" "$bad/out.jsonl" | grep -q "\"post_id\":\"$2\",\"status\":\"$3\",\"reason\":\"$4" ||
    fail "row $1: expected $2 $3 '$4'"
}
expect 1 ok1 ok ""
expect 2 missing error "missing image"
expect 3 cut error "undecodable image"
expect 4 bomb error "image too large"
expect 5 empty error "empty text"
expect 6 escape error "path escapes data directory"
expect 7 "" error "malformed row"
expect 8 7 ok ""
expect 9 notext error "malformed row"
grep -q '"itm_match":' "$bad/out.jsonl" || fail "no ITM match probability"
# Invalid UTF-8 (csv carries bytes as they are).
printf 'post_id,text,image\nutf,%b,%s\nfine,a fine text,%s\n' '\xff\xfe\xfd' "$g" "$g" \
  > "$bad/posts.csv"
set +e
predict --checkpoint "$best" --input "$bad/posts.csv" --out "$bad/out.csv"
code=$?
set -e
[ "$code" -eq 3 ] || fail "expected exit code 3 for invalid UTF-8, got $code"
grep -q "^utf,error,invalid UTF-8" "$bad/out.csv" || fail "invalid UTF-8 row"
grep -q "^fine,ok,," "$bad/out.csv" || fail "the fine row after it"

# A pipe: JSON Lines in on stdin, JSON Lines out on stdout, input order kept.
awk -F, 'NR > 1 && NR <= 41 { printf "{\"post_id\": \"%s\", \"text\": \"text %d\", \"image\": \"%s\"}\n",
         $1, NR, $NF }' "$raw/posts.csv" > "$work/stream.jsonl"
(cd "$raw" && cat "$work/stream.jsonl" | "$MMAUX" predict --checkpoint "$best" --input - --threads 1 \
  --log.level warn > "$work/stream.out")
[ "$(wc -l < "$work/stream.out")" -eq 40 ] || fail "pipe: expected 40 rows"
diff <(sed -E 's/.*"post_id": "([^"]*)".*/\1/' "$work/stream.jsonl") \
     <(sed -E 's/.*"post_id":"([^"]*)".*/\1/' "$work/stream.out") || fail "pipe: order differs"
grep -vq '"status":"ok"' "$work/stream.out" && fail "pipe: a row failed"

# Two ranks (rounds of 2 x 32 rows): the rows of one rank, within 1e-6, with --explain.
opts=(--checkpoint "$best" --input "$raw/posts.csv" --batch-size 4 --explain true)
predict "${opts[@]}" --out "$work/np1.csv"
"$MPIRUN" -np 2 "$MMAUX" predict --log.level warn "${opts[@]}" --threads 1 \
  --out "$work/np2.csv" 2> "$work/np2.err" || { cat "$work/np2.err"; fail "2 ranks failed"; }
paste -d, "$work/np1.csv" "$work/np2.csv" | awk -F, -v n=13 '
  NR > 1 { if ($1 != $(n + 1) || $2 != $(n + 2) || $4 != $(n + 4) || $n != $(2 * n)) bad++
           for (c = 5; c < n; c++) { d = $c - $(n + c); if (d < 0) d = -d; if (d > max) max = d } }
  END { printf "1 vs 2 ranks: %d rows, max |diff| %.3g, %d differ\n", NR - 1, max, bad
        exit !(NR == 201 && bad == 0 && max <= 1e-6) }' || fail "2 ranks differ from 1"
printf '{"post_id": "x", "text": "t", "image": "%s"}\n' "$g" |
  "$MPIRUN" -np 2 "$MMAUX" predict --checkpoint "$best" --input - > /dev/null 2> "$work/stdin.err" &&
  fail "stdin under 2 ranks should be refused"
grep -q "under mpirun give the posts as a file" "$work/stdin.err" || fail "stdin message"

# A checkpoint from before predict: refused, naming what it lacks.
cp -r "$best" "$work/old"
rm -r "$work/old/predict_config.json" "$work/old/tokenizer"
predict --checkpoint "$work/old" --input "$bad/posts.jsonl" 2> "$work/old.err" && fail "old ckpt"
grep -q "has no predict_config.json" "$work/old.err" || { cat "$work/old.err"; fail "old msg"; }

# Export: Hugging Face towers with the tokenizer, predict_config.json; predict reads it back.
"$MMAUX" export --checkpoint "$best" --out "$work/export" --log.level warn > /dev/null
for f in config.json model.safetensors predict_config.json tokenizer/vocab.txt text/config.json \
         text/model.safetensors text/vocab.txt text/tokenizer_config.json image/config.json \
         image/model.safetensors; do
  [ -f "$work/export/$f" ] || fail "export has no $f"
done
grep -q '"preset": "fixed:64"' "$work/export/predict_config.json" || fail "export preset"
predict --checkpoint "$work/export" --input "$raw/posts.csv" --out "$work/export.csv"
cmp "$work/export.csv" "$work/ber-vit-concat/predict.csv" || fail "export predicts differently"
"$MMAUX" export --checkpoint "$work/vilt/best" --out "$work/export-vilt" --log.level warn > /dev/null
[ -f "$work/export-vilt/vocab.txt" ] || fail "vilt export has no tokenizer"
echo "PASS: predict and export"
