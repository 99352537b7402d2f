#!/usr/bin/env bash
# Installs and configures what pypack's tests need on a Debian machine:
# podman (with runc) to run the images, skopeo and Debian's docker-registry for
# registry tests, GNU time for the peak-memory test. Safe to run again. Needs
# root (or sudo).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
for cmd in podman runc skopeo docker-registry htpasswd /usr/bin/time; do
  command -v "$cmd" >/dev/null 2>&1 || need+=("$cmd")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup: installing podman runc skopeo docker-registry apache2-utils time (missing: ${need[*]})"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq podman runc skopeo docker-registry apache2-utils time >/dev/null
fi

# On this kind of VM crun fails on its cgroup setup and raising RLIMIT_NOFILE /
# RLIMIT_NPROC is refused, so podman is pointed at runc with lower ulimits.
conf=/etc/containers/containers.conf
want='[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"'
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
  echo "setup: writing $conf"
  $SUDO mkdir -p /etc/containers
  printf '%s\n' "$want" | $SUDO tee "$conf" >/dev/null
fi

# Debian's docker-registry package starts a system service; tests start their
# own registries on loopback ports instead.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi

# The sample apps' wheels: downloaded (hash-checked) rather than kept in the
# repository, from whatever index pip itself is configured with.
here=$(cd "$(dirname "$0")/.." && pwd)
wheelhouse="$here/sample-apps/wheelhouse"
wanted=$(cat "$here"/sample-apps/wheelhouse*.txt | grep -o 'sha256:[0-9a-f]*' | sort -u | wc -l)
if [ "$(ls "$wheelhouse"/*.whl "$wheelhouse"/*.tar.gz 2>/dev/null | wc -l)" -lt "$wanted" ]; then
  echo "setup: downloading the sample apps' wheels into $wheelhouse"
  command -v python3 >/dev/null 2>&1 || { $SUDO apt-get install -y -qq python3-pip >/dev/null; }
  python3 -m pip --version >/dev/null 2>&1 || { $SUDO apt-get install -y -qq python3-pip >/dev/null; }
  # One pip download per list: a list holds one version of each package.
  for path in "$here"/sample-apps/wheelhouse*.txt; do
    list=$(basename "$path")
    if [ "$list" = wheelhouse-sdists.txt ]; then
      # Fetched as files from pip's index: `pip download` would prepare an
      # sdist's metadata, which for psycopg2 needs pg_config on this machine.
      python3 - "$path" "$wheelhouse" <<'PY'
import hashlib, html, os, re, subprocess, sys, urllib.parse, urllib.request
listing, out = sys.argv[1:3]
index = os.environ.get("PIP_INDEX_URL")
if not index:
    got = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"], capture_output=True, text=True)
    index = got.stdout.strip() if got.returncode == 0 else ""
if not index:
    help_text = subprocess.run([sys.executable, "-m", "pip", "install", "--help"], capture_output=True, text=True).stdout
    index = re.search(r"\(default\s+(\S+?)\)", " ".join(help_text.split())).group(1)
for line in open(listing):
    m = re.match(r"([A-Za-z0-9._-]+)==(\S+) --hash=sha256:([0-9a-f]{64})", line.strip())
    if not m:
        continue
    name, version, digest = m.groups()
    page_url = index.rstrip("/") + "/" + re.sub(r"[-_.]+", "-", name).lower() + "/"
    page = urllib.request.urlopen(page_url, timeout=60).read().decode()
    for href in re.findall(r'href="([^"]+)"', page):
        url = urllib.parse.urljoin(page_url, html.unescape(href))
        filename = urllib.parse.unquote(url.split("#")[0].rsplit("/", 1)[-1])
        if filename == f"{name}-{version}.tar.gz":
            data = urllib.request.urlopen(url, timeout=300).read()
            if hashlib.sha256(data).hexdigest() != digest:
                sys.exit(f"setup: {filename}: sha256 mismatch")
            open(os.path.join(out, filename), "wb").write(data)
            break
    else:
        sys.exit(f"setup: no {name}-{version}.tar.gz on {page_url}")
PY
      continue
    fi
    version=3.11
    [ "$list" = wheelhouse-cp314.txt ] && version=3.14
    abi="cp${version/./}"
    arch=x86_64
    [ "$list" = wheelhouse-arm64.txt ] && arch=aarch64
    PIP_FIND_LINKS= python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
      --platform "manylinux_2_36_$arch" --platform "manylinux_2_28_$arch" --platform "manylinux_2_17_$arch" \
      --platform "manylinux2014_$arch" --python-version "$version" --implementation cp --abi "$abi" --abi none --abi abi3 \
      -r "$here/sample-apps/$list" -d "$wheelhouse"
  done
fi

# The SBOM schemas the tests validate against, inside a pinned wheel.
schemas="$here/tests/schemas"
if ! ls "$schemas"/lib4sbom-*.whl >/dev/null 2>&1; then
  echo "setup: downloading the SBOM schemas into $schemas"
  python3 -m pip --version >/dev/null 2>&1 || { $SUDO apt-get install -y -qq python3-pip >/dev/null; }
  PIP_FIND_LINKS= python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
    -r "$here/tests/sbom-schemas.txt" -d "$schemas"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo (Rust) is not installed; install a Rust toolchain (rustup) first" >&2
  exit 1
fi
echo "setup: ok ($(podman --version), $(runc --version | head -1))"
