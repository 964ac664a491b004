#!/usr/bin/env bash
# A full disk while checkpointing, on a real file system: a tmpfs sized for two checkpoints and a
# half. The run ends with a clear error, the earlier checkpoints stay valid, nothing half-written
# stays behind to keep the disk full, and `--train.resume auto` continues once there is room.
# Needs to mount a tmpfs (root); skipped (exit 77) where that is not permitted. The test runs in
# a mount namespace of its own, so the tmpfs goes away with it even when it is killed.
source "$(dirname "$0")/train_lib.sh"
skip() { echo "SKIP: $*"; exit 77; }
if [ -z "${MMAUX_IN_MOUNT_NS:-}" ]; then
  if MMAUX_IN_MOUNT_NS=1 unshare -m --propagation private true 2> /dev/null; then
    MMAUX_IN_MOUNT_NS=1 exec unshare -m --propagation private bash "$0" "$@"
  fi
  echo "note: no private mount namespace (unshare -m not permitted); mounting in the current one"
fi
work=$(mktemp -d)
disk=$work/disk
mkdir -p "$disk"
trap 'umount "$disk" 2> /dev/null || true; rm -rf "$work"' EXIT
mount -t tmpfs -o size=4m tmpfs "$disk" 2> "$work/mount.err" ||
  skip "cannot mount a tmpfs here ($(cat "$work/mount.err")): run as root to test a full disk"
make_data "$work/data"
run() {  # run RUN_DIR [options...]
  local dir=$1
  shift
  "$MMAUX" train --data.dir "$work/data/shards" --model.preset tiny --data.batch-size 16 \
    --data.eval-batch-size 64 --train.lr 1e-3 --train.out "$dir" --dist.threads 1 \
    --train.log-every 1 --train.epochs 3 --train.checkpoint-every 1 "$@"
}

# The size of one checkpoint, from a run on the ordinary disk.
run "$work/probe" --train.max-steps 1 > "$work/probe.log" 2>&1 || { cat "$work/probe.log"; fail "probe run"; }
ckpt_kb=$(du -sk "$work/probe/checkpoints/step-00000001" | cut -f1)
size_kb=$((ckpt_kb * 5 / 2 + 64))
umount "$disk"
mount -t tmpfs -o size=${size_kb}k tmpfs "$disk"
echo "a checkpoint takes ${ckpt_kb} KiB; the disk has ${size_kb} KiB"

set +e
run "$disk/r" --train.max-steps 6 --train.keep-last 10 > "$work/full.log" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$work/full.log"; fail "exit $rc on a full disk, expected 1"; }
grep -E "cannot write '$disk/r/checkpoints/\.tmp-step-00000003/.*No space left on device" \
  "$work/full.log" || { cat "$work/full.log"; fail "no clear error naming the file and the cause"; }
ls -A "$disk/r/checkpoints"
[ "$(ls -A "$disk/r/checkpoints")" = "$(printf 'step-00000001\nstep-00000002')" ] ||
  fail "checkpoints/ should hold steps 1 and 2 only: $(ls -A "$disk/r/checkpoints")"
hidden=$(find "$disk/r" -name '.*')
[ -z "$hidden" ] || fail "left behind: $hidden"
free_kb=$(df -k --output=avail "$disk" | tail -1)
[ "$free_kb" -gt $((ckpt_kb / 3)) ] || fail "only ${free_kb} KiB free: the partial checkpoint still fills the disk"
echo "check: clear error, steps 1 and 2 kept, nothing left behind (${free_kb} KiB free)"

mount -o remount,size=$((size_kb * 2))k "$disk"
run "$disk/r" --train.max-steps 6 --train.resume auto --train.keep-last 2 > "$work/resumed.log" 2>&1 ||
  { cat "$work/resumed.log"; fail "resume after the full disk failed"; }
grep -q "resumed from '$disk/r/checkpoints/step-00000002' at step 2" "$work/resumed.log" ||
  { cat "$work/resumed.log"; fail "did not resume from step 2"; }
[ -f "$disk/r/results.json" ] && [ -d "$disk/r/checkpoints/step-00000006" ] || fail "the resumed run did not finish"
echo "PASS: a full disk ends the run cleanly; resume continues"
