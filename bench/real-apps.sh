#!/usr/bin/env bash
# The corpus of public apps (bench/real-apps.txt) built and served by pypack
# with its defaults: for each app, `git archive` of the listed commit and
# subfolder from a local snapshot of its repository into a fresh directory
# outside this repository, `pypack build DIR -t localhost/real-app-N` (no
# other flag; the image goes into podman), then the image run with podman on
# a free loopback port (the port it EXPOSEs), its GET path polled for 30 s
# and the answer checked for the expected text. One app at a time; a failing
# app never stops the run. Prints one line per app:
#   served|build-failed|no-answer|wrong-answer  owner/repo/subfolder  (cause)
# and `served/total: X/Y`; the build and run logs and summary.tsv go to the
# log directory it names at the end.
#
# Usage: bench/real-apps.sh MIRRORS [FILTER]
#   MIRRORS  directory of repository snapshots, one per repository, named
#            owner+name (a bare git directory, or one holding repo/ or
#            repo/.git), as the search tool's fetch lays them out
#   FILTER   extended regex: only apps whose owner/repo/subfolder matches
# Environment: PYPACK (default target/release/pypack of this repository),
#   REAL_APPS_LIST (default bench/real-apps.txt), REAL_APPS_LOGS (log
#   directory; default a new one under ${TMPDIR:-/tmp}/pypack-real-apps),
#   REAL_APPS_BUILD_TIMEOUT (seconds, default 1800), REAL_APPS_WAIT (seconds
#   of polling, default 30). Needs git, podman, curl, python3.
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bench/lib.sh"

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
  echo "usage: bench/real-apps.sh MIRRORS [FILTER]   (MIRRORS: a directory of repository snapshots)" >&2
  exit 2
fi
mirrors=$(cd "$1" && pwd)
filter=${2:-}
pypack=${PYPACK:-$root/target/release/pypack}
case $pypack in /*) ;; */*) pypack=$PWD/$pypack ;; esac
list=${REAL_APPS_LIST:-$root/bench/real-apps.txt}
work=${TMPDIR:-/tmp}/pypack-real-apps
logs=${REAL_APPS_LOGS:-$work/logs-$(date +%Y%m%d-%H%M%S)}
build_timeout=${REAL_APPS_BUILD_TIMEOUT:-1800}
wait_s=${REAL_APPS_WAIT:-30}

command -v "$pypack" >/dev/null 2>&1 || { echo "no pypack at $pypack (set PYPACK)" >&2; exit 2; }
for tool in git podman curl python3 timeout; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool is needed" >&2; exit 2; }
done
[ -f "$list" ] || { echo "no list at $list" >&2; exit 2; }
case $work in "$root"/*) echo "the work directory $work is inside the repository" >&2; exit 2 ;; esac
mkdir -p "$work" "$logs"

# The container and image of the app under way, for the trap.
current_name='' current_image=''
cleanup_app() {
  if [ -n "$current_name" ]; then
    podman stop -t 2 "$current_name" >/dev/null 2>&1
    podman rm -f "$current_name" >/dev/null 2>&1
  fi
  [ -n "$current_image" ] && podman rmi -f "$current_image" >/dev/null 2>&1
  current_name='' current_image=''
}
trap 'cleanup_app; exit 130' INT TERM
trap 'cleanup_app' EXIT

# git_dir OWNER/REPO: the snapshot's git directory, or nothing.
git_dir() {
  local name=${1/\//+} base d
  base=$mirrors/$name
  if [ ! -d "$base" ]; then # GitHub names are case-insensitive
    base=$(find "$mirrors" -mindepth 1 -maxdepth 1 -type d -iname "$name" 2>/dev/null | head -1)
  fi
  [ -n "$base" ] && [ -d "$base" ] || return 1
  for d in "$base/repo/.git" "$base/repo" "$base/.git" "$base"; do
    if [ -d "$d" ] && [ "$(git --git-dir="$d" rev-parse --is-bare-repository 2>/dev/null)" != "" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

# extract_tree GITDIR TREE DIR: TREE's files into DIR one by one, for a
# snapshot that lacks some blobs; prints the paths it had to leave out.
extract_tree() {
  python3 - "$@" <<'PY'
import os, subprocess, sys
gd, tree, out = sys.argv[1:4]
git = ["git", "--git-dir=" + gd]
listing = subprocess.run(git + ["ls-tree", "-r", "-z", tree], check=True, capture_output=True).stdout
missing = []
for entry in filter(None, listing.split(b"\0")):
    meta, path = entry.split(b"\t", 1)
    mode, kind, sha = meta.decode().split()
    dest = os.path.join(out.encode(), path)
    if kind != "blob":
        continue  # submodules
    blob = subprocess.run(git + ["cat-file", "blob", sha], capture_output=True)
    if blob.returncode != 0:
        missing.append(path.decode("utf-8", "replace"))
        continue
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if mode == "120000":
        os.symlink(blob.stdout, dest)
    else:
        with open(dest, "wb") as f:
            f.write(blob.stdout)
        os.chmod(dest, 0o755 if mode == "100755" else 0o644)
print(" ".join(missing), end="")
PY
}

# oneline TEXT: the text on one line, squeezed, at most 160 characters.
oneline() {
  python3 -c 'import sys; t = " ".join(sys.stdin.buffer.read().decode("utf-8", "replace").split()); print(t[:240] + ("…" if len(t) > 240 else ""), end="")'
}

# build_cause LOG: the first error line of a build log and, when it goes on
# with what the app or a compiler printed, the decisive line of that (a
# traceback's last line, a compiler's error); else the log's last line.
build_cause() {
  python3 - "$1" <<'PY' | oneline
import re, sys
try:
    lines = open(sys.argv[1], "rb").read().decode("utf-8", "replace").splitlines()
except OSError:
    lines = []
noise = re.compile(r"^(Getting image source|Copying (blob|config)|Writing manifest|Storing signatures)")
lines = [l for l in lines if l.strip() and not noise.match(l)]
first = next((i for i, l in enumerate(lines) if re.match(r"(?i)error\b", l)), None)
if first is None:
    print(lines[-1].strip() if lines else "no output")
    sys.exit()
head, rest = lines[first].strip(), lines[first + 1:]
rest = [l for l in rest if not re.match(r"(fix the app|give (it|the settings)|it looks like the app)", l)]
detail = [l for l in rest if re.search(r"Error|Exception|error:|fatal:|[Nn]o such|[Dd]enied", l)]
compiler = [l for l in rest if re.search(r"\.(c|cc|cpp|h|pyx|rs):\d+(:\d+)?: (fatal )?error", l)]
found = re.search(r"(It found .*?)(?: Pass --cmd|$)", head)
if head.startswith("error: no entrypoint found"):
    head = "error: no entrypoint found" + ("; " + found.group(1) if found else "")
elif head.endswith(":") and (compiler or detail or rest):
    if len(head) > 120:
        head = head[:117] + "…:"
    head += " " + (compiler[:1] or detail[-1:] or rest[-1:])[0].strip()
print(head)
PY
}

# run_cause LOG: what the container said last: the last line naming an
# error (a traceback's last line), else its last line of text.
run_cause() {
  python3 - "$1" <<'PY' | oneline
import re, sys
try:
    raw = open(sys.argv[1], "rb").read().decode("utf-8", "replace").splitlines()
except OSError:
    raw = []
lines = [re.sub(r"^\S+ (stdout|stderr) [FP] ", "", l) for l in raw]
lines = [l for l in lines if l.strip() and not re.fullmatch(r"[\s\u2500-\u257f]*", l)]
errors = [l for l in lines if re.search(r"Error|Exception|error:|ERROR|Errno|[Ff]ailed|[Dd]enied|not found|No such", l)]
usage = [l for l in lines if l.strip().startswith("Usage:")]
print((errors or usage or lines or ["no output"])[-1].strip())
PY
}

summary=$logs/summary.tsv
printf 'n\trepo\tcommit\tsubfolder\tpath\tresult\tport\tbuild_s\tcause\n' > "$summary"
total=0 served=0 n=0
while IFS=$'\t' read -r -u 3 repo commit sub path expect _rest || [ -n "${repo:-}" ]; do
  case ${repo:-} in '' | '#'*) continue ;; esac
  n=$((n + 1))
  sub=${sub:-.} path=${path:-/}
  label=$repo
  [ "$sub" = . ] || label=$repo/$sub
  if [ -n "$filter" ] && ! [[ $label =~ $filter ]]; then continue; fi
  total=$((total + 1))
  slug=${repo#*/}
  [ "$sub" = . ] || slug=$slug-$sub
  slug=$(printf '%s' "$slug" | tr -c 'A-Za-z0-9._-' '-' | sed 's/--*/-/g; s/-$//')
  tag=$n-$slug
  dir=$work/$tag
  blog=$logs/$tag.build.log
  rlog=$logs/$tag.run.log
  image=localhost/real-app-$n
  result='' cause='' port='' build_s=''

  # 1. the app's files, fresh, outside the repository
  rm -rf "$dir"
  mkdir -p "$dir"
  if ! gd=$(git_dir "$repo"); then
    result=build-failed cause="no snapshot of $repo under $mirrors"
  elif ! git --git-dir="$gd" cat-file -e "$commit^{commit}" 2>/dev/null; then
    result=build-failed cause="commit $commit is not in the snapshot of $repo"
  else
    tree=$commit
    [ "$sub" = . ] || tree=$commit:$sub
    if ! err=$(git --git-dir="$gd" archive --format=tar "$tree" 2>&1 >"$dir.tar"); then
      # A snapshot can lack some blobs (large files): write the tree file by
      # file instead, leaving those out, and say which in the build log.
      rm -rf "$dir" && mkdir -p "$dir"
      if ! missing=$(extract_tree "$gd" "$tree" "$dir" 2>&1); then
        result=build-failed cause="git archive: $(printf '%s' "$err" | head -1 | oneline)"
      elif [ -n "$missing" ]; then
        printf 'real-apps.sh: not in the snapshot, left out of the app directory: %s\n' "$missing" >"$blog.missing"
      fi
    elif ! tar -xf "$dir.tar" -C "$dir" 2>/dev/null; then
      result=build-failed cause="cannot unpack the archive of $label"
    fi
    rm -f "$dir.tar"
  fi

  # 2. the build, with pypack's defaults
  if [ -z "$result" ]; then
    current_image=$image
    podman rmi -f "$image" >/dev/null 2>&1
    start=$(date +%s)
    timeout "$build_timeout" "$pypack" build "$dir" -t "$image" </dev/null >"$blog" 2>&1
    rc=$?
    if [ -f "$blog.missing" ]; then cat "$blog.missing" >>"$blog" && rm -f "$blog.missing"; fi
    build_s=$(($(date +%s) - start))
    if [ $rc -eq 124 ]; then
      result=build-failed cause="build did not finish in ${build_timeout} s"
    elif [ $rc -ne 0 ]; then
      result=build-failed cause=$(build_cause "$blog")
      [ -n "$cause" ] || cause="pypack exited with $rc and printed nothing"
    elif ! podman image exists "$image"; then
      result=build-failed cause="build succeeded but no image $image in podman"
    fi
  fi

  # 3. run it on a free loopback port and ask for the page
  if [ -z "$result" ]; then
    port=$(podman image inspect --format '{{json .Config.ExposedPorts}}' "$image" 2>/dev/null |
      grep -o '"[0-9]*/tcp"' | head -1 | tr -dc '0-9')
    port_note=''
    if [ -z "$port" ]; then port=8000 port_note="image exposes no port; tried 8000; "; fi
    hostport=$(free_port)
    name=real-app-$n-$$
    current_name=$name
    rm -f "$rlog"
    if ! err=$(podman run -d --rm --name "$name" --log-driver k8s-file --log-opt "path=$rlog" \
      -p "127.0.0.1:$hostport:$port" "$image" </dev/null 2>&1); then
      result=no-answer cause="${port_note}podman run: $(printf '%s' "$err" | tail -1 | oneline)"
    else
      body=$logs/$tag.body
      deadline=$(($(date +%s) + wait_s))
      code='' answered=''
      while :; do
        code=$(curl -s -m 5 -o "$body" -w '%{http_code}' "http://127.0.0.1:$hostport$path" 2>/dev/null)
        if [ -n "$code" ] && [ "$code" != 000 ]; then
          answered=1
          if grep -qF -- "$expect" "$body"; then result=served; break; fi
        fi
        [ "$(date +%s)" -ge "$deadline" ] && break
        podman container exists "$name" 2>/dev/null || break # it exited (and --rm removed it)
        sleep 1
      done
      if [ -z "$result" ]; then
        if [ -n "$answered" ]; then
          result=wrong-answer
          cause="${port_note}HTTP $code: $(head -c 400 "$body" | oneline)"
          case $code in 5*) cause="$cause; log: $(run_cause "$rlog")" ;; esac
        else
          result=no-answer
          if podman container exists "$name" 2>/dev/null; then
            cause="${port_note}running but nothing answered on port $port in ${wait_s} s; last output: $(run_cause "$rlog")"
          else
            cause="${port_note}exited: $(run_cause "$rlog")"
          fi
        fi
      fi
    fi
    podman stop -t 2 "$name" >/dev/null 2>&1
    podman rm -f "$name" >/dev/null 2>&1
    current_name=''
  fi
  if [ -n "$current_image" ]; then
    podman rmi -f "$current_image" >/dev/null 2>&1
    current_image=''
  fi

  [ "$result" = served ] && served=$((served + 1))
  printf '%-13s %s  (%s)\n' "$result" "$label" "${cause:-HTTP ${code:-} on port ${port}, ${build_s:-?} s build}"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$repo" "$commit" "$sub" "$path" "$result" \
    "${port:-}" "${build_s:-}" "$(printf '%s' "$cause" | tr '\t' ' ')" >> "$summary"
done 3<"$list"

echo "served/total: $served/$total"
echo "logs: $logs (summary.tsv, N-name.build.log, N-name.run.log)"
