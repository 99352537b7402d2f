#!/usr/bin/env bash
# How many of the most downloaded packages pypack can build from source:
# each sampled package of tests/fixtures/top-300-packages.txt is the only
# requirement of a tiny app built with `--no-binary :all:` (the package and
# everything it needs from sdists, in the builder), once by each binary
# given, each binary with a cache of its own (shared across its packages).
#
#   PYPACK=target/release/pypack [PYPACK_BEFORE=old/pypack] \
#     bash bench/sdist-builds.sh [STEP] [TIMEOUT_SECONDS]
#
# STEP samples every STEP-th package (1 = all 300; default 10); a build
# over TIMEOUT_SECONDS (default 300) counts as not built. The index is the
# one pypack finds (the host's pip settings, or PIP_INDEX_URL).
# Prints one row per package (ok / failed: first error line / timeout)
# and the totals.
set -u
here=$(cd "$(dirname "$0")" && pwd)
step=${1:-10}
limit=${2:-300}
: "${PYPACK:?set PYPACK to the pypack binary}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mapfile -t packages < <(grep -v '^#' "$here/../tests/fixtures/top-300-packages.txt" | grep -v '^$' |
  awk -v step="$step" '(NR - 1) % step == 0')

binaries=("after=$PYPACK")
[ -n "${PYPACK_BEFORE:-}" ] && binaries=("before=$PYPACK_BEFORE" "${binaries[@]}")

# build LABEL BIN PACKAGE: one build; prints "ok", "timeout" or "failed: …".
build() {
  local label=$1 bin=$2 package=$3 app="$work/app-$3" log="$work/$1-$3.log"
  mkdir -p "$app"
  printf '%s\n' "$package" >"$app/requirements.txt"
  printf 'print("built")\n' >"$app/main.py"
  PYPACK_CACHE_DIR="$work/cache-$label" timeout "${limit}" "$bin" build "$app" \
    --no-binary :all: --no-smoke --output "$work/out-$label-$package" >"$log" 2>&1
  case $? in
  0) echo ok ;;
  124) echo timeout ;;
  *) echo "failed: $(grep -m1 '^error' "$log" | cut -c1-160)" ;;
  esac
  rm -rf "$work/out-$label-$package"
}

# Each cache first gets its base and builder (not counted, not timed).
for b in "${binaries[@]}"; do
  limit=1800 build "${b%%=*}" "${b#*=}" six >/dev/null
done

declare -A built
printf '%-28s' package
for b in "${binaries[@]}"; do printf ' | %s' "${b%%=*}"; done
echo
for package in "${packages[@]}"; do
  printf '%-28s' "$package"
  for b in "${binaries[@]}"; do
    label=${b%%=*}
    result=$(build "$label" "${b#*=}" "$package")
    [ "$result" = ok ] && built[$label]=$((${built[$label]:-0} + 1))
    printf ' | %s' "$result"
  done
  echo
done
echo
for b in "${binaries[@]}"; do
  label=${b%%=*}
  echo "$label: ${built[$label]:-0} of ${#packages[@]} built from source (every ${step}th of the top 300, ${limit} s each)"
done
