#!/usr/bin/env python3
"""Summarise `perf script` output of exceptions:page_fault_user for one mapping.

usage: perf script -i perf.data | perf_faults.py BASE_HEX NPAGES [PID]
Prints the number of exceptions inside [BASE, BASE+NPAGES*4096), and the number
and page:error-code list of the read ones (x86 error code: bit0 present,
bit1 write, bit2 user).
"""
import re, sys
base = int(sys.argv[1], 16)
npages = int(sys.argv[2])
pid = sys.argv[3] if len(sys.argv) > 3 else None
pat = re.compile(r"^\s*\S+\s+(\d+)\s.*address=0x([0-9a-f]+) ip=0x[0-9a-f]+ error_code=0x([0-9a-f]+)")
faults = []
for line in sys.stdin:
    m = pat.search(line)
    if not m:
        continue
    if pid and m.group(1) != pid:
        continue
    a = int(m.group(2), 16)
    if base <= a < base + npages * 4096:
        faults.append(((a - base) // 4096, int(m.group(3), 16)))
print("perf.faults=%d" % len(faults))
# read exceptions only (error code bit 1 clear): the measured loops of retry.c only read, while
# earlier writes of the program (its freed data buffer, at the same addresses) are writes
reads = [f for f in faults if not f[1] & 2]
print("perf.read_faults=%d" % len(reads))
print("perf.read_pages=" + ",".join("%d:%x" % f for f in reads[:400]) + (",..." if len(reads) > 400 else ""))
