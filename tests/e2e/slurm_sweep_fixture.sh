#!/usr/bin/env bash
# The Slurm machinery end to end on a real one-node cluster, with the test fixture in place of
# the trainer: `mmaux sweep --submit` of 2 loss settings × 2 seeds, 2 ranks each (srun --mpi=pmix);
# one task receives the preemption signal mid-training, checkpoints, exits 75, is requeued and
# completes from its checkpoint; `mmaux aggregate` reports the fixture's known means; a second
# submission submits nothing.
source "$(dirname "$0")/common.sh"
# Two tasks of 2 ranks at a time: the fixture sleeps, so 4 CPUs on 2 cores are fine.
export MMAUX_SLURM_CPUS=4
start_local_slurm
cd "$work"
export MMAUX_FIXTURE_STEPS=20 MMAUX_FIXTURE_STEP_S=0.2
cat > sweep.ini << INI
[sweep]
name = fixture
runs = runs
ranks = 2
trainer = $fixture train
[axes]
loss = ce itc
train.seed = 1 2
[options]
data.dir = data/synth
model.name = ber-vit-concat
model.preset = tiny
[slurm]
time = 00:05:00
signal-before = 60
INI
"$mmaux" sweep --spec sweep.ini --submit > submit.txt 2>&1 || { cat submit.txt; fail "sweep --submit"; }
cat submit.txt
batch=$(ls -d runs/.sweep/fixture-*)
job=$(cat "$batch/job_id")
expect_in "$batch/job.sbatch" '^#SBATCH --signal=B:USR1@60$' "the batch script asks for USR1 before the limit"
expect_in "$batch/job.sbatch" '^#SBATCH --requeue$' "the batch script is requeueable"
expect_in "$batch/job.sbatch" '^#SBATCH --open-mode=append$' "a requeued task appends to its log"
first=$(sed -n 1p "$batch/tasks.txt")
# While the array is queued or running, its runs are neither submitted again nor run here.
"$mmaux" sweep --spec sweep.ini --submit > during.txt 2>&1 || { cat during.txt; fail "sweep --submit while queued"; }
expect_in during.txt 'queued' "runs of the submitted array show as queued"
expect_in during.txt 'nothing to submit' "a submission while the array is queued submits nothing"
[ "$(ls -d runs/.sweep/fixture-* | wc -l)" = 1 ] || fail "a second job array was written"

# Preempt task 1 once it has trained a few steps.
wait_for 60 "task ${job}_1 to train" sh -c "[ \"\$(cat '$first/checkpoint' 2>/dev/null || echo 0)\" -ge 3 ]"
preempt_and_requeue "${job}_1" "$first"

wait_for 120 "all four runs to finish" sh -c "[ \$(ls runs/*/results.json 2>/dev/null | wc -l) = 4 ]"
wait_for 30 "the job array to leave the queue" sh -c "[ -z \"\$(squeue -h -j $job)\" ]"
for r in runs/*/; do
  [ "$(cat "$r/exit_code")" = 0 ] || fail "$r ended with exit code $(cat "$r/exit_code")"
  expect_in "$r/results.json" '"world_size": 2' "$r ran on 2 ranks"
  expect_in "$r/train.log" 'srun --mpi=pmix -n 2' "$r was launched with srun --mpi=pmix"
done
check "4 runs finished on 2 ranks each"
expect_in "$first/train.log" 'fixture: rank 0 stops after step [0-9]+ on a signal' "the preempted run stopped on the signal"
expect_in "$first/train.log" 'exit code 75' "the launcher saw exit code 75"
expect_in "$first/train.log" 'fixture: resumed from checkpoint at step [0-9]+' "the requeued run resumed from its checkpoint"
expect_in "$batch/${job}_1.out" 'requeueing' "the batch script requeued the task"
expect_in "$batch/${job}_1.out" 'restart 1\)' "the task ran again as restart 1"
scontrol show job "${job}_1" > job1.txt
expect_in job1.txt 'Restarts=1' "Slurm counts one restart of ${job}_1"
check "task ${job}_1 was preempted, requeued and resumed"

"$mmaux" aggregate runs > aggregate.txt || { cat aggregate.txt; fail "aggregate"; }
cat aggregate.txt
# Fixture: macro F1 = 0.50 + 0.01 seed (+0.02 for itc); seeds 1, 2: CE 51.50 ± 0.71, +ITC 53.50.
expect_in aggregate.txt 'synth +ber-vit-concat +CE +2/2 +56\.50 ± 0\.71 +51\.50 ± 0\.71' "CE row"
expect_in aggregate.txt '\+ITC +2/2 +58\.50 ± 0\.71 +53\.50 ± 0\.71 +\+2\.00 ± 0\.00 \(n=2\)' "+ITC row"
for f in aggregate.md aggregate.csv aggregate.tex figure.png; do
  [ -s "runs/aggregate/$f" ] || fail "aggregate did not write $f"
done
check "aggregate table and files"

"$mmaux" sweep --spec sweep.ini --submit > resubmit.txt 2>&1 || { cat resubmit.txt; fail "second sweep --submit"; }
cat resubmit.txt
expect_in resubmit.txt 'nothing to submit' "the second submission submits nothing"
[ "$(ls -d runs/.sweep/fixture-* | wc -l)" = 1 ] || fail "the second submission wrote a new job array"
[ -z "$(squeue -h)" ] || fail "something was queued by the second submission: $(squeue -h)"
check "second submission submitted nothing"
echo PASS
