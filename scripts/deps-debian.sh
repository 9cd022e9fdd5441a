#!/usr/bin/env bash
# Installs the Debian packages Herald's tests and lab use, when missing.
# Idempotent: a machine that has them all does not touch apt.
set -euo pipefail
# unzip: scripts/helm.sh takes helm and kubectl out of their npm package's zip.
packages=(iproute2 nftables iptables iputils-arping iputils-ping ndisc6 tcpdump wrk etcd-server conntrack procps
  socat curl openssl
  unzip)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "installing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then echo "deps-debian: need root to install ${missing[*]}" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
