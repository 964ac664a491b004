#!/usr/bin/env bash
# Runs the probe on 2 ranks and checks that the job ends non-zero with rank 1's message.
# The ctest TIMEOUT (and the timeout here) turn a hang into a failure.
set -u
probe=$1
out=$(timeout 45 "${MPIEXEC:-mpirun}" -np 2 "$probe" 2>&1)
rc=$?
echo "$out"
echo "exit code: $rc"
[ "$rc" -eq 124 ] && { echo "FAIL: the job hung (rank 0 was left waiting)"; exit 1; }
[ "$rc" -eq 0 ] && { echo "FAIL: the job exited 0"; exit 1; }
echo "$out" | grep -q '\[rank 1/2\] \[main\] rank 1 failed on purpose' || { echo "FAIL: rank 1's message is missing"; exit 1; }
echo "PASS"
