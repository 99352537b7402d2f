#!/usr/bin/env bash
# Times `pypack build` of sample-apps/flask-hello (offline, from the vendored
# wheelhouse, written as a docker-archive), with pypack's defaults: bytecode
# compiled and the smoke run on (podman installed):
#   cold  - empty cache: base from the Debian archive, resolution, venv,
#           bytecode of stdlib/venv/app, smoke run
#   warm  - same cache, nothing changed (the smoke run passed for this digest)
#   edit  - same cache, app.py edited: the app layer and its bytecode, smoke run
#   edit, --no-smoke - the same edit without the smoke run
# Prints every run and the medians. Usage: bench/build.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}

cargo build --release --quiet
bin=$PWD/target/release/pypack
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r sample-apps/flask-hello "$work/app"

. bench/lib.sh
build() { # cache-dir output [flags]
  local cache=$1 out=$2
  shift 2
  env PYPACK_CACHE_DIR="$cache" "$bin" -q build "$work/app" --no-index -f sample-apps/wheelhouse --archive "$out" "$@"
}

cold=(); warm=(); edit=(); quick=()
for i in $(seq "$runs"); do
  cache="$work/cache-$i"
  cold+=("$(seconds build "$cache" "$work/out.tar")")
  warm+=("$(seconds build "$cache" "$work/out.tar")")
  echo "# edit $i" >> "$work/app/app.py"
  edit+=("$(seconds build "$cache" "$work/out.tar")")
  echo "# edit again $i" >> "$work/app/app.py"
  quick+=("$(seconds build "$cache" "$work/out.tar" --no-smoke)")
  rm -rf "$cache"
done
echo "flask-hello, $runs runs"
echo "cold: ${cold[*]}  median $(printf '%s\n' "${cold[@]}" | median) s"
echo "warm: ${warm[*]}  median $(printf '%s\n' "${warm[@]}" | median) s"
echo "edit: ${edit[*]}  median $(printf '%s\n' "${edit[@]}" | median) s"
echo "edit, --no-smoke: ${quick[*]}  median $(printf '%s\n' "${quick[@]}" | median) s"
