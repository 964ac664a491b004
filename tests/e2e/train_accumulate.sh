#!/usr/bin/env bash
# Contrastive accumulation in the real trainer (tiny preset, ITC + hard ITM, float32 on the CPU):
#   - 1 rank x 2 micro-batches of 8, with the preset's dropout, logs the losses of one batch of
#     16 at every step (the same objective, the same dropout masks: keyed by global row);
#   - 2 ranks x 2 micro-batches of 8 as well, with dropout off (the trainer gives each rank its
#     own dropout stream, so with dropout on it is another draw of the same objective);
#   - plain accumulation (--train.contrastive-accumulation false) has each micro-batch's 8
#     negatives: another ITC already at the first step.
source "$(dirname "$0")/train_lib.sh"
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
make_data "$work/data"

run() {  # run RANKS NAME OPTIONS...
  local ranks=$1 name=$2
  shift 2
  "$MPIRUN" -np "$ranks" "$MMAUX" train --data.dir "$work/data/shards" --model.preset tiny \
    --data.eval-batch-size 64 --train.epochs 2 --train.max-steps 4 --train.lr 1e-3 \
    --train.out "$work/$name" --dist.threads 1 --train.log-every 1 --loss.itc 0.1 \
    --loss.itm 0.1 --loss.itm-mode hard --log.level warn "$@" > "$work/$name.log" 2>&1 ||
    { cat "$work/$name.log"; fail "run $name failed"; }
}

# losses NAME: "step loss ce itc itm" per logged step.
losses() {
  grep '"kind":"step"' "$work/$1/metrics.jsonl" |
    sed -E 's/.*"ce":([^,]*),.*"itc":([^,]*),.*"itm":([^,]*),.*"loss":([^,]*),.*"step":([0-9]+).*/\5 \4 \1 \2 \3/'
}

# same A B: every logged value of A within 1e-5 (relative) of B's.
same() {
  paste <(losses "$1") <(losses "$2") | awk -v a="$1" -v b="$2" '
    function rel(x, y) { d = x - y; if (d < 0) d = -d; if (y < 0) y = -y; return d / (y > 1e-12 ? y : 1e-12) }
    { n++; if ($1 != $6) { print "step mismatch " $1 " " $6; bad = 1 }
      for (i = 2; i <= 5; i++) if (rel($i, $(i + 5)) > 1e-5) { print a " vs " b " step " $1 ": " $i " vs " $(i + 5); bad = 1 } }
    END { if (n != 4) { print n " steps logged, expected 4"; bad = 1 } exit bad }'
}

run 1 batch16 --data.batch-size 16
run 1 accum --data.batch-size 8 --train.accumulate 2
run 1 plain --data.batch-size 8 --train.accumulate 2 --train.contrastive-accumulation false
nodrop=(--model.encoder-dropout 0 --model.dropout 0)
run 1 batch16_nodrop --data.batch-size 16 "${nodrop[@]}"
run 2 accum_2ranks --data.batch-size 8 --train.accumulate 2 "${nodrop[@]}"

same accum batch16 || fail "1 rank x 2 micro-batches does not follow one batch of 16"
same accum_2ranks batch16_nodrop || fail "2 ranks x 2 micro-batches do not follow one batch of 16"
itc() { losses "$1" | awk 'NR == 1 { print $4 }'; }
awk -v p="$(itc plain)" -v f="$(itc batch16)" 'BEGIN { d = p - f; exit !(d < -0.1 || d > 0.1) }' ||
  fail "plain accumulation's first ITC $(itc plain) is too close to one batch's $(itc batch16)"
echo "PASS: accumulated micro-batches follow one batch of 16 (ITC $(itc accum) = $(itc batch16));" \
  "plain accumulation's ITC is $(itc plain)"
