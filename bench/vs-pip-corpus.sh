#!/usr/bin/env bash
# Corpus: each of the N most downloaded PyPI packages (by the download rank,
# column 4 of PYPACK_CORPUS_LIST) is locked alone, as a one-line
# requirements.txt, by `pypack lock --only-binary :all:`, by pip's resolver
# (`pip install --dry-run --report`, wheels only) and, as a third column, by
# `uv pip compile --no-build`. The target is pypack's default image (debian12
# base): CPython 3.11.2 on linux x86_64, glibc 2.36. pip is given every
# manylinux tag up to 2_36 as --platform (one --platform matches that exact
# tag alone), uv x86_64-manylinux_2_36; pypack and uv evaluate markers for
# the image, pip for the host (its CPython 3.11.x on linux x86_64).
# Times are wall seconds of each whole command, start-up included (pip's
# Python start-up too). pypack and pip run back to back on each package,
# which one goes first alternating, so the ratio pypack/pip compares them
# under the same load; uv runs after both. Each tool keeps one cache for the
# whole run, as a user's does: PYPACK_CACHE_DIR, PIP_CACHE_DIR, uv's
# --cache-dir, so a later package may find a shared dependency's metadata
# cached, for all three alike. pypack's cache is first warmed by a lock of an
# empty requirements.txt (the base target and Debian index are not
# resolution); pip and uv lock that empty app once too. Every run has a timeout
# (PYPACK_CORPUS_TIMEOUT, 120 s), counted as a failure and reported.
# Pins: the sets of name==version, names normalized (PEP 503); "both refuse"
# when neither finds a wheels-only resolution. Two differences are expected:
# pypack holds setuptools below 82 (pkg_resources) unless the app names it,
# and pip evaluates markers for the host's 3.11.x, not 3.11.2 (so e.g. a
# `python_full_version < '3.11.3'` dependency is pypack's and uv's, not
# pip's); each mismatch is printed with its pins. Limit: no package over 3x
# pip's time nor over 20 s. All tools use the host pip's default index, named.
# Mismatches, failures and the per-package table go to the results dir.
# Usage: [PYPACK_BIN=path] [PYPACK_CORPUS_LIST=pypi.tsv] [PYPACK_CORPUS_TIMEOUT=s]
#        bench/vs-pip-corpus.sh [N] [results-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-600}
list=${PYPACK_CORPUS_LIST:-/work/.library/env/packages/pypi.tsv}
limit=${PYPACK_CORPUS_TIMEOUT:-120}
out=${2:-${PYPACK_CORPUS_OUT:-$(mktemp -d /tmp/vs-pip-corpus.XXXXXX)}}
mkdir -p "$out"

[ -r "$list" ] || { echo "package list $list is missing: set PYPACK_CORPUS_LIST to a TSV of name<TAB>version<TAB>month<TAB>rank" >&2; exit 1; }
head -1 "$list" | cut -f4 | grep -q rank || { echo "$list: column 4 is not a download rank" >&2; exit 1; }

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

index=$(python3 -m pip install --help | tr -s ' \n' ' ' | grep -o '(default [^)]*)' | head -1 | sed 's/(default //; s/)//')
[ -n "$index" ] || { echo "the host's pip names no default index" >&2; exit 1; }
export PIP_INDEX_URL=$index UV_DEFAULT_INDEX=$index PIP_CACHE_DIR=$work/pip-cache PYPACK_CACHE_DIR=$work/pypack-cache
plats=()
for m in $(seq 36 -1 5); do plats+=(--platform "manylinux_2_${m}_x86_64"); done
plats+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)

to=(timeout -k 5 "$limit")
run_pypack() { "${to[@]}" "$bin" -q lock --only-binary :all: "$1"; }
run_pip() {
  "${to[@]}" python3 -m pip install -q --dry-run --ignore-installed --report "$1/pip.json" --only-binary=:all: \
    --python-version 3.11.2 --implementation cp --abi cp311 "${plats[@]}" --target "$work/target" -r "$1/requirements.txt"
}
run_uv() {
  "${to[@]}" "$uv" pip compile -q --no-build --cache-dir "$work/uv-cache" --python-version 3.11.2 \
    --python-platform x86_64-manylinux_2_36 "$1/requirements.txt" -o "$1/uv.txt"
}
# timed LOG CMD...: runs CMD, its output to LOG; prints "seconds exit-code".
timed() {
  local log=$1 start rc=0
  shift
  start=$(date +%s.%N)
  "$@" >"$log" 2>&1 || rc=$?
  awk -v s="$start" -v e="$(date +%s.%N)" -v rc="$rc" 'BEGIN {printf "%.3f %d\n", e - s, rc}'
}
# Writes APP/{pypack,pip,uv}.pins: sorted name==version, for each output there is.
cat >"$work/pins.py" <<'PY'
import json, os, re, sys, tomllib
app = sys.argv[1]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
def write(tool, pins):
    with open(f"{app}/{tool}.pins", "w") as f:
        f.writelines(f"{p}\n" for p in sorted(pins))
if os.path.exists(f"{app}/pylock.toml"):
    write("pypack", (f"{norm(p['name'])}=={p['version']}" for p in tomllib.load(open(f"{app}/pylock.toml", "rb"))["packages"]))
if os.path.exists(f"{app}/pip.json"):
    write("pip", (f"{norm(i['metadata']['name'])}=={i['metadata']['version']}" for i in json.load(open(f"{app}/pip.json"))["install"]))
if os.path.exists(f"{app}/uv.txt"):
    write("uv", (f"{norm(m[1])}=={m[2]}" for m in re.finditer(r"(?m)^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;]+)", open(f"{app}/uv.txt").read())))
PY

echo "pypack: $bin; pip: $(python3 -m pip --version | cut -d' ' -f2); uv: $("$uv" --version | cut -d' ' -f2); timeout ${limit}s; results: $out" >&2
mkdir -p "$work/empty"
: >"$work/empty/requirements.txt"
read -r s rc < <(timed "$out/warm-pypack.log" run_pypack "$work/empty")
[ "$rc" = 0 ] || { echo "pypack cannot lock an empty app: see $out/warm-pypack.log" >&2; exit 1; }
echo "pypack's warm-up (empty app, base target): $s s" >&2
timed /dev/null run_pip "$work/empty" >/dev/null
timed /dev/null run_uv "$work/empty" >/dev/null

# results.tsv: rank name pypack_s pypack_rc pip_s pip_rc ratio uv_s uv_rc pins uv_pins
res=$out/results.tsv
: >"$res"
printf '%5s %-32s %8s %8s %6s %8s  %s\n' rank package pypack pip ratio uv pins
i=0
while IFS=$'\t' read -r rank name; do
  i=$((i + 1))
  app=$work/app
  rm -rf "$app" "$work/target"
  mkdir -p "$app"
  echo "$name" >"$app/requirements.txt"
  if ((i % 2)); then
    read -r ps prc < <(timed "$app/pypack.log" run_pypack "$app")
    read -r is irc < <(timed "$app/pip.log" run_pip "$app")
  else
    read -r is irc < <(timed "$app/pip.log" run_pip "$app")
    read -r ps prc < <(timed "$app/pypack.log" run_pypack "$app")
  fi
  read -r us urc < <(timed "$app/uv.log" run_uv "$app")
  [ "$prc" = 0 ] || rm -f "$app/pylock.toml"
  [ "$irc" = 0 ] || rm -f "$app/pip.json"
  [ "$urc" = 0 ] || rm -f "$app/uv.txt"
  python3 "$work/pins.py" "$app"
  if [ -f "$app/pypack.pins" ] && [ -f "$app/pip.pins" ]; then
    if cmp -s "$app/pypack.pins" "$app/pip.pins"; then pins=equal; else pins=different; fi
  elif [ -f "$app/pypack.pins" ]; then pins=pip-refuses
  elif [ -f "$app/pip.pins" ]; then pins=pypack-refuses
  else pins=both-refuse
  fi
  [ "$prc" -lt 124 ] && [ "$irc" -lt 124 ] || pins="$pins(timeout)"
  if [ ! -f "$app/uv.pins" ]; then upins=$([ -f "$app/pypack.pins" ] && echo uv-refuses || echo both-refuse)
  elif [ ! -f "$app/pypack.pins" ]; then upins=pypack-refuses
  elif cmp -s "$app/pypack.pins" "$app/uv.pins"; then upins=equal
  else upins=different
  fi
  ratio=$(awk -v a="$ps" -v b="$is" 'BEGIN {printf "%.2f", a / b}')
  flag=$(awk -v a="$ps" -v b="$is" 'BEGIN {if (a > 3 * b || a > 20) print " SLOW"}')
  if [ "$pins" != equal ] || [ "$upins" != equal ] || [ -n "$flag" ]; then
    mkdir -p "$out/$name"
    cp -r "$app"/. "$out/$name/"
    [ ! -f "$app/pypack.pins" ] || [ ! -f "$app/pip.pins" ] || diff "$app/pypack.pins" "$app/pip.pins" >"$out/$name/pypack-vs-pip.diff" || true
    [ ! -f "$app/pypack.pins" ] || [ ! -f "$app/uv.pins" ] || diff "$app/pypack.pins" "$app/uv.pins" >"$out/$name/pypack-vs-uv.diff" || true
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rank" "$name" "$ps" "$prc" "$is" "$irc" "$ratio" "$us" "$urc" "$pins" "$upins" >>"$res"
  printf '%5s %-32s %7.2fs %7.2fs %6s %7.2fs  %s (uv: %s)%s\n' "$rank" "$name" "$ps" "$is" "$ratio" "$us" "$pins" "$upins" "$flag"
done < <(awk -F'\t' 'NR > 1 && $4 != "" {print $4 "\t" $1}' "$list" | sort -n | head -n "$n")

echo
awk -F'\t' '{c[$10]++; u[$11]++} END {
  printf "pypack vs pip, %d packages:", NR; for (k in c) printf " %s %d;", k, c[k]; print ""
  printf "pypack vs uv:"; for (k in u) printf " %s %d;", k, u[k]; print "" }' "$res"
echo "Over 3x pip or over 20 s:"
awk -F'\t' '$3 > 3 * $5 || $3 > 20 {printf "  %s (rank %s): pypack %.2f s, pip %.2f s, ratio %s\n", $2, $1, $3, $5, $7; n++}
  END {if (!n) print "  none"}' "$res"
echo "Pins not equal (diffs and logs in $out/NAME/):"
awk -F'\t' '$10 != "equal" {print $2 "\t" $1 "\t" $10 "\t" $4 "\t" $6}' "$res" | grep . >"$work/unequal" || echo "  none"
while IFS=$'\t' read -r name rank pins prc irc; do
  d=$out/$name/pypack-vs-pip.diff
  only=""
  if [ -f "$d" ]; then
    ours=$(sed -n 's/^< //p' "$d" | paste -sd ' ')
    theirs=$(sed -n 's/^> //p' "$d" | paste -sd ' ')
    grep '^[<>]' "$d" | grep -vq '^. setuptools==' || only=" (only setuptools: pypack's <82 hold)"
    echo "  $name (rank $rank): $pins$only; pypack: ${ours:-nothing more}; pip: ${theirs:-nothing more}"
  else
    echo "  $name (rank $rank): $pins; pypack exit $prc, pip exit $irc"
  fi
done <"$work/unequal"
echo
echo "Slowest ten by pypack's time (of $(wc -l <"$res") packages):"
echo
echo "| rank | package | pypack | pip | pypack/pip | uv | pins (pip) |"
echo "|---|---|---|---|---|---|---|"
sort -t$'\t' -k3,3gr "$res" | head -10 |
  awk -F'\t' '{printf "| %s | %s | %.2f s | %.2f s | %s | %.2f s | %s |\n", $1, $2, $3, $5, $7, $8, $10}'
echo
echo "results: $out"
