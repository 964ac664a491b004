# Helpers shared by the launch and Slurm e2e tests (sourced). Expects MMAUX_SOURCE_DIR and
# MMAUX_BIN (set by ctest through mmaux_add_script_test).
set -euo pipefail
src=${MMAUX_SOURCE_DIR:?run through ctest (MMAUX_SOURCE_DIR unset)}
mmaux=${MMAUX_BIN:?run through ctest (MMAUX_BIN unset)}
launcher=$(dirname "$mmaux")/mmaux-launch
fixture=$src/tests/e2e/fixture_trainer.sh

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
check() { echo "check: $1"; }
# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.1 s.
wait_for() {
  local limit=$1 what=$2
  shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -lt $end ] || fail "timed out after ${limit}s waiting for $what"
    sleep 0.1
  done
}
expect_in() {  # expect_in FILE PATTERN DESCRIPTION
  grep -qE -- "$2" "$1" || { echo "--- $1:" >&2; cat "$1" >&2; fail "$3 (no /$2/ in $1)"; }
}

# Starts the local Slurm cluster in a short directory; sets SLURM_CONF and an EXIT trap that
# stops it and removes the work directory $work.
start_local_slurm() {
  [ "$(id -u)" = 0 ] || skip "the local Slurm cluster needs root"
  for p in slurmctld slurmd munged sbatch; do
    command -v "$p" > /dev/null || skip "$p not installed (apt-get install slurm-wlm munge libpmix-dev)"
  done
  work=$(mktemp -d /tmp/mmx.XXXXXX)
  trap 'bash "$src/cluster/local-slurm.sh" stop "$work/slurm" > /dev/null 2>&1 || true; [ -n "${MMAUX_TEST_KEEP:-}" ] || rm -rf "$work"' EXIT
  local env_line
  env_line=$(bash "$src/cluster/local-slurm.sh" start "$work/slurm") || fail "local Slurm did not start"
  export SLURM_CONF=${env_line#export SLURM_CONF=}
  check "local Slurm is up ($(sinfo -h -o '%D node(s) %t'))"
}

# slurm_state JOB: the state of a job or array task ("" once it is gone from squeue).
slurm_state() { squeue -h -j "$1" -o %T 2> /dev/null | head -1; }

# preempt_and_requeue JOB RUN_DIR: sends USR1 to the batch shell of JOB (as Slurm's
# --signal=B:USR1@N does near the time limit), waits for the task to be requeued and lets it
# start at once (a requeued job otherwise waits for its BeginTime).
preempt_and_requeue() {
  local job=$1 run=$2
  # Slurm 22.05 delivers the signal but may answer "Job can not be altered now, try again later";
  # scancel then retries every 5 s and would signal the requeued task again. The timeout ends
  # scancel before a retry; what counts is the effect (exit code 75), checked below.
  local id
  id=$(squeue -h -j "$job" -o %A)
  [ -n "$id" ] || fail "$job is not in the queue"
  timeout 3 scancel --signal=USR1 --batch "$id" 2> /dev/null || true
  check "sent USR1 to the batch shell of $job (job id $id)"
  wait_for 60 "$job to exit 75 and be requeued" grep -q "^75$" "$run/exit_code"
  wait_for 60 "$job to be pending again" sh -c "squeue -h -j '$job' -o %T | grep -q PENDING"
  scontrol update JobId="$job" StartTime=now
}
