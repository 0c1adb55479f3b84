#!/usr/bin/env bash
# Benchmark: one `vmsim sweep run` against the same cells as separate `vmsim replay` runs.
#
#   scripts/bench-sweep.sh [LENGTH] [REPEATS] [FORMAT]
#       (default 10000000 accesses per trace, 3 repeats, oracleGeneral; FORMAT txt for text traces)
#   POLICIES="lru fifo …" STEP=10 scripts/bench-sweep.sh …   other policies, sizes every STEP%
#
# Three synthetic traces (in libCacheSim's oracleGeneral format by default) (the ones `vmsim-bench trace`
# uses: uniform over 100k pages, Zipf 0.9 over 1M, a loop over 50k), 5 policies × 20 sizes (5% …
# 100% of each trace's distinct pages): 300 cells. The sweep runs them on every core; the separate
# runs go through `xargs -P $(nproc)`, as many at once as there are cores, so both use the whole
# machine. Each is timed REPEATS times (the sweep into a fresh directory each time) and the median
# wall time printed; then every cell's misses are checked equal between the two.
set -euo pipefail
cd "$(dirname "$0")/.."
LENGTH=${1:-10000000}
REPEATS=${2:-3}
FORMAT=${3:-oracleGeneral}
CORES=$(nproc)
swift build -c release --product vmsim >/dev/null
VMSIM=$(swift build -c release --show-bin-path)/vmsim
WORK=${VMSIM_BENCH_DIR:-/tmp/vmsim-bench-sweep}
mkdir -p "$WORK"

gen() { # name pattern pages
    local path="$WORK/$1-$LENGTH.$FORMAT"
    [ -s "$path" ] || "$VMSIM" trace-gen --pattern "$2" --length "$LENGTH" --pages "$3" --format "$FORMAT" -o "$path"
}
gen uniform-100k uniform 100000
gen zipf0.9-1M zipf 1000000
gen loop-50k loop 50000

POLICIES=${POLICIES:-lru fifo clock arc sieve}
STEP=${STEP:-5}
cat >"$WORK/sweep.yaml" <<YAML
sweep: bench-$LENGTH
kind: replay
fixed: {format: $FORMAT}
axes:
  trace: [uniform-100k-$LENGTH.$FORMAT, zipf0.9-1M-$LENGTH.$FORMAT, loop-50k-$LENGTH.$FORMAT]
  policy: [$(echo $POLICIES | sed 's/ /, /g')]
  frames: {from: $STEP%, to: 100%, step: $STEP%}
metrics: [frames, misses, missRatio]
YAML

: >"$WORK/cells.txt"
for t in uniform-100k zipf0.9-1M loop-50k; do
    for p in $POLICIES; do
        for f in $(seq "$STEP" "$STEP" 100); do echo "$WORK/$t-$LENGTH.$FORMAT $p $f%" >>"$WORK/cells.txt"; done
    done
done
CELLS=$(wc -l <"$WORK/cells.txt")

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

sweep_times=()
for r in $(seq "$REPEATS"); do
    rm -rf "$WORK/out"; sync
    s=$(now)
    "$VMSIM" sweep run "$WORK/sweep.yaml" --out "$WORK/out" --no-progress >/dev/null
    e=$(now)
    sweep_times+=("$(echo "$e - $s" | bc)")
done
one() { # trace policy frames → "trace policy frames misses"
    "$VMSIM" replay "$1" --format "$FORMAT" --policy "$2" --frames "$3" --json |
        sed -E 's/.*"misses": ([0-9]+).*/\1/' | sed "s|^|$(basename "$1") $2 $3 |"
}
export -f one
export VMSIM FORMAT
separate_times=()
for r in $(seq "$REPEATS"); do
    s=$(now)
    xargs -P "$CORES" -L 1 bash -c 'one "$@"' _ <"$WORK/cells.txt" >"$WORK/separate.txt"
    e=$(now)
    separate_times+=("$(echo "$e - $s" | bc)")
done

S=$(printf '%s\n' "${sweep_times[@]}" | median)
P=$(printf '%s\n' "${separate_times[@]}" | median)
echo "cells: $CELLS ($LENGTH accesses per trace, $FORMAT), $CORES cores"
echo "sweep run:          ${sweep_times[*]} s → median $S s"
echo "separate replays:   ${separate_times[*]} s → median $P s"
echo "speed-up:           $(echo "scale=2; $P / $S" | bc)×"

# The same numbers both ways.
"$VMSIM" sweep collect "$WORK/out" >/dev/null
awk -F, 'NR > 1 { print $1, $2, $3, $6 }' "$WORK/out/results.csv" | sort >"$WORK/a.txt"
sort "$WORK/separate.txt" >"$WORK/b.txt"
if cmp -s "$WORK/a.txt" "$WORK/b.txt"; then echo "misses: identical in all $CELLS cells"; else
    echo "misses DIFFER:"; diff "$WORK/a.txt" "$WORK/b.txt" | head; exit 1
fi
