#!/usr/bin/env bash
# Installs and configures what pypack's tests need on a Debian machine:
# podman (with runc) to run the images, skopeo and Debian's docker-registry for
# registry tests. Safe to run again. Needs root (or sudo).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
for cmd in podman runc skopeo docker-registry htpasswd; do
  command -v "$cmd" >/dev/null 2>&1 || need+=("$cmd")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup: installing podman runc skopeo docker-registry apache2-utils (missing: ${need[*]})"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq podman runc skopeo docker-registry apache2-utils >/dev/null
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

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo (Rust) is not installed; install a Rust toolchain (rustup) first" >&2
  exit 1
fi
echo "setup: ok ($(podman --version), $(runc --version | head -1))"
