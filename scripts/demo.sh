#!/usr/bin/env bash
# The README's main job, end to end: make a UDF disc image with files on it, mount it with pktfs,
# list and read it through the mount, check it against the source, unmount.
# Usage: scripts/demo.sh [IMAGE]   (default: a fresh sample image in a temporary directory)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
PKTFS="node $PWD/dist/bin/pktfs.js"

work=$(mktemp -d /tmp/pktfs-demo.XXXXXX)
mnt="$work/mnt"
mkdir -p "$mnt"
cleanup() {
  if mountpoint -q "$mnt" 2>/dev/null; then umount "$mnt" 2>/dev/null || fusermount -u "$mnt" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

img=${1:-}
if [ -z "$img" ]; then
  img="$work/demo.img"
  say "Making a sample tree and a 32 MiB UDF 2.01 disc image with mkudffs"
  src="$work/src"
  mkdir -p "$src/docs/deep/er" "$src/empty dir"
  printf 'Hello from a UDF disc, read by pktfs.\n' > "$src/hello.txt"
  printf 'Grüße, déjà vu\n' > "$src/docs/unicode.txt"
  cp /etc/os-release "$src/docs/deep/er/os-release"
  head -c 3000000 /dev/urandom > "$src/random.bin"
  : > "$src/empty.txt"
  mkudffs --media-type=hd --blocksize=2048 --label=pktfs-demo --new-file "$img" 16384 >/dev/null
  say "Copying the tree onto the image with udfclient (pktfs writes its own discs in a later version)"
  vol=$(printf 'ls\nquit\n' | udfclient -W -b 2048 "$img" 2>/dev/null | awk '/Directory listing of \/$/{getline; print $NF; exit}')
  printf 'cd %s\nlcd %s\nput hello.txt\nput random.bin\nput empty.txt\nput docs\nmkdir "empty dir"\nquit\n' "$vol" "$src" \
    | udfclient -W -b 2048 "$img" >/dev/null 2>&1
fi

say "Mounting $img on $mnt (read-only)"
$PKTFS -o ro "$img" "$mnt"
say "Listing the disc through the mount"
ls -lR "$mnt"
say "Disc usage as statfs reports it"
df -h "$mnt"
if [ -n "${src:-}" ]; then
  say "Comparing every file with the source tree"
  diff -r "$src" "$mnt" && echo "identical: every file and directory matches"
  cat "$mnt/hello.txt"
fi
say "Unmounting"
umount "$mnt"
for _ in $(seq 50); do mountpoint -q "$mnt" || break; sleep 0.1; done
say "Done"
