#!/usr/bin/env python3
"""Merge repeated runs of one case into stable key=value lines.

usage: summarize.py RUN1 RUN2 ...   (each a file of key=value lines)

For every key, in the order of the first run:
  key=value              all runs agree
  key=MIN..MAX           numeric and the runs differ; followed by
  unstable.key=v1,v2,... the value of every run
  key=<first run value>  non-numeric and the runs differ; followed by
  unstable.key=distinct:K (the raw runs are kept in results/raw/)
Keys starting with "info." are expected to differ (addresses, PFNs) and are
printed from the first run only.
"""
import sys
runs = []
for path in sys.argv[1:]:
    d = {}
    order = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" not in line or line.startswith("#"):
                continue
            k, v = line.split("=", 1)
            if k not in d:
                order.append(k)
            d[k] = v
    runs.append((d, order))
if not runs:
    sys.exit(0)
first, order = runs[0]
keys = list(order)
for d, o in runs[1:]:
    for k in o:
        if k not in first and k not in keys:
            keys.append(k)
print("runs=%d" % len(runs))
for k in keys:
    vals = [d.get(k, "<missing>") for d, _ in runs]
    if k.startswith("info."):
        print("%s=%s" % (k, vals[0]))
        continue
    if all(v == vals[0] for v in vals):
        print("%s=%s" % (k, vals[0]))
        continue
    try:
        nums = [int(v) for v in vals]
        print("%s=%d..%d" % (k, min(nums), max(nums)))
        print("unstable.%s=%s" % (k, ",".join(vals)))
    except ValueError:
        print("%s=%s" % (k, vals[0]))
        print("unstable.%s=distinct:%d" % (k, len(set(vals))))
