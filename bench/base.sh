#!/usr/bin/env bash
# Times `pypack base build` for a recipe: cold (empty cache, everything
# downloaded and assembled) and warm (same cache, nothing changed).
# Prints every run and the medians. Usage: bench/base.sh [recipe] [platform] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
recipe=${1:-debian12}
platform=${2:-linux/amd64}
runs=${3:-5}

cargo build --release --quiet
bin=target/release/pypack
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. bench/lib.sh

cold=(); warm=()
for i in $(seq "$runs"); do
  cache="$work/cache-$i"
  cold+=("$(seconds env PYPACK_CACHE_DIR="$cache" "$bin" -q base build --recipe "$recipe" --platform "$platform" --archive "$work/cold-$i.tar")")
  warm+=("$(seconds env PYPACK_CACHE_DIR="$cache" "$bin" -q base build --recipe "$recipe" --platform "$platform" --archive "$work/warm-$i.tar")")
  rm -rf "$cache"
done
echo "recipe $recipe $platform, $runs runs"
echo "cold: ${cold[*]}  median $(printf '%s\n' "${cold[@]}" | median) s"
echo "warm: ${warm[*]}  median $(printf '%s\n' "${warm[@]}" | median) s"
