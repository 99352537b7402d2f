#!/usr/bin/env bash
# The cost of the native library audit on sample-apps/flask-hello (offline,
# from the vendored wheelhouse; --no-smoke --no-compile, so only pypack's own
# work is timed): pypack prints the audit's time when PYPACK_TIMINGS is set —
# reading the ELF files of the layers it writes plus checking every needed
# library against the base. Two cases, each run N times:
#   cold - an empty cache (the venv and app layers are new and read)
#   warm - the same cache (the layers' summaries come from the cache)
# Also checks that the audit leaves flask-hello's image as it was: no system
# libraries layer (its digest is printed; compare it across versions).
# Prints every run and the medians in milliseconds. Usage: bench/audit.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}

cargo build --release --quiet
bin=$PWD/target/release/pypack
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. bench/lib.sh
audit_ms() { # cache-dir: builds once, prints the audit's milliseconds
  rm -rf "$work/out"
  env PYPACK_CACHE_DIR="$1" PYPACK_TIMINGS=1 "$bin" build sample-apps/flask-hello --no-index \
    -f sample-apps/wheelhouse --no-smoke --no-compile --output "$work/out" 2> "$work/log" >/dev/null
  grep -q "libraries missing" "$work/log" || { cat "$work/log" >&2; exit 1; }
  if grep -q "^system:" "$work/log"; then echo "flask-hello got system libraries" >&2; exit 1; fi
  sed -n 's/^timing: *native library audit \([0-9.]*\) ms.*/\1/p' "$work/log"
}

cold=(); warm=()
for i in $(seq "$runs"); do
  cache="$work/cache-$i"
  cold+=("$(audit_ms "$cache")")
  warm+=("$(audit_ms "$cache")")
  rm -rf "$cache"
done
digest=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['manifests'][0]['digest'])" "$work/out/index.json")
echo "flask-hello, $runs runs; image $digest (no system libraries layer)"
echo "audit, cold: ${cold[*]}  median $(printf '%s\n' "${cold[@]}" | median) ms"
echo "audit, warm: ${warm[*]}  median $(printf '%s\n' "${warm[@]}" | median) ms"
