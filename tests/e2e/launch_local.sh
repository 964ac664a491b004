#!/usr/bin/env bash
# The launcher and a local sweep, with the test fixture in place of the trainer: how mmaux-launch
# chooses mpirun / srun / direct, ranks and threads; a stop signal reaching the ranks (exit 75)
# and the resumed run; a local sweep that lists its failed run with the log path, an aggregate
# that shows the missing seed, and a second sweep that runs only what is missing.
source "$(dirname "$0")/common.sh"
work=$(mktemp -d /tmp/mmx.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
unset SLURM_JOB_ID SLURM_NTASKS SLURM_CPUS_PER_TASK SLURM_JOB_NUM_NODES

# 1. Launch decisions (--dry-run prints the command).
export CUDA_VISIBLE_DEVICES=""
out=$("$launcher" --dry-run -n 2 -- "$mmaux" train --train.out r)
[[ "$out" == "mpirun -np 2 "*" $mmaux train --train.out r --dist.threads "[0-9]* ]] || fail "local 2 ranks: $out"
out=$("$launcher" --dry-run -- "$mmaux" train --dist.threads 3)
[[ "$out" == "$mmaux train --dist.threads 3 " ]] || fail "local 1 rank runs directly, keeps --dist.threads: $out"
mkdir fakebin
printf '#!/bin/sh\n[ "$1" = --mpi=list ] && echo "MPI plugin types are... pmix"\n' > fakebin/srun
chmod +x fakebin/srun
out=$(PATH=$work/fakebin:$PATH SLURM_JOB_ID=7 SLURM_NTASKS=3 SLURM_CPUS_PER_TASK=4 \
      "$launcher" --dry-run -- "$mmaux" train)
[[ "$out" == "srun --mpi=pmix -n 3 --cpus-per-task=4 --export=ALL $mmaux train --dist.threads 4 " ]] || fail "in Slurm: $out"
printf '#!/bin/sh\necho "MPI plugin types are... none pmi2"\n' > fakebin/srun
out=$(PATH=$work/fakebin:$PATH SLURM_JOB_ID=7 SLURM_NTASKS=2 "$launcher" --dry-run -- "$mmaux" train)
[[ "$out" == "mpirun -np 2 "* ]] || fail "in Slurm without pmix falls back to mpirun: $out"
out=$(CUDA_VISIBLE_DEVICES=0,1 "$launcher" --dry-run -- "$mmaux" train)
[[ "$out" == "mpirun -np 2 "*"$mmaux train " ]] || fail "GPU node: one rank per GPU, no thread flag: $out"
if "$launcher" -n zero -- true 2> err.txt; then fail "-n zero accepted"; fi
expect_in err.txt "-n 'zero' is not a positive integer" "bad rank count named"
check "launch decisions"

# 2. A stop signal reaches both ranks; the run exits 75 and resumes from its checkpoint.
MMAUX_FIXTURE_STEPS=40 MMAUX_FIXTURE_STEP_S=0.1 "$launcher" -n 2 --log r/train.log \
  --status r/exit_code -- "$fixture" train --train.out r --train.resume auto > /dev/null 2>&1 &
pid=$!
wait_for 30 "the run to train" sh -c '[ "$(cat r/checkpoint 2>/dev/null || echo 0)" -ge 3 ]'
kill -USR1 "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 75 ] || fail "launcher exit code after USR1 is $rc, expected 75; log: $(cat r/train.log)"
[ "$(cat r/exit_code)" = 75 ] || fail "status file says $(cat r/exit_code)"
expect_in r/train.log 'rank 0 stops after step' "rank 0 got the signal"
expect_in r/train.log 'rank 1 stops after step' "rank 1 got the signal"
[ ! -e r/results.json ] || fail "an interrupted run wrote results.json"
stopped=$(cat r/checkpoint)
MMAUX_FIXTURE_STEPS=40 MMAUX_FIXTURE_STEP_S=0.02 "$launcher" -n 2 --log r/train.log \
  --status r/exit_code -- "$fixture" train --train.out r --train.resume auto > /dev/null 2>&1 \
  || fail "resumed run failed: $(cat r/train.log)"
expect_in r/train.log "resumed from checkpoint at step $stopped" "resumed where it stopped"
[ -s r/results.json ] && [ "$(cat r/exit_code)" = 0 ] || fail "resumed run did not finish"
check "signal -> exit 75 -> resume"

# 3. A local sweep with a failing seed: listed with its log; aggregate shows it missing.
cat > sweep.ini << INI
[sweep]
name = local
runs = runs
ranks = 2
trainer = $fixture train
[axes]
loss = ce itm
train.seed = 1 2 3
[options]
data.dir = data/synth
INI
export MMAUX_FIXTURE_STEPS=3 MMAUX_FIXTURE_STEP_S=0.02
rc=0
MMAUX_FIXTURE_FAIL_SEED=3 "$mmaux" sweep --spec sweep.ini > sweep1.txt 2>&1 || rc=$?
cat sweep1.txt
[ "$rc" = 1 ] || fail "a sweep with failed runs exits 1, got $rc"
expect_in sweep1.txt '2 of 6 run\(s\) failed' "failed runs counted"
expect_in sweep1.txt 'ce-s3-[0-9a-f]{8}: exit 1, log .*/runs/ce-s3-[0-9a-f]{8}/train.log' "failed run listed with its log"
"$mmaux" aggregate runs > agg1.txt || fail "aggregate"
cat agg1.txt
# macro F1 = 0.50 + 0.01 seed (+0.01 itm): seeds 1, 2 -> CE 51.50 ± 0.71, +ITM 52.50 ± 0.71.
expect_in agg1.txt 'CE +2/3 +56\.50 ± 0\.71 +51\.50 ± 0\.71 .*s3 failed' "CE: 2 of 3 seeds, seed 3 failed"
expect_in agg1.txt '\+ITM +2/3 +57\.50 ± 0\.71 +52\.50 ± 0\.71 +\+1\.00 ± 0\.00 \(n=2\)' "+ITM row"
expect_in agg1.txt 'missing: synth / tiny-model / CE seed 3: failed \(exit 1\); log .*train.log' "missing seed listed"
expect_in runs/aggregate/aggregate.tex '51\.50\$_\{\\pm 0\.71\}\$\$\^\{2/3\}\$' "LaTeX marks the missing seed"
"$mmaux" sweep --spec sweep.ini --dry-run > plan.txt
expect_in plan.txt '6 runs: 4 done, 2 failed' "plan shows done and failed runs"
"$mmaux" sweep --spec sweep.ini > sweep2.txt 2>&1 || { cat sweep2.txt; fail "second sweep"; }
expect_in sweep2.txt '^\[2/2\] itm-s3-' "the second sweep ran only the two failed runs"
[ "$(ls runs/*/results.json | wc -l)" = 6 ] || fail "not all 6 runs have results"
"$mmaux" aggregate runs > agg2.txt
expect_in agg2.txt 'CE +3/3 +57\.00 ± 1\.00 +52\.00 ± 1\.00' "CE over 3 seeds"
check "local sweep, failed run listed, rerun of what is missing"

# 4. TERM to a local sweep stops its run with a checkpoint (exit 75); the next sweep resumes it.
cat > one.ini << INI
[sweep]
runs = one
ranks = 2
trainer = $fixture train
INI
MMAUX_FIXTURE_STEPS=40 MMAUX_FIXTURE_STEP_S=0.1 "$mmaux" sweep --spec one.ini > one1.txt 2>&1 &
pid=$!
wait_for 30 "the run to train" sh -c '[ "$(cat one/*/checkpoint 2>/dev/null || echo 0)" -ge 3 ]'
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 75 ] || { cat one1.txt; fail "a stopped local sweep exits 75, got $rc"; }
expect_in one1.txt 'stopped on a signal after a checkpoint' "the sweep says how to continue"
"$mmaux" sweep --spec one.ini --dry-run > one2.txt
expect_in one2.txt 'interrupted .*\(exit 75\)' "the run is listed as interrupted"
MMAUX_FIXTURE_STEPS=40 MMAUX_FIXTURE_STEP_S=0.01 "$mmaux" sweep --spec one.ini > one3.txt 2>&1 \
  || { cat one3.txt; fail "resuming sweep"; }
expect_in one/*/train.log 'resumed from checkpoint at step' "the next sweep resumed the run"
check "TERM to a local sweep -> exit 75 -> resumed by the next sweep"
echo PASS
