#!/usr/bin/env bash
# One writer per run directory. While a trainer holds a run: a second trainer (one process, and
# two ranks under mpirun), `mmaux eval` writing into the run and `mmaux sweep` launching it all
# fail at once, naming the holder, and write nothing there. The holder killed with SIGKILL leaves
# no stale lock; the next start removes what a killed writer leaves half-written and finishes.
source "$(dirname "$0")/train_lib.sh"
work=$(mktemp -d)
holder=""
trap '[ -z "$holder" ] || kill -9 "$holder" 2> /dev/null || true; rm -rf "$work"' EXIT
make_data "$work/data"
data=$work/data/shards
# The options of every start on the run (the sweep's [options] give the same).
opts=(--data.dir "$data" --model.preset tiny --data.batch-size 16 --data.eval-batch-size 64
      --train.lr 1e-3 --dist.threads 1 --train.log-every 1)

# The sweep's run directory, so that the holder trains the very run the sweep would launch.
cat > "$work/sweep.ini" << INI
[sweep]
name = lock
runs = $work/runs
[axes]
train.seed = 1
[options]
data.dir = $data
model.preset = tiny
data.batch-size = 16
INI
"$MMAUX" sweep --spec "$work/sweep.ini" --dry-run > "$work/plan.txt"
run=$(awk '$2 == "pending" {print $3}' "$work/plan.txt")
[ -n "$run" ] || { cat "$work/plan.txt"; fail "no pending run in the sweep's plan"; }

# The holder: one process training far longer than the checks take (it is killed below).
"$MMAUX" train "${opts[@]}" --train.out "$run" --train.epochs 100000 > "$work/holder.log" 2>&1 &
holder=$!
for _ in $(seq 1 1200); do
  grep -q "^pid = $holder\$" "$run/run.lock" 2> /dev/null && [ -d "$run/checkpoints" ] && break
  kill -0 "$holder" 2> /dev/null || { cat "$work/holder.log"; fail "the holder ended early"; }
  sleep 0.1
done
grep -q "^pid = $holder\$" "$run/run.lock" || fail "run.lock does not name the holder: $(cat "$run/run.lock")"
grep -q "^command = mmaux train\$" "$run/run.lock" || fail "run.lock: $(cat "$run/run.lock")"
echo "holder: pid $holder"
in_use="run directory '$run' is in use by mmaux train \\(pid $holder on "

# 1. A second trainer, one process: exit 1 at once, naming the holder.
set +e
"$MMAUX" train "${opts[@]}" --train.out "$run" --train.epochs 2 > "$work/second.log" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$work/second.log"; fail "second trainer: exit $rc, expected 1"; }
grep -qE "$in_use" "$work/second.log" || { cat "$work/second.log"; fail "holder not named"; }
! grep -q "parameters" "$work/second.log" || fail "the second trainer built its model before failing"
echo "check: a second trainer is refused"

# 2. The same under mpirun with two ranks: every rank ends by itself (no abort, no hang).
set +e
timeout 120 "$MPIRUN" -np 2 "$MMAUX" train "${opts[@]}" --train.out "$run" --train.epochs 2 \
  > "$work/second2.log" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$work/second2.log"; fail "two ranks: exit $rc, expected 1 (124: hung)"; }
grep -qE "$in_use" "$work/second2.log" || { cat "$work/second2.log"; fail "rank 0 did not name the holder"; }
grep -q "rank 0 could not take the run directory's lock" "$work/second2.log" ||
  { cat "$work/second2.log"; fail "rank 1 did not report"; }
! grep -qi "MPI_ABORT" "$work/second2.log" || { cat "$work/second2.log"; fail "the job was aborted"; }
echo "check: two ranks end cleanly"

# 3. mmaux eval: refused when its predictions would go into the run, fine elsewhere.
for _ in $(seq 1 1200); do  # a copy of best/ (the holder may be swapping it in)
  rm -rf "$work/best"
  cp -r "$run/best" "$work/best" 2> /dev/null && [ -f "$work/best/config.ini" ] &&
    [ -f "$work/best/model.safetensors" ] && break
  sleep 0.1
done
set +e
"$MMAUX" eval --checkpoint "$work/best" --out "$run/predictions.csv" --dist.threads 1 \
  > /dev/null 2> "$work/eval.log"
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$work/eval.log"; fail "eval into the run: exit $rc, expected 1"; }
grep -qE "$in_use" "$work/eval.log" || { cat "$work/eval.log"; fail "eval did not name the holder"; }
[ ! -e "$run/predictions.csv" ] || fail "eval wrote into the run"
"$MMAUX" eval --checkpoint "$work/best" --out "$work/pred.csv" --dist.threads 1 > /dev/null \
  2> "$work/eval2.log" || { cat "$work/eval2.log"; fail "eval writing elsewhere failed"; }
echo "check: eval into the run is refused, elsewhere it runs"

# 4. mmaux sweep: fails before it writes anything into the run.
set +e
"$MMAUX" sweep --spec "$work/sweep.ini" > "$work/sweep.log" 2>&1
rc=$?
set -e
[ "$rc" != 0 ] || { cat "$work/sweep.log"; fail "the sweep launched a run in use"; }
grep -qE "$in_use" "$work/sweep.log" || { cat "$work/sweep.log"; fail "the sweep did not name the holder"; }
[ ! -e "$run/command.sh" ] && [ ! -e "$run/run.json" ] && [ ! -e "$run/train.log" ] ||
  fail "the sweep wrote into the run: $(ls "$run")"
echo "check: the sweep is refused"

# 5. SIGKILL: the kernel releases the lock.
kill -9 "$holder"
wait "$holder" 2> /dev/null || true
holder=""
flock -n "$run/run.lock" true || fail "the lock outlived its holder"
# What a writer killed half-way leaves (planted, as a kill rarely lands inside a write).
last=$(ls "$run/checkpoints" | grep '^step-' | tail -1)
mkdir -p "$run/checkpoints/.tmp-step-99999999" "$run/.tmp-best"
echo partial > "$run/checkpoints/.tmp-step-99999999/model.safetensors"
echo partial > "$run/.tmp-best/model.safetensors"
echo partial > "$run/.results.json.tmp-4242-0"
cp -r "$run/checkpoints/$last" "$run/checkpoints/.old-$last"
printf '{"kind":"step","step":' >> "$run/metrics.jsonl"
step=$(sed -nE 's/^  "step": ([0-9]+),?/\1/p' "$run/checkpoints/$last/state.json")
"$MMAUX" train "${opts[@]}" --train.out "$run" --train.epochs 100000 --train.resume auto \
  --train.max-steps $((step + 2)) > "$work/next.log" 2>&1 ||
  { cat "$work/next.log"; fail "the start after the kill failed"; }
grep -q "resumed from '.*$last'" "$work/next.log" || { cat "$work/next.log"; fail "did not resume"; }
for left in checkpoints/.tmp-step-99999999 .tmp-best .results.json.tmp-4242-0 "checkpoints/.old-$last"; do
  [ ! -e "$run/$left" ] || fail "$left is still there"
  grep -q "$left" "$work/next.log" || { cat "$work/next.log"; fail "removing $left was not reported"; }
done
grep -q "cut an unfinished last line" "$work/next.log" || fail "the torn metrics line was not reported"
! grep -v '}$' "$run/metrics.jsonl" | grep -q . || fail "metrics.jsonl has an unfinished line"
[ -f "$run/results.json" ] || fail "no results.json"
echo "PASS: one writer per run directory; a killed holder leaves no lock and no leftovers"
