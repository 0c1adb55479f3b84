#!/bin/sh
# Builds and runs every measurement, writing results/NAME.txt (key=value lines).
# Each result starts with the machine: kernel, glibc, and the transparent-hugepage mode read
# before and after the run; a run during which the THP mode changed is repeated (up to 5 times).
# Usage: tools/malloc-truth/run.sh   (from anywhere; needs gcc; root for mlockall without limits)
set -eu
cd "$(dirname "$0")"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
mkdir -p results

# -O0 -fno-builtin: GCC would otherwise delete malloc/free pairs whose memory is never used.
for c in *.c; do
    gcc -O0 -fno-builtin -Wall -Wno-unused-function -o "$bin/${c%.c}" "$c"
done

thp() { sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled; }

# run NAME PROGRAM [ARGS...]
run() {
    name=$1
    shift
    tries=0
    while :; do
        start=$(thp)
        out=$("$bin/$@")
        end=$(thp)
        if [ "$start" = "$end" ] || [ $tries -ge 4 ]; then break; fi
        tries=$((tries + 1))
    done
    {
        echo "kernel=$(uname -r)"
        echo "glibc=$(ldd --version | head -1 | sed 's/.* //')"
        echo "thp_start=$start"
        echo "thp_end=$end"
        echo "command=$*"
        echo "$out"
    } >"results/$name.txt"
}

for n in 1 24 25 1000 100000 131048; do run "first-$n" first "$n"; done
run threshold threshold
for v in 32m 32m-4k 40m; do run "threshold-max-$v" threshold_max "$v"; done
run trim trim
run tcache-24 tcache 24
run tcache-500 tcache 500
run fastbin fastbin
run coalesce coalesce
run malloc-trim malloc_trim
run realloc realloc
run calloc calloc
run memalign memalign
for v in default toppad0 toppad1m mmap1m mmapmax0 trim0 trim1m; do run "mallopt-$v" mallopt "$v"; done
echo "results in $(pwd)/results"
