#!/usr/bin/env bash
# Resolution: `pypack lock` against `uv pip compile --no-build` for the same
# target (linux/amd64, manylinux_2_36, CPython 3.11: pypack's debian12 base)
# on three sets, alternating runs:
#   cold - empty caches (pypack's holds only its base, built once before:
#          the Debian side is not resolution, and pip's default index)
#   warm - caches filled by the cold run (pylock.toml / the output removed)
# With the mode `empty`, pypack's cold cache is empty too, as on a fresh CI
# runner: no base, no Debian index, no answer from pip. Both tools are then
# given the same index by name (what the host's pip uses by default), so
# both do the same work; one more column times pypack with nothing named,
# which adds asking the host's pip for its default (once a day per cache).
# Checks both pick the same pins, and prints medians, ratios and the peak
# memory of pypack's cold lock. Both use the host's configured package index
# (pip's / uv's settings). uv comes from PATH, else is installed with pip
# into a throwaway venv.
# Usage: [PYPACK_BIN=path] bench/vs-uv.sh [runs] [empty]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
mode=${2:-base}

. bench/lib.sh
bin=$(pypack_bin)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

uv=$(command -v uv || true)
if [ -z "$uv" ]; then
  python3 -m venv "$work/uv-venv" >/dev/null
  "$work/uv-venv/bin/pip" install -q uv >/dev/null
  uv=$work/uv-venv/bin/uv
fi
echo "uv: $("$uv" --version)"

declare -A sets=(
  [web]="fastapi[standard] django sqlalchemy requests boto3 celery pandas"
  [data]="numpy pandas scipy scikit-learn matplotlib seaborn statsmodels pyarrow polars jupyterlab"
  [flask]="flask gunicorn python-dotenv flask-sqlalchemy"
)

# A cache with the base in it, copied for every cold run, and pip's answer
# to which index it uses by default (pypack asks the host's pip when nothing
# names one, and keeps the answer for a day: about 0.4 s on an empty cache,
# which naming the index with -i / PIP_INDEX_URL also spares).
mkdir -p "$work/base-cache"
if [ "$mode" = empty ]; then
  index=$(python3 -m pip install --help | tr -s ' \n' ' ' | grep -o '(default [^)]*)' | head -1 | sed 's/(default //; s/)//')
  [ -n "$index" ] || { echo "the host's pip names no default index" >&2; exit 1; }
else
  env PYPACK_CACHE_DIR="$work/base-cache" "$bin" -q base build --output "$work/base-out" >/dev/null
  rm -rf "$work/base-out"
  mkdir -p "$work/empty" && touch "$work/empty/requirements.txt"
  env PYPACK_CACHE_DIR="$work/base-cache" "$bin" -q lock "$work/empty" >/dev/null
fi
# Prefixed to a command: the index named for both tools (mode `empty` only).
named=(env)
[ "$mode" = empty ] && named=(env PIP_INDEX_URL="$index" UV_DEFAULT_INDEX="$index")

pypack_lock() { # cache app
  rm -f "$2/pylock.toml"
  "${named[@]}" PYPACK_CACHE_DIR="$1" "$bin" -q lock "$2"
}
pypack_unnamed() { # cache app
  rm -f "$2/pylock.toml"
  env PYPACK_CACHE_DIR="$1" "$bin" -q lock "$2"
}
uv_compile() { # cache app
  "${named[@]}" "$uv" pip compile -q --no-build --cache-dir "$1" --python-version 3.11 \
    --python-platform x86_64-manylinux_2_36 "$2/requirements.txt" -o "$2/uv.txt"
}

extra_head=""; extra_rule=""
[ "$mode" = empty ] && { extra_head=" pypack cold, index not named |"; extra_rule="---|"; }
echo "| set | pypack cold | uv cold | ratio | pypack warm | uv warm | ratio | pypack cold peak RSS |$extra_head"
echo "|---|---|---|---|---|---|---|---|$extra_rule"
for set in web data flask; do
  app=$work/$set
  mkdir -p "$app"
  tr ' ' '\n' <<<"${sets[$set]}" > "$app/requirements.txt"
  pc=(); uc=(); pw=(); uw=(); rss=(); pu=()
  for i in $(seq "$runs"); do
    rm -rf "$work/pc" "$work/uc"
    cp -a "$work/base-cache" "$work/pc"
    pc+=("$(seconds pypack_lock "$work/pc" "$app")")
    uc+=("$(seconds uv_compile "$work/uc" "$app")")
    pw+=("$(seconds pypack_lock "$work/pc" "$app")")
    uw+=("$(seconds uv_compile "$work/uc" "$app")")
    rm -rf "$work/pc"
    cp -a "$work/base-cache" "$work/pc"
    rm -f "$app/pylock.toml"
    rss+=("$(peak_kib "${named[@]}" PYPACK_CACHE_DIR="$work/pc" "$bin" -q lock "$app")")
    if [ "$mode" = empty ]; then
      rm -rf "$work/pc"
      cp -a "$work/base-cache" "$work/pc"
      pu+=("$(seconds pypack_unnamed "$work/pc" "$app")")
    fi
  done
  # Same pins: names (normalized) and versions from both outputs.
  python3 - "$app" <<'PY'
import re, sys, tomllib
app = sys.argv[1]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
ours = {norm(p["name"]): p["version"] for p in tomllib.load(open(f"{app}/pylock.toml", "rb"))["packages"]}
theirs = {}
for line in open(f"{app}/uv.txt"):
    m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;]+)", line)
    if m:
        theirs[norm(m.group(1))] = m.group(3)
diff = {k: (ours.get(k), theirs.get(k)) for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k)}
print(f"  {app.rsplit('/', 1)[1]}: {len(ours)} pins, same as uv" if not diff else f"  DIFFERENT PINS: {diff}", file=sys.stderr)
PY
  m() { printf '%s\n' "$@" | median; }
  r() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
  a=$(m "${pc[@]}"); b=$(m "${uc[@]}"); c=$(m "${pw[@]}"); d=$(m "${uw[@]}")
  extra=""
  [ "$mode" = empty ] && extra=" $(m "${pu[@]}") s |"
  printf '| %s | %s s | %s s | %s | %s s | %s s | %s | %s MiB |%s\n' "$set" "$a" "$b" "$(r "$a" "$b")" "$c" "$d" "$(r "$c" "$d")" \
    "$(printf '%s\n' "${rss[@]}" | median | awk '{printf "%.0f", $1 / 1024}')" "$extra"
  echo "  pypack cold: ${pc[*]}; uv cold: ${uc[*]}; pypack warm: ${pw[*]}; uv warm: ${uw[*]}" >&2
done
