#!/usr/bin/env bash
# Runs comm_failure_probe on 2 ranks in MODE (timeout | die) and checks that the job ends with a
# non-zero status and a message naming the failure, instead of hanging. The `timeout 45` (and the
# ctest TIMEOUT) turn a hang into a failure.
set -u
probe=$1
mode=$2
out=$(timeout 45 "${MPIEXEC:-mpirun}" -np 2 "$probe" "$mode" 2>&1)
rc=$?
echo "$out"
echo "exit code: $rc"
[ "$rc" -eq 124 ] && { echo "FAIL: the job hung"; exit 1; }
[ "$rc" -eq 0 ] && { echo "FAIL: the job exited 0"; exit 1; }
if [ "$mode" = timeout ]; then
  echo "$out" | grep -q 'rank 0 of 2: MPI all_reduce of 16 Double elements (sum) did not complete within 2 s' ||
    { echo "FAIL: rank 0's timeout message is missing"; exit 1; }
else
  echo "$out" | grep -qiE 'rank 1.*(signal|killed)|signal 9' ||
    { echo "FAIL: the launcher did not report rank 1's death"; exit 1; }
fi
echo "PASS"
