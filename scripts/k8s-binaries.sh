#!/usr/bin/env bash
# Builds the lab's Kubernetes binaries (kube-apiserver, kube-controller-manager,
# kube-proxy, kubectl v1.20.2) from Debian's `kubernetes` source package with
# Debian's Go, and caches them outside the repository. A second run only checks
# the cache. Prints the directory holding the binaries on stdout; everything
# else goes to stderr.
#
# Why from source: no release binaries are reachable from these machines, but
# Debian's source package carries Kubernetes with all its vendored modules.
# Why the reflect2 swap: the vendored github.com/modern-go/reflect2 v1.0.1
# reads runtime internals that moved in Go 1.18, and the API server then dies
# with "unexpected fault address"; Debian's 1.0.2 source fixes that.
#
# Usage: scripts/k8s-binaries.sh          (build or reuse the cache)
#        HERALD_CACHE=/some/dir scripts/k8s-binaries.sh
set -euo pipefail

version=1.20.2
cache="${HERALD_CACHE:-$HOME/.cache/herald}"
out="$cache/k8s-v$version"
work="$cache/k8s-src"
log="$cache/k8s-build.log"
binaries=(kube-apiserver kube-controller-manager kube-proxy kubectl)

say() { echo "k8s-binaries: $*" >&2; }
step=""
fail() {
  say "FAILED at step \"$step\": $*"
  if [ -s "$log" ]; then
    say "last lines of $log:"
    tail -n 25 "$log" >&2
  fi
  exit 1
}
trap 'fail "command exited with status $?"' ERR

cached() {
  local b
  for b in "${binaries[@]}"; do
    [ -x "$out/$b" ] || return 1
  done
  "$out/kubectl" version --client --short 2>/dev/null | grep -q "v$version"
}

if cached; then
  say "using cached binaries in $out"
  echo "$out"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  step="check root"
  fail "building needs root (apt-get source and apt-get install); run as root once, the cache then serves everyone with the same HERALD_CACHE"
fi

mkdir -p "$cache"
: >"$log"
started=$(date +%s)

# Runs "$@" with its output in the log, printing a heartbeat every 30 s so a
# slow step does not look like a hung one.
with_progress() {
  "$@" >>"$log" 2>&1 &
  local pid=$! t0
  t0=$(date +%s)
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 30); do
      sleep 1
      kill -0 "$pid" 2>/dev/null || break
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "  ... $step: $(($(date +%s) - t0)) s so far (log: $log)"
    fi
  done
  wait "$pid"
}

step="deb-src line"
src_list=/etc/apt/sources.list.d/herald-deb-src.sources
if ! grep -rqs -E '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  say "adding deb-src entries for the configured Debian mirrors ($src_list)"
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    # Same stanzas as the binary sources, so the source matches the mirror's binaries.
    sed -E 's/^Types:.*$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$src_list"
  elif [ -f /etc/apt/sources.list ]; then
    grep -E '^deb ' /etc/apt/sources.list | sed -E 's/^deb /deb-src /' >/etc/apt/sources.list.d/herald-deb-src.list
  else
    fail "found no Debian apt sources to derive a deb-src line from"
  fi
fi

step="apt-get update"
say "$step"
with_progress apt-get update || fail "apt-get update failed"

step="install Go and build tools"
say "$step (golang-go, golang-github-modern-go-reflect2-dev, make, dpkg-dev, rsync)"
DEBIAN_FRONTEND=noninteractive with_progress apt-get install -y --no-install-recommends \
  golang-go golang-github-modern-go-reflect2-dev make dpkg-dev rsync ||
  fail "apt-get install failed"
reflect2_src=/usr/share/gocode/src/github.com/modern-go/reflect2
[ -f "$reflect2_src/reflect2.go" ] || fail "reflect2 source not found in $reflect2_src"

step="fetch the kubernetes source package"
say "$step"
rm -rf "$work"
mkdir -p "$work"
(cd "$work" && with_progress apt-get source kubernetes) || fail "apt-get source kubernetes failed"
tree=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -n1)
[ -n "$tree" ] || fail "no kubernetes-* directory after apt-get source"
# The source is a `git archive` export: version.sh carries the stamped tag.
grep -q "tag: v$version" "$tree/hack/lib/version.sh" ||
  fail "the kubernetes source package is not v$version (see $tree/hack/lib/version.sh)"
say "  source tree: $tree"

step="swap vendored reflect2 for 1.0.2"
say "$step"
[ -d "$tree/vendor/github.com/modern-go/reflect2" ] || fail "no vendored reflect2 in $tree/vendor"
rm -rf "$tree/vendor/github.com/modern-go/reflect2"
cp -r "$reflect2_src" "$tree/vendor/github.com/modern-go/reflect2"
# Go's vendor check only compares go.mod with modules.txt, so the version label may stay.
rm -f "$tree/vendor/github.com/modern-go/reflect2/go.mod" "$tree/vendor/github.com/modern-go/reflect2/go.sum"

step="go build (about 6.5 min on 2 cores)"
say "building ${binaries[*]} with $(go version | cut -d' ' -f3-4)"
targets=""
for b in "${binaries[@]}"; do targets="$targets cmd/$b"; done
(
  cd "$tree"
  export CGO_ENABLED=0
  export GOFLAGS=-mod=vendor GOCACHE="$cache/go-build" GOPATH="$cache/gopath"
  with_progress make WHAT="${targets# }"
) || fail "make WHAT=... failed"

step="install into the cache"
mkdir -p "$out"
for b in "${binaries[@]}"; do
  found=$(find "$tree/_output" -type f -name "$b" -perm -u+x | head -n1)
  [ -n "$found" ] || fail "$b was not built"
  install -m 0755 "$found" "$out/$b"
done
cached || fail "kubectl in $out does not report v$version"
rm -rf "$work" "$cache/gopath" "$cache/go-build"
say "done in $(($(date +%s) - started)) s: $out"
echo "$out"
