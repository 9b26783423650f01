#!/usr/bin/env bash
# Installs what pktfs needs on Debian 12 and builds it. Safe to run again: it only does what is missing.
# Sourced by scripts/demo.sh and scripts/test.sh; also runnable on its own.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

DEBS=(libfuse2 fuse3 udftools udfclient 7zip genisoimage fuse2fs xz-utils util-linux)
missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "pktfs setup: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  say "Installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -e /dev/fuse ]; then
  echo "pktfs setup: /dev/fuse is missing (load the fuse module: modprobe fuse)" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "Installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi
# fuse-native is patched and rebuilt by npm's postinstall (scripts/patch-native.sh); an older tree may lack it.
if [ ! -f node_modules/fuse-native/build/Release/fuse.node ]; then
  say "Patching and building fuse-native"
  bash scripts/patch-native.sh
fi
# fuse-native and koffi carry native parts; make sure they load (a fresh npm may skip install scripts).
if ! node -e "require('fuse-native'); require('koffi')" 2>/dev/null; then
  say "Building native modules"
  npm rebuild fuse-native koffi --loglevel=error
fi

if [ ! -f dist/bin/pktfs.js ] || [ -n "$(find src bin bench -newer dist/bin/pktfs.js -name '*.ts' -print -quit 2>/dev/null)" ]; then
  say "Building pktfs (tsc)"
  npx tsc -p tsconfig.json
fi
