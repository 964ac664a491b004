#!/usr/bin/env bash
# The issue's acceptance test with the REAL trainer on a real one-node Slurm cluster:
# `mmaux sweep --submit` of 2 loss settings × 2 seeds of the tiny preset on the synthetic data
# set, 2 ranks each (srun --mpi=pmix); one run receives the preemption signal mid-training,
# checkpoints, exits 75, is requeued and completes from its checkpoint (--train.resume auto);
# `mmaux aggregate` prints the table and writes the files; a second `mmaux sweep --submit`
# submits nothing. Then a pretraining sweep (`command = pretrain`, 2 seeds) through the same
# machinery: one run is preempted, requeued and finishes from its checkpoint; every run writes its
# towers and a results.json of "kind": "pretrain", which aggregate does not tabulate.
source "$(dirname "$0")/common.sh"
start_local_slurm
cd "$work"
"$mmaux" synth --out synth --posts 300 > synth.txt 2>&1 || { cat synth.txt; fail "mmaux synth"; }
"$mmaux" preprocess --dataset csv --raw synth --out shards --model synth/model > prep.txt 2>&1 \
  || { cat prep.txt; fail "mmaux preprocess"; }
check "synthetic data set: 300 posts, preprocessed"
cat > sweep.ini << INI
[sweep]
name = tiny
runs = runs
ranks = 2
[axes]
loss = ce itc
train.seed = 1 2
[options]
data.dir = $work/shards
model.preset = tiny
train.epochs = 3
train.log-every = 1
dist.timeout-s = 120
[slurm]
time = 00:10:00
signal-before = 60
INI
"$mmaux" sweep --spec sweep.ini --submit > submit.txt 2>&1 || { cat submit.txt; fail "sweep --submit"; }
cat submit.txt
batch=$(ls -d runs/.sweep/tiny-*)
job=$(cat "$batch/job_id")
first=$(sed -n 1p "$batch/tasks.txt")

# Preempt task 1 once it has logged training steps (metrics.jsonl) and before it finishes.
wait_for 120 "task ${job}_1 to train" sh -c "[ -s '$first/metrics.jsonl' ] || [ -e '$first/results.json' ]"
[ ! -e "$first/results.json" ] || fail "run 1 finished before the preemption signal; make it longer"
preempt_and_requeue "${job}_1" "$first"

wait_for 240 "the job array to finish" sh -c "[ -z \"\$(squeue -h -j $job)\" ]"
for r in runs/*/; do
  [ -e "$r/results.json" ] || { tail -30 "$r/train.log" >&2; fail "$r has no results.json (log $r/train.log)"; }
  [ "$(cat "$r/exit_code")" = 0 ] || fail "$r ended with exit code $(cat "$r/exit_code")"
  expect_in "$r/results.json" '"world_size": *2' "$r ran on 2 ranks"
done
expect_in "$first/train.log" 'exit code 75' "the preempted run exited 75 after its checkpoint"
expect_in "$batch/${job}_1.out" 'requeueing' "the batch script requeued the task"
expect_in "$batch/${job}_1.out" 'restart 1\)' "the task ran again as restart 1"
check "4 runs finished; task ${job}_1 was preempted, requeued and resumed"

"$mmaux" aggregate runs > aggregate.txt || { cat aggregate.txt; fail "aggregate"; }
cat aggregate.txt
expect_in aggregate.txt ' CE +2/2 ' "CE row over 2 seeds"
expect_in aggregate.txt '\+ITC +2/2 .*\(n=2' "+ITC row paired with CE over 2 seeds"
for f in aggregate.md aggregate.csv aggregate.tex figure.png; do
  [ -s "runs/aggregate/$f" ] || fail "aggregate did not write $f"
done
"$mmaux" sweep --spec sweep.ini --submit > resubmit.txt 2>&1 || { cat resubmit.txt; fail "second sweep --submit"; }
cat resubmit.txt
expect_in resubmit.txt 'nothing to submit' "the second submission submits nothing"
[ -z "$(squeue -h)" ] || fail "something was queued by the second submission"

cat > pre.ini << INI
[sweep]
name = pre
runs = runs-pre
ranks = 2
command = pretrain
[axes]
train.seed = 1 2
[options]
data.dir = $work/shards
model.preset = tiny
pretrain.mlm = 1
train.epochs = 3
train.log-every = 1
dist.timeout-s = 120
[slurm]
time = 00:10:00
signal-before = 60
INI
"$mmaux" sweep --spec pre.ini --submit > pre-submit.txt 2>&1 || { cat pre-submit.txt; fail "pretrain sweep --submit"; }
cat pre-submit.txt
batch=$(ls -d runs-pre/.sweep/pre-*)
job=$(cat "$batch/job_id")
first=$(sed -n 1p "$batch/tasks.txt")
grep -q " pretrain --train.out" "$first/command.sh" || fail "the pretrain sweep does not run mmaux pretrain"
wait_for 120 "task ${job}_1 to pretrain" sh -c "grep -q '\"kind\":\"step\"' '$first/metrics.jsonl' 2>/dev/null || [ -e '$first/results.json' ]"
[ ! -e "$first/results.json" ] || fail "pretrain run 1 finished before the preemption signal; make it longer"
preempt_and_requeue "${job}_1" "$first"
wait_for 240 "the pretrain job array to finish" sh -c "[ -z \"\$(squeue -h -j $job)\" ]"
for r in runs-pre/*/; do
  [ -e "$r/results.json" ] || { tail -30 "$r/train.log" >&2; fail "$r has no results.json"; }
  [ "$(cat "$r/exit_code")" = 0 ] || fail "$r ended with exit code $(cat "$r/exit_code")"
  expect_in "$r/results.json" '"kind": "pretrain"' "$r is a pretraining run"
  [ -s "$r/towers/text/model.safetensors" ] && [ -s "$r/towers/image/model.safetensors" ] ||
    fail "$r has no towers"
done
expect_in "$first/train.log" 'exit code 75' "the preempted pretraining run exited 75 after its checkpoint"
expect_in "$first/train.log" 'resumed from' "the requeued pretraining run resumed from its checkpoint"
expect_in "$batch/${job}_1.out" 'restart 1\)' "the pretraining task ran again as restart 1"
check "2 pretraining runs finished; task ${job}_1 was preempted, requeued and resumed"
rc=0
"$mmaux" aggregate runs-pre > pre-aggregate.txt 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -q "only pretraining runs (2" pre-aggregate.txt ||
  { cat pre-aggregate.txt; fail "aggregate of pretraining runs: expected an error saying so"; }
echo PASS
