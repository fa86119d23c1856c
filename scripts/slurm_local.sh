#!/usr/bin/env bash
# A throwaway single-node Slurm cluster on 127.0.0.1 (munged, slurmctld,
# slurmd from Debian's packages; no systemd, no database), for the Slurm
# test and for trying `arlab submit` on one machine. Run as root.
#
#   scripts/slurm_local.sh install   # apt-get the packages if missing
#   scripts/slurm_local.sh start     # (re)start a fresh cluster, print `export SLURM_CONF=...`
#   scripts/slurm_local.sh stop      # cancel every job, stop the daemons (by recorded pid)
#
# Env: SLURM_LOCAL_DIR (state, logs; default .slurm-local/, wiped on start),
#      SLURM_LOCAL_PORT (slurmctld's port, default 6817; slurmd uses the next),
#      SLURM_LOCAL_CPUS (default: nproc).
# cred_expire=5: a requeued task may start again 6 s later (default 121 s).
# proctrack/pgid and task/none work in a container; without slurmdbd `sacct`
# is unavailable, so arlab reads state from the results tree and squeue.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

BASE=$(realpath -m "${SLURM_LOCAL_DIR:-.slurm-local}")
PORT=${SLURM_LOCAL_PORT:-6817}
CPUS=${SLURM_LOCAL_CPUS:-$(nproc)}
export SLURM_CONF=$BASE/slurm.conf
SOCK=$BASE/munge/munge.sock
say() { echo "[slurm_local] $*" >&2; }

install() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
    command -v sbatch >/dev/null && command -v munged >/dev/null && return 0
  say "installing slurmctld, slurmd, slurm-client and munge (Debian)"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
}

# Alive and not a zombie.
alive() { [[ -n ${1:-} && -r /proc/$1/stat ]] && ! grep -qE '^[0-9]+ \(.*\) [ZX]' "/proc/$1/stat"; }

stop_one() {
  local f=$BASE/pids/$1.pid p
  [[ -f $f ]] || return 0
  p=$(cat "$f")
  if alive "$p" && tr '\0' ' ' <"/proc/$p/cmdline" | grep -q "$1"; then
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$p" || break; sleep 0.1; done
    alive "$p" && kill -KILL "$p" 2>/dev/null || true
  fi
  rm -f "$f"
}

stop() {
  if [[ -f $BASE/pids/slurmctld.pid ]] && alive "$(cat "$BASE/pids/slurmctld.pid")"; then
    local jobs; jobs=$(squeue -h -o %F 2>/dev/null | sort -u | tr '\n' ' ' || true)
    # shellcheck disable=SC2086
    [[ -n ${jobs// } ]] && scancel $jobs 2>/dev/null || true
  fi
  stop_one slurmd; stop_one slurmctld; stop_one munged
}

conf() {
  local mem; mem=$(awk '/^MemTotal/{printf "%d", $2/1024*0.8}' /proc/meminfo)
  cat >"$SLURM_CONF" <<CONF
ClusterName=arlab
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK,cred_expire=5
StateSaveLocation=$BASE/ctld
SlurmdSpoolDir=$BASE/spool
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
KillWait=30
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
  stop
  rm -rf "$BASE"
  mkdir -p "$BASE"/{munge,ctld,spool,log,pids,run}
  chmod 755 "$BASE" "$BASE/munge"
  mungekey --create --keyfile="$BASE/munge/munge.key" --force
  munged -F --key-file="$BASE/munge/munge.key" --socket="$SOCK" \
    --pid-file="$BASE/munge/munged.pid" --log-file="$BASE/log/munged.log" \
    --seed-file="$BASE/munge/munged.seed" </dev/null >>"$BASE/log/munged.out" 2>&1 &
  echo $! >"$BASE/pids/munged.pid"
  for _ in $(seq 1 50); do munge -n -S "$SOCK" 2>/dev/null | unmunge -S "$SOCK" >/dev/null 2>&1 && break; sleep 0.1; done
  conf
  slurmctld -D -f "$SLURM_CONF" </dev/null >>"$BASE/log/slurmctld.out" 2>&1 &
  echo $! >"$BASE/pids/slurmctld.pid"
  slurmd -D -N localhost -f "$SLURM_CONF" </dev/null >>"$BASE/log/slurmd.out" 2>&1 &
  echo $! >"$BASE/pids/slurmd.pid"
  for _ in $(seq 1 300); do
    [[ $(sinfo -h -n localhost -o %T 2>/dev/null || true) == idle ]] && { echo "export SLURM_CONF=$SLURM_CONF"; return 0; }
    for d in slurmctld slurmd; do
      alive "$(cat "$BASE/pids/$d.pid")" || { say "$d exited during startup"; tail -n 20 "$BASE"/log/*.log >&2 || true; stop; return 1; }
    done
    sleep 0.2
  done
  say "the node did not become idle in 60 s"; tail -n 20 "$BASE"/log/*.log >&2 || true; stop; return 1
}

case ${1:-} in
  install) install ;;
  start) install; start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
