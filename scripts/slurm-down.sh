#!/usr/bin/env bash
# Stops the daemons scripts/slurm-up.sh started — by the process ids in their pid files.
set -uo pipefail

STATE=${VMSIM_SLURM_STATE:-/tmp/vmsim-slurm}

stop() {
    local pidfile=$1
    [ -s "$pidfile" ] || return 0
    local pid
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
}

stop "$STATE/slurmd.pid"
stop "$STATE/slurmctld.pid"
stop /run/munge/munged.pid
echo "slurm-down: stopped"
