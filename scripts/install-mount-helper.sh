#!/usr/bin/env bash
# Installs mount.pktfs so that `mount -t pktfs SOURCE DIR -o OPTS` and fstab lines of type
# pktfs work: mount(8) looks for /sbin/mount.TYPE (/sbin is /usr/sbin on Debian 12).
# The helper is a two-line wrapper that runs this checkout's dist/bin/mount.pktfs.js with
# the node found now (mount(8) gives helpers a minimal PATH).
#
#   scripts/install-mount-helper.sh              install into /usr/sbin (needs root)
#   scripts/install-mount-helper.sh --dir DIR    install into DIR instead
#   scripts/install-mount-helper.sh --uninstall  remove it again (only if it is ours)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dir=/usr/sbin
action=install
while (($#)); do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --uninstall) action=uninstall; shift ;;
    *) echo "usage: $0 [--dir DIR] [--uninstall]" >&2; exit 1 ;;
  esac
done
target="$dir/mount.pktfs"
marker='# installed by pktfs scripts/install-mount-helper.sh'

if [ "$action" = uninstall ]; then
  if [ -f "$target" ] && grep -qF "$marker" "$target"; then rm -f "$target"; echo "removed $target"; fi
  exit 0
fi

node_bin="$(command -v node)" || { echo "install-mount-helper: node not found" >&2; exit 1; }
helper="$(pwd)/dist/bin/mount.pktfs.js"
if [ ! -f "$helper" ]; then
  echo "install-mount-helper: $helper is missing: run npm run build first" >&2
  exit 1
fi
if [ -e "$target" ] && ! grep -qF "$marker" "$target"; then
  echo "install-mount-helper: $target exists and is not ours; not touching it" >&2
  exit 1
fi
tmp="$(mktemp "$dir/.mount.pktfs.XXXXXX")"
printf '#!/bin/sh\n%s\nexec "%s" "%s" "$@"\n' "$marker" "$node_bin" "$helper" >"$tmp"
chmod 755 "$tmp"
mv -f "$tmp" "$target"
echo "installed $target -> $helper"
