# Shared by the bench scripts: timing and medians.

# seconds CMD...: runs CMD quietly and prints the elapsed wall time in seconds.
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN {printf "%.3f", e - s}'
}

# median: the median of the numbers on stdin, one per line.
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }

# peak_kib CMD...: runs CMD and prints its peak resident memory in KiB.
peak_kib() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

# free_port: a loopback port nothing listens on right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# pypack_bin: the pypack to measure, printed as an absolute path: PYPACK_BIN
# (another build, e.g. the previous commit's, to check a change keeps the
# ratios), else this checkout's release build, built first.
pypack_bin() {
  if [ -n "${PYPACK_BIN:-}" ]; then
    realpath "$PYPACK_BIN"
  else
    cargo build --release --quiet >&2
    echo "$PWD/target/release/pypack"
  fi
}
