#!/usr/bin/env bash
# A full run writes results.json; `mmaux eval` on its best checkpoint reproduces the test metrics
# and writes one prediction per test post.
source "$(dirname "$0")/train_lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make_data "$work/data"
train 2 "$work/r" "$work/data/shards" --loss.itc 0.1 --loss.itm 0.1 > "$work/t.log" 2>&1 ||
  { cat "$work/t.log"; fail "training failed"; }
[ -f "$work/r/results.json" ] || fail "no results.json"
"$MMAUX" eval --checkpoint "$work/r/best" --split test --out "$work/pred.csv" --dist.threads 1 \
  > "$work/eval.json" 2> "$work/eval.log" || { cat "$work/eval.log"; fail "eval failed"; }
# The top-level keys of the "test" block of results.json and of eval's JSON, whitespace removed.
want=$(sed -n '/^  "test": {/,/^  },/p' "$work/r/results.json" |
  grep -E '^    "(macro_f1|weighted_f1|accuracy)"' | tr -d ' ,' | sort)
got=$(grep -E '^  "(macro_f1|weighted_f1|accuracy)"' "$work/eval.json" | tr -d ' ,' | sort)
echo "results.json: $want"
echo "mmaux eval:   $got"
[ -n "$want" ] && [ "$want" = "$got" ] || fail "eval does not reproduce the test metrics"
n_test=$(grep -c ',test' "$work/data/raw/posts.csv" || true)
rows=$(($(wc -l < "$work/pred.csv") - 1))
echo "$rows predictions"
[ "$rows" -gt 0 ] || fail "no predictions written"
head -1 "$work/pred.csv" | grep -q '^post_id,label,predicted,prob_' || fail "bad CSV header"
echo "PASS: eval reproduces results.json"
