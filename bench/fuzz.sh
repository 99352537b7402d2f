#!/usr/bin/env bash
# The long run of the parsers' property tests (tests/parsers_fuzz.rs): runs
# them again and again, each time with new random inputs, for MINUTES
# minutes (default 30), and stops at the first failure, printing it.
# Prints how many runs and cases passed.
# Usage: bench/fuzz.sh [minutes] [cases-per-test-per-run]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
cases=${2:-20000}
# The test binary itself, run again and again (no cargo, so no build lock).
bin=$(cargo test --release --test parsers_fuzz --no-run 2>&1 | grep -o 'target/release/deps/parsers_fuzz-[0-9a-f]*' | head -1)
[ -x "$bin" ] || { echo "cannot find the parsers_fuzz test binary" >&2; exit 1; }
# A copy, so a rebuild meanwhile neither replaces nor locks what runs.
copy=$(mktemp /tmp/parsers_fuzz.XXXXXX)
trap 'rm -f "$copy"' EXIT
cp "$bin" "$copy"
chmod +x "$copy"
bin=$copy
deadline=$(( $(date +%s) + minutes * 60 ))
runs=0
while [ "$(date +%s)" -lt "$deadline" ]; do
  if ! out=$(PROPTEST_CASES=$cases "$bin" --quiet 2>&1); then
    echo "$out" | grep -E "Test failed|minimal failing input|panicked" -A12 | head -60
    echo "FAILED after $runs runs of $cases cases per parser test"
    exit 1
  fi
  runs=$((runs + 1))
done
tests=$(grep -c '^    fn ' tests/parsers_fuzz.rs || true)
echo "no failure: $runs runs x $cases cases x $tests property tests in $minutes minutes ($(date -u +%F))"
