#!/bin/sh
# Re-runs, in the machine's own THP mode (no switching), the thp.c cases vmsim's THPTests cite,
# printing the fault counts and counters they assert. Usage: sudo tools/kernel-truth/thp-recheck.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
gcc -O1 -static -o /tmp/kt-thp-recheck "$here/thp.c"
echo "# $(uname -r), transparent_hugepage/enabled: $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
for c in "touch 4096 0 huge write" "touch 4096 0 none write" "touch 8192 4 huge write" \
    "touch 8192 1024 huge write" "touch 3072 0 huge write" "touch 3072 4 huge write" \
    "touch 4096 0 huge readwrite" "split munmap" "split mprotect" "split dontneed" "fork all"; do
    echo "## thp $c"
    /tmp/kt-thp-recheck x $c | grep -E '\.(minflt|smaps\.(AnonHugePages_kB|Rss_kB|THPeligible)|vmstat\.(thp_split_pmd|thp_fault_alloc|thp_fault_fallback|thp_zero_page_alloc))=' | grep -v calib
done
