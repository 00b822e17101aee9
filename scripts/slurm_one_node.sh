#!/bin/bash
# One-node SLURM on Debian/Ubuntu, for tests/test_slurm.py and for trying
# the README's dask-jobqueue recipe.  Run as root.  Installs slurm-wlm and
# munge (apt), writes /etc/slurm/slurm.conf for this host (its real CPUs and
# memory, from `slurmd -C`), starts munged, slurmctld and slurmd directly
# (no systemd), and waits until `sinfo` shows the node idle.  Idempotent:
# running it again keeps what runs and starts what does not.
#   scripts/slurm_one_node.sh           set up and start
#   scripts/slurm_one_node.sh --stop    stop the three daemons
set -euo pipefail

CONF=/etc/slurm/slurm.conf
LOG=/var/log/slurm
WAIT=${SLURM_SETUP_WAIT:-60}

die() { echo "slurm_one_node: $*" >&2; exit 1; }
running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts daemons)"

if [ "${1:-}" = "--stop" ]; then
    for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
        if running "$pidfile"; then kill "$(cat "$pidfile")"; fi
    done
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || die "no apt-get: install slurm-wlm and munge by hand"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q slurm-wlm munge >/dev/null
fi

# -- munge --------------------------------------------------------------------
if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null; then mungekey --create --force
    else dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; fi
fi
chown munge:munge /etc/munge /etc/munge/munge.key
chmod 700 /etc/munge
chmod 600 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
chmod 755 /run/munge
if ! running /run/munge/munged.pid; then
    runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 20); do munge -n >/dev/null 2>&1 && break; sleep 0.5; done
munge -n | unmunge >/dev/null || die "munged does not answer (see /var/log/munge/munged.log)"

# -- slurm.conf for this host ---------------------------------------------------
node=$(hostname -s)
# e.g. "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105"
hw=$(slurmd -C | head -1 | sed -e 's/^NodeName=[^ ]* //')
mkdir -p /etc/slurm "$LOG" /var/spool/slurmctld /var/spool/slurmd
chown slurm:slurm "$LOG" /var/spool/slurmctld
new=$(cat <<CONF
# written by scripts/slurm_one_node.sh for $node
ClusterName=deeplift
SlurmctldHost=$node
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=$node $hw State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
)
changed=0
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$new" ]; then
    printf '%s\n' "$new" > "$CONF"
    chmod 644 "$CONF"
    changed=1
fi

# -- daemons ----------------------------------------------------------------------
if [ "$changed" = 1 ]; then       # a new configuration: restart what runs
    for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
        if running "$pidfile"; then
            kill "$(cat "$pidfile")"
            for _ in $(seq 20); do running "$pidfile" || break; sleep 0.5; done
        fi
    done
fi
running /run/slurmctld.pid || /usr/sbin/slurmctld
running /run/slurmd.pid || /usr/sbin/slurmd

# -- wait for the node -------------------------------------------------------------
for _ in $(seq "$WAIT"); do
    state=$(sinfo -h -n "$node" -o %T 2>/dev/null | head -1 || true)
    case "$state" in
        idle|mixed|allocated) echo "slurm_one_node: $node is $state"; exit 0 ;;
        down*|drain*)       scontrol update NodeName="$node" State=RESUME 2>/dev/null || true ;;
    esac
    sleep 1
done
die "node $node did not become idle in ${WAIT}s (state: ${state:-no answer}); see $LOG/slurmctld.log and $LOG/slurmd.log"
