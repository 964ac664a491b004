#!/usr/bin/env bash
# MMBT end to end: `mmaux train --model.name mmbt` trains and evaluates with CE, +ITC, +ITM and
# +ITC+ITM on the synthetic shards (fixed:64) and on shards made with --image-preset resnet
# (224x224 centre crops, MM-IMDB normalisation), at 1 and 2 ranks; paper mode runs too.
source "$(dirname "$0")/train_lib.sh"
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
"$MMAUX" synth --out "$work/raw" --posts 64 --seed 5 --log.level warn
"$MMAUX" preprocess --dataset csv --raw "$work/raw" --out "$work/fixed" --model "$work/raw/model" \
  --log.level warn
"$MMAUX" preprocess --dataset csv --raw "$work/raw" --out "$work/resnet" \
  --model "$work/raw/model" --image-preset resnet --log.level warn
grep -q '"preset": "resnet:256:224"' "$work/resnet/manifest.json" || fail "no resnet preset"
grep -q '0.46777' "$work/resnet/manifest.json" || fail "the MM-IMDB mean is not recorded"

settings=("--loss.itc 0 --loss.itm 0" "--loss.itc 0.1 --loss.itm 0" "--loss.itc 0 --loss.itm 0.1"
          "--loss.itc 0.1 --loss.itm 0.1")
run() {  # run RANKS DATA NAME [options...]
  local ranks=$1 data=$2 name=$3
  shift 3
  "$MPIRUN" -np "$ranks" "$MMAUX" train --data.dir "$data" --model.name mmbt --model.preset tiny \
    --data.batch-size 8 --data.eval-batch-size 32 --train.epochs 1 --train.max-steps 2 \
    --train.lr 1e-3 --train.out "$work/$name" --dist.threads 1 --train.log-every 1 "$@" \
    > "$work/$name.log" 2>&1 || { cat "$work/$name.log"; fail "$name failed"; }
  grep -q '"weighted_f1"' "$work/$name/results.json" || fail "$name: no test metrics"
  echo "ok: $name"
}
for ranks in 1 2; do
  for data in fixed resnet; do
    for k in 0 1 2 3; do
      # shellcheck disable=SC2086
      run "$ranks" "$work/$data" "np${ranks}-${data}-${k}" ${settings[$k]}
    done
  done
done
# Paper mode (its ITC passes and the ITM quirk) and hard ITM in fixed mode.
run 2 "$work/resnet" paper --train.paper true --loss.itc 0.1 --loss.itm 0.1
run 2 "$work/resnet" hard --loss.itc 0.1 --loss.itm 0.1 --loss.itm-mode hard
# Paper mode with hard ITM is refused with a clear message.
if "$MMAUX" train --data.dir "$work/fixed" --model.name mmbt --train.paper true \
    --loss.itm 0.1 --loss.itm-mode hard --train.out "$work/bad" > "$work/bad.log" 2>&1; then
  fail "paper mode with hard ITM was accepted"
fi
grep -q "mmbt-mode" "$work/bad.log" || { cat "$work/bad.log"; fail "unclear error"; }
# A saved MMBT evaluates with mmaux eval.
"$MMAUX" eval --checkpoint "$work/hard/best" --split test --out "$work/pred.csv" --dist.threads 1 \
  > "$work/eval.json" 2> "$work/eval.log" || { cat "$work/eval.log"; fail "eval failed"; }
echo "PASS: mmbt trains and evaluates on fixed and resnet shards at 1 and 2 ranks"
