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
cargo test --release --test parsers_fuzz --no-run --quiet
deadline=$(( $(date +%s) + minutes * 60 ))
runs=0
while [ "$(date +%s)" -lt "$deadline" ]; do
  if ! out=$(PROPTEST_CASES=$cases cargo test --release --quiet --test parsers_fuzz 2>&1); then
    echo "$out" | grep -E "Test failed|minimal failing input|panicked" -A12 | head -60
    echo "FAILED after $runs runs of $cases cases per parser test"
    exit 1
  fi
  runs=$((runs + 1))
done
tests=$(grep -c '^    fn ' tests/parsers_fuzz.rs || true)
echo "no failure: $runs runs x $cases cases x $tests property tests in $minutes minutes ($(date -u +%F))"
