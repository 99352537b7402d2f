#!/usr/bin/env bash
# The registry as a fleet's build cache, on sample-apps/flask-hello offline
# from the vendored wheelhouse, Debian's docker-registry on loopback:
#   cold   - a runner with an empty cache builds and pushes its cache
#            entry (--cache-to; it fetches and builds its base too)
#   second - another runner with an empty cache builds with --cache-from
# Each run uses a new tag, so every second runner finds exactly one entry.
# Prints every run, the medians and the ratio second/cold (issue 15 asks
# for at most 0.3).
# Usage: bench/registry-cache.sh [runs]   (needs docker-registry; see tests/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
. bench/lib.sh

cargo build --release --quiet
bin=$PWD/target/release/pypack
work=$(mktemp -d)
port=$(free_port)
printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$work/registry" "$port" > "$work/registry.yml"
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
registry=$!
cleanup() { kill "$registry" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

build() { # cache-dir output cache-flag
  PYPACK_CACHE_DIR=$1 "$bin" build sample-apps/flask-hello --no-index \
    --find-links sample-apps/wheelhouse --no-smoke --insecure-registry --output "$2" "${@:3}"
}

cold=() second=()
for i in $(seq "$runs"); do
  ref=127.0.0.1:$port/bench/cache:run$i
  c=$(seconds build "$work/a$i" "$work/out-a$i" --cache-to "$ref")
  s=$(seconds build "$work/b$i" "$work/out-b$i" --cache-from "$ref")
  same=$(cmp -s "$work/out-a$i/index.json" "$work/out-b$i/index.json" && echo "same digest" || echo "DIGESTS DIFFER")
  echo "run $i: cold $c s, second runner $s s ($same)"
  cold+=("$c") second+=("$s")
done
mc=$(printf '%s\n' "${cold[@]}" | median)
ms=$(printf '%s\n' "${second[@]}" | median)
echo "median: cold $mc s, second runner $ms s, ratio $(awk -v a="$ms" -v b="$mc" 'BEGIN {printf "%.2f", a / b}')"
