#!/usr/bin/env bash
# Runs every command README.md shows in a ```sh block, from the repository root, as written —
# except `swift run -c release`, which becomes the release binary built once here (the same
# program, without a build check per line). Fails on the first command whose exit status is not 0,
# or not N for a command whose comment says `exits N` (one that shows an error on purpose).
# CI runs it (.ci/run). Usage: scripts/check-readme.sh [README]
set -euo pipefail
cd "$(dirname "$0")/.."
readme=${1:-README.md}

# Commands left out, each with the reason (matched as a prefix of the command as written).
skip_prefixes=(
    "swift test"                                  # CI runs the whole suite itself, right after this
    "swift run -c release vmsim sweep slurm"      # submits to a cluster and writes to /shared/out
    "swift run -c release vmsim-bench"            # minutes of benchmarks on a shared machine: not a check
    "scripts/bench-sweep.sh"                      # the same: a benchmark, minutes long
    "swift run -c release vmsim serve"            # a web server: runs until stopped (BrowserTests drive it)
)
# Commands that need a tool this machine may lack, and the tool.
needs_tool() {
    case "$1" in
        valgrind*) echo valgrind ;;
        gcc*) echo gcc ;;
        *) echo "" ;;
    esac
}

# Files the commands create in the repository root, removed afterwards if they were not there.
created=(sweep-out malloc-trace.so)
preexisting=()
for f in "${created[@]}"; do [[ -e $f ]] && preexisting+=("$f"); done
# Tracked files a command rewrites (tools/malloc-truth/run.sh re-measures into results/) are put
# back afterwards, unless they had local changes before: checking the README leaves the tree as it was.
changed_before=$(git diff --name-only)
cleanup() {
    for f in "${created[@]}"; do
        if [[ ! " ${preexisting[*]-} " == *" $f "* ]]; then rm -rf "$f"; fi
    done
    git diff --name-only | while read -r f; do
        if ! grep -qxF "$f" <<<"$changed_before"; then git checkout -q -- "$f"; fi
    done
}
trap cleanup EXIT

echo "== swift build -c release"
swift build -c release 2>&1 | tail -1
bin=$(swift build -c release --show-bin-path)

mapfile -t commands < <(awk '/^```sh$/ { inside = 1; next } /^```/ { inside = 0 } inside && NF' "$readme")
ran=0
skipped=0
start=$SECONDS
for command in "${commands[@]}"; do
    reason=""
    for prefix in "${skip_prefixes[@]}"; do
        if [[ $command == "$prefix"* ]]; then reason="skipped (listed in scripts/check-readme.sh)"; fi
    done
    tool=$(needs_tool "$command")
    if [[ -n $tool ]] && ! command -v "$tool" >/dev/null; then reason="skipped: needs $tool"; fi
    if [[ -n $reason ]]; then
        echo "-- $command"
        echo "   $reason"
        skipped=$((skipped + 1))
        continue
    fi
    run=${command//swift run -c release vmsim-bench/$bin/vmsim-bench}
    run=${run//swift run -c release vmsim/$bin/vmsim}
    t0=$SECONDS
    expected=0
    if [[ $command =~ \#.*exits\ ([0-9]+) ]]; then expected=${BASH_REMATCH[1]}; fi
    status=0
    bash -o pipefail -c "$run" </dev/null >/tmp/check-readme.$$.out 2>&1 || status=$?
    if ((status != expected)); then
        echo "FAILED (exit $status, expected $expected): $command"
        tail -20 /tmp/check-readme.$$.out
        rm -f /tmp/check-readme.$$.out
        exit 1
    fi
    echo "ok ($((SECONDS - t0)) s) $command"
    ran=$((ran + 1))
done
rm -f /tmp/check-readme.$$.out
echo "== README: $ran commands ran, $skipped skipped, in $((SECONDS - start)) s"
