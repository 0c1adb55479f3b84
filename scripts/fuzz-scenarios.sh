#!/usr/bin/env bash
# Out-of-process fuzzing of the scenario language: the fuzz tests write N inputs per test
# (VMSIM_FUZZ_DUMP), then the release binary runs each with a time limit. Any exit status
# other than 0, 1 or 2, or a timeout, is a finding: the input is kept in DIR/findings.
# Usage: scripts/fuzz-scenarios.sh [N per test, default 2000] [DIR, default /tmp/vmsim-fuzz]
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
dir=${2:-/tmp/vmsim-fuzz}
rm -rf "$dir" && mkdir -p "$dir/inputs" "$dir/findings"
swift build -c release --product vmsim >/dev/null || exit 1
VMSIM_FUZZ=$n VMSIM_FUZZ_DUMP="$dir/inputs" swift test --filter ScenarioFuzzTests >/dev/null 2>&1
bin=.build/release/vmsim
total=0; bad=0
for f in "$dir"/inputs/*.vmsim; do
  total=$((total + 1))
  timeout 20 "$bin" run "$f" >/dev/null 2>"$dir/stderr"; rc=$?
  if [ $rc -gt 2 ]; then
    bad=$((bad + 1))
    cp "$f" "$dir/findings/"
    echo "exit $rc: $(basename "$f"): $(tail -c 300 "$dir/stderr" | tr '\n' ' ')"
  fi
done
echo "$total inputs, $bad findings (in $dir/findings)"
