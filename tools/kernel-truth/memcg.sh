#!/bin/sh
# memcg.c inside a 32 MiB memory cgroup: (a) a 64 MiB file read through mmap 3 times, (b) 48 MiB
# of anonymous memory written (no swap: OOM inside the cgroup only). Output: results/memcg.txt.
#
# The memory controller on this machine is bound to the cgroup v1 hierarchy at
# /sys/fs/cgroup/memory (cgroup2 at /sys/fs/cgroup/unified lists no memory controller: it could
# be moved to v2 only by unmounting v1's, whose child cgroups hold the machine's own sandboxes),
# so the limit is v1's memory.limit_in_bytes. The test cgroup is made inside the cgroup this
# shell already runs in (so nothing escapes its accounting) and removed afterwards.
# Usage: sudo tools/kernel-truth/memcg.sh [RUNS]   (default 3)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
runs=${1:-3}
gcc -O1 -static -Wall -Wno-unused-variable -o /tmp/kt-memcg "$here/memcg.c"
own=$(grep ':memory:' /proc/self/cgroup | cut -d: -f3)
base=/sys/fs/cgroup/memory$own
cg=$base/vmsim-kt-memcg.$$
scratch=$here/scratch
mkdir -p "$scratch"
cleanup() { rmdir "$cg" 2>/dev/null || true; rm -f "$scratch"/kt-memcg-*; }
trap cleanup EXIT
echo "# $(uname -r); memory cgroup v1 at $base; swap: $(awk 'NR>1' /proc/swaps | wc -l) areas;" \
    "read_ahead_kb of the scratch disk: $(cat /sys/block/vda/queue/read_ahead_kb); $(date -u +%FT%TZ)"
for r in $(seq 1 "$runs"); do
    for c in "mmapread $scratch/kt-memcg-file 64 3" "anon 48"; do
        mkdir "$cg"
        echo 32M > "$cg/memory.limit_in_bytes"
        echo "## run $r: $c"
        /tmp/kt-memcg "r$r.$(echo "$c" | cut -d' ' -f1)" "$cg" $c
        rmdir "$cg"
    done
done
