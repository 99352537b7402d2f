#!/usr/bin/env bash
# Times `pypack build` of sample-apps/flask-hello (offline, from the vendored
# wheelhouse, written as a docker-archive so no engine time is counted):
#   cold  - empty cache: base from the Debian archive, resolution, venv, app
#   warm  - same cache, nothing changed
#   edit  - same cache, app.py edited (only the app layer is rebuilt)
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
build() { # cache-dir output
  env PYPACK_CACHE_DIR="$1" "$bin" -q build "$work/app" --no-index -f sample-apps/wheelhouse --archive "$2"
}

cold=(); warm=(); edit=()
for i in $(seq "$runs"); do
  cache="$work/cache-$i"
  cold+=("$(seconds build "$cache" "$work/out.tar")")
  warm+=("$(seconds build "$cache" "$work/out.tar")")
  echo "# edit $i" >> "$work/app/app.py"
  edit+=("$(seconds build "$cache" "$work/out.tar")")
  rm -rf "$cache"
done
echo "flask-hello, $runs runs"
echo "cold: ${cold[*]}  median $(printf '%s\n' "${cold[@]}" | median) s"
echo "warm: ${warm[*]}  median $(printf '%s\n' "${warm[@]}" | median) s"
echo "edit: ${edit[*]}  median $(printf '%s\n' "${edit[@]}" | median) s"
