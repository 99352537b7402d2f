#!/bin/sh
# pypack in CI: builds an app directory into an image, pushes it (with the
# registry build cache when one is named), writes the image's SPDX bill of
# materials, and says the pushed digest. The GitHub Action
# (templates/ci/github/action.yml) and the GitLab CI template
# (templates/ci/gitlab/pypack.gitlab-ci.yml) both run this script.
#
# Settings (environment):
#   PYPACK_IMAGE      where to push: REGISTRY/REPOSITORY:TAG (required)
#   PYPACK_APP        the app directory (default: .)
#   PYPACK_CACHE      a registry cache REGISTRY/REPOSITORY:TAG, read before
#                     the build and written after it (optional)
#   PYPACK_ARGS       more `pypack build` flags, split on spaces (optional)
#   PYPACK_SBOM       where the SPDX document goes (default: pypack-sbom.spdx.json)
#   PYPACK_REGISTRY_USER, PYPACK_REGISTRY_PASSWORD
#                     credentials for the registries named above, when the
#                     runner has none (docker login / podman login) already
#   PYPACK_INSECURE_REGISTRY=1  plain HTTP to a loopback registry (tests)
# Results: printed as NAME=value lines; also appended to $GITHUB_OUTPUT
# (digest, image, sbom) and to $PYPACK_DOTENV (PYPACK_DIGEST, PYPACK_IMAGE_DIGEST,
# PYPACK_SBOM; GitLab's dotenv report) when those are set.
set -eu

fail() {
  echo "pypack-ci: $*" >&2
  exit 2
}

[ -n "${PYPACK_IMAGE:-}" ] || fail "PYPACK_IMAGE is not set: name the image to push, e.g. registry.example/team/app:1"
command -v pypack >/dev/null 2>&1 || fail "pypack is not on PATH: install it first"
app=${PYPACK_APP:-.}
[ -d "$app" ] || fail "the app directory '$app' does not exist"
sbom=${PYPACK_SBOM:-pypack-sbom.spdx.json}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Credentials given as variables go to an auth file of this run's own.
if [ -n "${PYPACK_REGISTRY_USER:-}" ]; then
  [ -n "${PYPACK_REGISTRY_PASSWORD:-}" ] || fail "PYPACK_REGISTRY_USER is set but PYPACK_REGISTRY_PASSWORD is not"
  auth=$(printf '%s:%s' "$PYPACK_REGISTRY_USER" "$PYPACK_REGISTRY_PASSWORD" | base64 | tr -d '\n')
  {
    printf '{"auths": {'
    sep=""
    for ref in "$PYPACK_IMAGE" ${PYPACK_CACHE:-}; do
      printf '%s"%s": {"auth": "%s"}' "$sep" "${ref%%/*}" "$auth"
      sep=", "
    done
    printf '}}\n'
  } > "$work/auth.json"
  REGISTRY_AUTH_FILE=$work/auth.json
  export REGISTRY_AUTH_FILE
fi

set -- build "$app" --push "$PYPACK_IMAGE" --json
if [ -n "${PYPACK_CACHE:-}" ]; then
  set -- "$@" --cache-from "$PYPACK_CACHE" --cache-to "$PYPACK_CACHE"
fi
insecure=""
if [ "${PYPACK_INSECURE_REGISTRY:-}" = 1 ]; then
  insecure=--insecure-registry
  set -- "$@" "$insecure"
fi
# shellcheck disable=SC2086 # PYPACK_ARGS is a list of flags
set -- "$@" ${PYPACK_ARGS:-}

echo "pypack-ci: pypack $*" >&2
pypack "$@" > "$work/summary.json"

# The summary's top-level "digest" (the first one it prints).
digest=$(sed -n 's/^  "digest": "\(sha256:[0-9a-f]*\)",$/\1/p' "$work/summary.json" | head -n 1)
[ -n "$digest" ] || fail "pypack printed no digest; its summary was: $(cat "$work/summary.json")"
image_digest="${PYPACK_IMAGE%:*}@$digest"
case $PYPACK_IMAGE in
  */*:*) ;;
  *) image_digest="$PYPACK_IMAGE@$digest" ;;
esac

pypack sbom "$image_digest" --format spdx $insecure > "$sbom"

echo "digest=$digest"
echo "image=$image_digest"
echo "sbom=$sbom"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  printf 'digest=%s\nimage=%s\nsbom=%s\n' "$digest" "$image_digest" "$sbom" >> "$GITHUB_OUTPUT"
fi
if [ -n "${PYPACK_DOTENV:-}" ]; then
  printf 'PYPACK_DIGEST=%s\nPYPACK_IMAGE_DIGEST=%s\nPYPACK_SBOM=%s\n' "$digest" "$image_digest" "$sbom" >> "$PYPACK_DOTENV"
fi
