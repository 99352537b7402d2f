#!/usr/bin/env bash
# `pypack run --watch` on sample-apps/flask-hello (offline, from the
# wheelhouse): the time from an edit of app.py being saved to the first
# answer of the new version on the served port, polled every 20 ms. The
# first build is not timed; each of the N edits changes the page's text.
# Prints every edit's time and the median.
# Usage: [PYPACK_BIN=path] bench/watch.sh [edits]   (needs podman; see tests/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
edits=${1:-5}
. bench/lib.sh
bin=$(pypack_bin)
work=$(mktemp -d)
port=$(free_port)
cp -r sample-apps/flask-hello "$work/app"
page() { # text
  printf 'from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.get("/")\ndef hello():\n    return "%s\\n"\n' "$1"
}
page "version 0" > "$work/app/app.py"
env PYPACK_CACHE_DIR="$work/cache" "$bin" run "$work/app" --watch --publish "$port" \
  --no-index -f sample-apps/wheelhouse -t pypack-bench/watch > "$work/run.log" 2>&1 &
pid=$!
cleanup() {
  kill -INT "$pid" 2>/dev/null && wait "$pid" || true
  podman rmi -f pypack-bench/watch >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# answered TEXT SECONDS: polls until the page holds TEXT; fails after SECONDS.
answered() {
  local deadline=$(($(date +%s) + $2))
  until curl -sf "http://127.0.0.1:$port/" 2>/dev/null | grep -q "$1"; do
    [ "$(date +%s)" -lt "$deadline" ] || { cat "$work/run.log" >&2; echo "no answer with '$1'" >&2; exit 1; }
    sleep 0.02
  done
}
answered "version 0" 300
times=()
for i in $(seq "$edits"); do
  sleep 1 # the previous restart settled
  start=$(date +%s.%N)
  page "version $i" > "$work/app/app.py"
  answered "version $i" 60
  end=$(date +%s.%N)
  times+=("$(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.3f", e - s}')")
  echo "edit $i: ${times[-1]} s"
done
echo "edit → new answer, median of $edits: $(printf '%s\n' "${times[@]}" | median) s ($(nproc) cores, $(date -u +%F))"
