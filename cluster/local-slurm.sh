#!/usr/bin/env bash
# A real one-node Slurm cluster on localhost, from Debian's packages (slurm-wlm, munge,
# libpmix-dev), for tests and for trying the batch scripts: a private munged, slurmctld and
# slurmd, with every file (configuration, state, logs, sockets, pid files) in one directory.
# Needs root (SlurmUser=root); no systemd.
#
#   cluster/local-slurm.sh start DIR   start the daemons; prints `export SLURM_CONF=DIR/slurm.conf`
#   cluster/local-slurm.sh stop DIR    stop them by the pids in DIR (then DIR can be removed)
#   cluster/local-slurm.sh status DIR  sinfo of the cluster
#
# DIR must be short (socket paths are limited to 108 bytes): e.g. /tmp/slurm.XXXX.
# MMAUX_SLURM_CPUS advertises more CPUs than the machine has (for more concurrent ranks).
# Facts this relies on (checked on Debian 12, slurm-wlm 22.05): every directory on the munge
# socket path must be world-executable; the key mode 600; srun needs --mpi=pmix for Open MPI;
# a requeued job waits for the credential to expire (cred_expire=10 keeps that short).
set -euo pipefail

die() { echo "local-slurm: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: $0 start|stop|status DIR"
action=$1
dir=$2

pid_of() { [ -s "$dir/$1.pid" ] && cat "$dir/$1.pid" || true; }

stop() {
  local name pid
  for name in slurmd slurmctld munged; do
    pid=$(pid_of "$name")
    [ -n "$pid" ] || continue
    kill "$pid" 2> /dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2> /dev/null && kill -9 "$pid" 2> /dev/null || true
    rm -f "$dir/$name.pid"
  done
  # Job steps left behind by slurmd (slurmstepd) would keep running: end those of this cluster.
  for pid in $(pgrep -f "slurmstepd.*" 2> /dev/null || true); do
    if tr '\0' '\n' < "/proc/$pid/environ" 2> /dev/null | grep -qx "SLURM_CONF=$dir/slurm.conf"; then
      kill -9 "$pid" 2> /dev/null || true
    fi
  done
}

start() {
  [ "$(id -u)" = 0 ] || die "needs root (the daemons run as SlurmUser=root)"
  for p in munged slurmctld slurmd sinfo; do
    command -v "$p" > /dev/null || die "$p not found; apt-get install slurm-wlm munge libpmix-dev"
  done
  [ ${#dir} -lt 80 ] || die "DIR '$dir' is too long for socket paths; use a short one under /tmp"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local name pid
  for name in munged slurmctld slurmd; do
    pid=$(pid_of "$name")
    if [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null; then
      die "$name of a cluster in $dir is running (pid $pid); stop it first: $0 stop $dir"
    fi
  done
  # munged checks that every directory on its socket path is world-executable.
  local d=$dir
  while [ "$d" != / ]; do chmod o+x "$d" 2> /dev/null || true; d=$(dirname "$d"); done
  chmod 755 "$dir"
  mkdir -p "$dir/state" "$dir/spool" "$dir/tmp"
  dd if=/dev/urandom bs=1024 count=1 of="$dir/munge.key" status=none
  chmod 600 "$dir/munge.key"
  munged --force --key-file="$dir/munge.key" --socket="$dir/munge.sock" \
    --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munged.seed" \
    || die "munged did not start; see $dir/munged.log"

  local hw cpus
  hw=$(slurmd -C | head -1 | sed 's/^NodeName=[^ ]* //')
  if [ -n "${MMAUX_SLURM_CPUS:-}" ]; then
    cpus=$MMAUX_SLURM_CPUS
    hw="CPUs=$cpus RealMemory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<< "$hw")"
  fi
  cat > "$dir/slurm.conf" << CONF
ClusterName=mmauxlocal
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge.sock,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
TmpFS=$dir/tmp
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=$(( 20000 + RANDOM % 20000 ))
SlurmdPort=$(( 40000 + RANDOM % 20000 ))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
KillWait=5
MinJobAge=300
SlurmdParameters=config_overrides
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
NodeName=localhost NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  # PMIx's per-step directories go to the cluster's own directory: job ids start at 1 in every
  # new cluster, and a directory left in /tmp by an earlier one would make srun --mpi=pmix fail.
  echo "PMIxCliTmpDirBase=$dir/tmp" > "$dir/mpi.conf"
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -c -f "$SLURM_CONF" || die "slurmctld did not start; see $dir/slurmctld.log"
  local ok=0
  for _ in $(seq 100); do
    if scontrol ping 2> /dev/null | grep -q UP; then ok=1; break; fi
    sleep 0.1
  done
  [ $ok = 1 ] || die "slurmctld does not answer; see $dir/slurmctld.log"
  slurmd -N localhost -f "$SLURM_CONF" || die "slurmd did not start; see $dir/slurmd.log"
  ok=0
  for _ in $(seq 150); do
    if sinfo -h -N -o %t 2> /dev/null | grep -qx idle; then ok=1; break; fi
    sleep 0.1
  done
  [ $ok = 1 ] || die "node not idle: $(sinfo -h -N -o '%t %E' 2>&1); see $dir/slurmd.log"
  echo "export SLURM_CONF=$dir/slurm.conf"
}

case "$action" in
  start)
    trap 'stop' ERR
    start ;;
  stop) [ -d "$dir" ] || die "no such directory '$dir'"; dir=$(cd "$dir" && pwd); stop ;;
  status) SLURM_CONF=$dir/slurm.conf sinfo ;;
  *) die "unknown action '$action'; use start, stop or status" ;;
esac
