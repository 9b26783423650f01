#!/usr/bin/env bash
# npm's postinstall: fuse-native 2.2.6 hands the utimens op the access time twice, so the
# modification time asked for is lost (cp -a, touch, tar), and its open and create can't set
# fuse_file_info's direct_io/keep_cache (pktfs opens .pktinfo files with direct_io, so the
# kernel may cache attributes), and libfuse drops a setattr of one time only (UTIME_OMIT for the
# other: tar x, touch -m) unless flag_utime_omit_ok is set; and the read fast path (fuse_native_direct_*:
# reads of files unchanged in an image answered with pread on the libfuse thread, docs/cli.md direct_read=). patches/ holds the fixes; patch-package applies them and the binding is rebuilt from source (node-gyp-build then loads
# build/Release before the prebuilt binary). Safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
node_modules/.bin/patch-package
fn=node_modules/fuse-native
if [ ! -f "$fn/build/Release/fuse.node" ] || [ "$fn/fuse-native.c" -nt "$fn/build/Release/fuse.node" ]; then
  echo "pktfs: building fuse-native from source (patched utimens, open flags)"
  # Node's own headers (npm passes its nodedir setting to install scripts; Debian's are in /usr/include/node).
  nodedir=${npm_config_nodedir:-}
  if [ -z "$nodedir" ] && [ -f /usr/include/node/node_api.h ]; then nodedir=/usr; fi
  (cd "$fn" && ../.bin/node-gyp rebuild --loglevel=error ${nodedir:+--nodedir="$nodedir"} >/dev/null)
fi
