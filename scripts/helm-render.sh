#!/usr/bin/env bash
# Renders the Helm chart without a helm binary: builds scripts/helm-render (Go,
# text/template + sprig from Debian's packages, see scripts/deps-debian.sh) into
# the cache on first use, then runs it with the given arguments.
# Usage: scripts/helm-render.sh [-f values.yaml]... [--include-crds] [--notes] [helm/herald]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${HERALD_CACHE:-$HOME/.cache/herald}"
src="$root/scripts/helm-render"
if ! command -v go >/dev/null 2>&1; then
  echo "helm-render: go is missing; run scripts/deps-debian.sh (Debian package golang-go)" >&2
  exit 1
fi
# The binary is named after its source's hash, so an edited renderer is rebuilt.
hash=$(cat "$src"/*.go | sha256sum | cut -c1-16)
bin="$cache/helm-render-$hash"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  # No module downloads here: GOPATH mode against Debian's Go sources.
  if ! (cd "$src" && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= CGO_ENABLED=0 \
    go build -o "$bin.$$" .) >&2; then
    echo "helm-render: build failed; run scripts/deps-debian.sh (golang-github-masterminds-sprig-dev, golang-k8s-sigs-yaml-dev)" >&2
    exit 1
  fi
  # Concurrent first runs each build their own file; the rename is atomic.
  mv -f "$bin.$$" "$bin"
fi
# The chart directory defaults to helm/herald when the last argument is not one.
if [ $# -eq 0 ] || [ ! -d "${!#}" ]; then set -- "$@" "$root/helm/herald"; fi
exec "$bin" "$@"
