#!/usr/bin/env bash
# Starts a one-node Slurm cluster on this machine — munged, slurmctld and slurmd, all in the
# background — so the sweep tests can submit a real job array (Tests/VMSweepTests). Installs
# Debian's slurm-wlm and munge when they are missing (needs root and the Debian mirror).
# scripts/slurm-down.sh stops what this started. State, logs and pid files live in
# $VMSIM_SLURM_STATE (default /tmp/vmsim-slurm).
set -euo pipefail

STATE=${VMSIM_SLURM_STATE:-/tmp/vmsim-slurm}

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    echo "slurm-up: installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

mkdir -p "$STATE/ctld" "$STATE/spool" "$STATE/log"

# munge: a key, then munged as the munge user.
if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
chmod 755 /run/munge
if ! { [ -s /run/munge/munged.pid ] && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; }; then
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
fi
for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
munge -n </dev/null | unmunge >/dev/null

# slurm.conf: this machine as the controller and the one compute node, as slurmd sees it.
HOST=$(hostname -s)
NODE=$(slurmd -C | head -n 1)
mkdir -p /etc/slurm
cat >/etc/slurm/slurm.conf <<CONF
# Written by vmsim scripts/slurm-up.sh: a one-node cluster for the sweep tests.
ClusterName=vmsim
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
$NODE State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
running "$STATE/slurmctld.pid" || slurmctld -i
running "$STATE/slurmd.pid" || slurmd

# Wait until the node takes jobs.
for _ in $(seq 100); do
    state=$(sinfo -h -n "$HOST" -o %t 2>/dev/null || true)
    case "$state" in
        idle* | mix* | alloc*) echo "slurm-up: node $HOST is $state"; exit 0 ;;
        down* | drain*) scontrol update nodename="$HOST" state=resume 2>/dev/null || true ;;
    esac
    sleep 0.2
done
echo "slurm-up: the node did not come up; logs in $STATE/log" >&2
exit 1
