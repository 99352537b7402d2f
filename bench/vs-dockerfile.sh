#!/usr/bin/env bash
# pypack against `podman build` of the multi-stage Dockerfile users write
# today (bench/dockerfile/Dockerfile), on a sample app (flask-hello unless
# named), both ending with the image in podman's store. Two modes:
#   offline - both install from the vendored wheelhouse (sample-apps/wheelhouse)
#   live    - both install from the package index the host's pip uses by
#             default, named to both (pypack: PIP_INDEX_URL; the peer's pip:
#             --index-url, trusting what the host's pip trusts: its `cert`
#             setting is mounted into the build); e.g. the data-science app:
#             bench/vs-dockerfile.sh 5 live data-science
# Cases:
#   cold - pypack with a new, empty cache (it also fetches and builds its
#          base; caches are removed at the end, not between runs: deleting
#          thousands of files just before slows the next run's file
#          creation on some filesystems, which no user's first build sees);
#          podman build --no-cache (its two bases already local)
#   warm - nothing changed since the last build
#   edit - app.py edited since the last build
# The peer's bases are made once by mmdebstrap from the host's apt sources
# (the suite pypack's default base uses) and imported into podman; they are
# kept for the next run. Runs alternate (pypack, then podman) so both see the
# same machine state; prints every run, the medians and the ratios, and the
# peak memory of pypack's cold builds.
# Usage: [PYPACK_BIN=path] bench/vs-dockerfile.sh [runs] [offline|live] [app]
# (needs podman; see tests/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
mode=${2:-offline}
app=${3:-flask-hello}
[ -d "sample-apps/$app" ] || { echo "no sample app sample-apps/$app" >&2; exit 1; }
suite=${BENCH_SUITE:-bookworm}
sources=${BENCH_APT_SOURCES:-/etc/apt/sources.list.d/debian.sources}

. bench/lib.sh
bin=$(pypack_bin)
work=$(mktemp -d)
cleanup() {
  podman rmi -f pypack-bench/vs:pypack pypack-bench/vs:dockerfile >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The peer's bases: minbase + python3 (runtime), + venv and pip (builder).
peer_base() { # name packages
  local image=localhost/pypack-bench/$suite-$1
  podman image exists "$image" && return
  command -v mmdebstrap >/dev/null || apt-get install -y -q mmdebstrap >/dev/null
  echo "building $image with mmdebstrap (once)" >&2
  mmdebstrap --quiet --variant=minbase --include="$2" "$suite" - "$sources" | podman import -q - "$image" >/dev/null
}
peer_base runtime python3
peer_base builder python3,python3-venv,python3-pip

# One build context for both: the app (pypack builds it in place) and the wheels.
mkdir -p "$work/ctx/wheels"
cp -r "sample-apps/$app" "$work/ctx/app"
sed "s/bookworm-/$suite-/" bench/dockerfile/Dockerfile > "$work/ctx/Dockerfile"
peer=()
case $mode in
  offline)
    cp sample-apps/wheelhouse/*.whl "$work/ctx/wheels/"
    source_flags=(--no-index -f "$work/ctx/wheels")
    peer=(--build-arg "PIP_SOURCE=--no-index --find-links /wheels")
    ;;
  live)
    index=$(python3 -m pip install --help | tr -s ' \n' ' ' | grep -o '(default [^)]*)' | head -1 | sed 's/(default //; s/)//')
    [ -n "$index" ] || { echo "the host's pip names no default index" >&2; exit 1; }
    source_flags=(-i "$index")
    cert=$(python3 -m pip config get global.cert 2>/dev/null || echo "${PIP_CERT:-}")
    if [ -n "$cert" ]; then
      peer=(-v "$cert:/etc/pip-cert.pem:ro" --build-arg "PIP_SOURCE=--index-url $index --cert /etc/pip-cert.pem")
    else
      peer=(--build-arg "PIP_SOURCE=--index-url $index")
    fi
    ;;
  *) echo "mode is offline or live, not $mode" >&2; exit 1 ;;
esac

pypack_build() { # cache-dir
  env PYPACK_CACHE_DIR="$1" "$bin" -q build "$work/ctx/app" "${source_flags[@]}" \
    --load -t pypack-bench/vs:pypack
}
podman_build() { # flags
  podman build -q "${peer[@]}" "$@" -t pypack-bench/vs:dockerfile "$work/ctx"
}

pc=(); dc=(); pw=(); dw=(); pe=(); de=(); rss=()
for i in $(seq "$runs"); do
  cache="$work/cache-$i"
  pc+=("$(seconds pypack_build "$cache")")
  dc+=("$(seconds podman_build --no-cache)")
  pw+=("$(seconds pypack_build "$cache")")
  dw+=("$(seconds podman_build)")
  echo "# edit $i" >> "$work/ctx/app/app.py"
  pe+=("$(seconds pypack_build "$cache")")
  de+=("$(seconds podman_build)")
  rss+=("$(peak_kib env PYPACK_CACHE_DIR="$work/rss-cache-$i" "$bin" -q build "$work/ctx/app" "${source_flags[@]}" --no-smoke --output "$work/out-$i")")
done
# Both must have produced a working image: one request each.
for tag in pypack dockerfile; do
  port=$(free_port)
  name=pypack-bench-vs-$tag-$$
  podman run -d --rm --name "$name" -p "127.0.0.1:$port:8000" "pypack-bench/vs:$tag" >/dev/null
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
  echo "$tag image answers: $(curl -s "http://127.0.0.1:$port/")"
  podman stop -t 0 "$name" >/dev/null
done

row() { # label pypack-times podman-times
  local a b
  a=$(printf '%s\n' $2 | median)
  b=$(printf '%s\n' $3 | median)
  printf '| %s | %s s | %s s | %s |\n' "$1" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}')"
  echo "  pypack: $2; podman build: $3" >&2
}
echo "$app, $mode, $runs alternating runs each, medians ($(nproc) cores, $(date -u +%F))"
echo "| case | pypack | podman build | ratio |"
echo "|---|---|---|---|"
row cold "${pc[*]}" "${dc[*]}"
row warm "${pw[*]}" "${dw[*]}"
row edit "${pe[*]}" "${de[*]}"
echo "peak RSS of pypack's cold build (--no-smoke, to a layout): $(printf '%s\n' "${rss[@]}" | median) KiB median"
