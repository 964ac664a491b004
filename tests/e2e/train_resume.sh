#!/usr/bin/env bash
# Exact resume: n steps uninterrupted == n/2 steps, SIGKILL, resume (bit-identical parameters,
# identical logged losses). Usage: train_resume.sh RANKS [MODEL]: MODEL mmbt also checks its
# ResNet's BatchNorm running statistics (in model.safetensors), which move in every forward;
# MODEL lxmert trains on synthetic region features; MODEL pretrain runs `mmaux pretrain` (tiny
# ber-vit-concat: ITC + hard ITM + MLM) and compares its towers (RUN/towers) and its
# results.json ("kind": "pretrain": the start and last epoch's figures).
source "$(dirname "$0")/train_lib.sh"
ranks=$1
model=${2:-ber-vit-concat}
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
# MODEL lxmert: the same check for LXMERT on synthetic region features.
model_opts=(--model.name "$model")
if [ "$model" = lxmert ]; then
  make_region_data "$work/data" 200 64
  model_opts+=(--model.dir "$work/data/raw/model")  # its visual_feat_dim 64
else
  make_data "$work/data"
fi
opts=(--train.max-steps 16 --train.checkpoint-every 8 --loss.itc 0.1 --loss.itm 0.1
      --loss.itm-mode hard --train.keep-last 5 "${model_opts[@]}")
if [ "$model" = pretrain ]; then
  export MMAUX_COMMAND=pretrain
  opts=(--train.max-steps 16 --train.checkpoint-every 8 --pretrain.itc 1 --pretrain.itm 1
        --pretrain.mlm 1 --train.keep-last 5)
fi

train "$ranks" "$work/a" "$work/data/shards" "${opts[@]}" > "$work/a.log" 2>&1 ||
  { cat "$work/a.log"; fail "uninterrupted run failed"; }

# Run b: killed with SIGKILL (its whole process group) once the step-8 checkpoint exists.
setsid bash -c "$(declare -f train); MMAUX='$MMAUX' MPIRUN='$MPIRUN' MMAUX_COMMAND='${MMAUX_COMMAND:-train}'; train $ranks '$work/b' '$work/data/shards' ${opts[*]}" \
  > "$work/b1.log" 2>&1 &
pid=$!
for _ in $(seq 1 3000); do
  [ -f "$work/b/checkpoints/step-00000008/state.json" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.01
done
kill -9 -- "-$pid" 2>/dev/null || true
# Ranks may sit in process groups of their own: end every process of run b.
pkill -9 -f "train.out $work/b " 2>/dev/null || true
wait "$pid" 2>/dev/null || true
sleep 0.2
[ -f "$work/b/checkpoints/step-00000008/state.json" ] || { cat "$work/b1.log"; fail "no checkpoint at step 8"; }
[ ! -f "$work/b/results.json" ] && [ ! -f "$work/b/checkpoints/step-00000016/state.json" ] ||
  echo "note: run b had finished before the kill; resume still checked"
echo "killed run b; resuming"
train "$ranks" "$work/b" "$work/data/shards" "${opts[@]}" --train.resume auto > "$work/b2.log" 2>&1 ||
  { cat "$work/b2.log"; fail "resumed run failed"; }
grep -q "resumed from" "$work/b2.log" || { cat "$work/b2.log"; fail "the second run did not resume"; }

cmp "$work/a/checkpoints/step-00000016/model.safetensors" \
    "$work/b/checkpoints/step-00000016/model.safetensors" || fail "final parameters differ"
cmp "$work/a/checkpoints/step-00000016/trainer.safetensors" \
    "$work/b/checkpoints/step-00000016/trainer.safetensors" || fail "final optimizer state differs"
diff <(step_losses "$work/a") <(step_losses "$work/b") || fail "logged losses differ"
[ "$(step_losses "$work/a" | wc -l)" -eq 16 ] || fail "expected 16 logged steps"
# Results: everything but the run directory, the resume option, its hash and the timings.
strip() { grep -vE '"(train.out|train.resume|config_hash|towers|peak_memory_mb|[a-z_]*_s)"' "$1"; }
if [ "$model" = pretrain ]; then
  grep -q '"kind": "pretrain"' "$work/b/results.json" || fail "no pretraining results.json"
  diff <(strip "$work/a/results.json") <(strip "$work/b/results.json") || fail "results differ"
  for tower in text image; do
    cmp "$work/a/towers/$tower/model.safetensors" "$work/b/towers/$tower/model.safetensors" ||
      fail "the $tower towers differ"
  done
  grep -q '"cls.predictions.transform.dense.weight"' "$work/b/checkpoints/step-00000016/model.safetensors" ||
    fail "the checkpoint lacks the MLM head"
  echo "PASS: resume of pretrain at $ranks rank(s) is bit-exact"
  exit 0
fi
diff <(strip "$work/a/results.json") <(strip "$work/b/results.json") || fail "results differ"
echo "PASS: resume of $model at $ranks rank(s) is bit-exact"
