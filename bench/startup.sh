#!/usr/bin/env bash
# Time to the first HTTP response of flask-hello (gunicorn) started in
# podman, with the bytecode pypack compiles and without it (--no-compile),
# against podman's own start of a no-op container (the same image running
# `python -c pass` to completion). Each is the median of N starts.
# Usage: bench/startup.sh [runs]   (needs podman; see tests/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}

cargo build --release --quiet
bin=$PWD/target/release/pypack
work=$(mktemp -d)
names=()
cleanup() {
  for n in "${names[@]}"; do podman rm -f "$n" >/dev/null 2>&1 || true; done
  podman rmi -f pypack-bench/startup:compiled pypack-bench/startup:plain >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
. bench/lib.sh

build() { # tag flags...
  local tag=$1
  shift
  PYPACK_CACHE_DIR="$work/cache" "$bin" -q build sample-apps/flask-hello --no-index \
    -f sample-apps/wheelhouse --no-smoke --archive "$work/$tag.tar" -t "pypack-bench/startup:$tag" "$@"
  podman load -q -i "$work/$tag.tar" >/dev/null
}
build compiled
build plain --no-compile

port=$(free_port)

# first_response TAG: starts the app and prints the seconds until it answers.
first_response() {
  local name="pypack-bench-$RANDOM$RANDOM" start end
  names+=("$name")
  start=$(date +%s.%N)
  podman run -d --name "$name" -p "127.0.0.1:$port:8000" "pypack-bench/startup:$1" >/dev/null
  until curl -sf -o /dev/null "http://127.0.0.1:$port/"; do sleep 0.01; done
  end=$(date +%s.%N)
  podman rm -f "$name" >/dev/null
  awk -v s="$start" -v e="$end" 'BEGIN {printf "%.3f", e - s}'
}
noop() { podman run --rm --entrypoint /usr/bin/python3 pypack-bench/startup:compiled -c pass; }

compiled=(); plain=(); none=()
for _ in $(seq "$runs"); do
  none+=("$(seconds noop)")
  compiled+=("$(first_response compiled)")
  plain+=("$(first_response plain)")
done
echo "flask-hello first HTTP response, $runs starts each"
echo "no-op container:    ${none[*]}  median $(printf '%s\n' "${none[@]}" | median) s"
echo "with bytecode:      ${compiled[*]}  median $(printf '%s\n' "${compiled[@]}" | median) s"
echo "without (--no-compile): ${plain[*]}  median $(printf '%s\n' "${plain[@]}" | median) s"
