#!/usr/bin/env bash
# Cross-compiles the addon for linux-arm64 with Debian's aarch64 GCC and writes it where
# node-gyp-build looks for it: prebuilds/linux-arm64/hardsync.node (the name prebuildify
# gives a --napi build). A Linux addon leaves its Node-API and libuv symbols undefined, to be
# resolved against the node binary that loads it, exactly as node-gyp links it.
#
# Usage: build-linux-arm64.sh [OUT_DIR]   (default <repo>/prebuilds/linux-arm64)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
prefix="${CROSS_PREFIX:-$repo/.cache/cross}"
out_dir="${1:-$repo/prebuilds/linux-arm64}"
mkdir -p "$prefix/build" "$out_dir"
# A fresh work directory per run: two builds at once (a test and a by-hand run) never mix.
work="$(mktemp -d "$prefix/build/linux-arm64.XXXXXX")"
trap 'rm -rf "$work"' EXIT

triple=aarch64-linux-gnu
cxx="$triple-g++"
strip="$triple-strip"

napi_include=/usr/include/node
if [ -f "$prefix/env.sh" ]; then
  # shellcheck disable=SC1091
  . "$prefix/env.sh"
  napi_include="$CROSS_NAPI_HEADERS/include"
fi

defines=()
while read -r define; do [ -n "$define" ] && defines+=("-D$define"); done \
  < <(node "$repo/scripts/cross/gyp-sources.js" --defines)
sources=()
while read -r source; do [ -n "$source" ] && sources+=("$repo/$source"); done \
  < <(node "$repo/scripts/cross/gyp-sources.js" linux)
addon_api="$(cd "$repo" && node -p "require('node-addon-api').include_dir")"

# The flags node-gyp uses on Linux (-fPIC, -pthread, hidden visibility except the module's
# registration) and the warnings of binding.gyp's cflags_cc.
"$cxx" -std=c++17 -O2 -fPIC -pthread -fvisibility=hidden -fno-exceptions -fno-rtti \
  -Wall -Wextra -Wno-unused-parameter \
  -shared -o "$work/hardsync.node" \
  "${defines[@]}" -DBUILDING_NODE_EXTENSION -D_GNU_SOURCE \
  -I"$napi_include" -I"$addon_api" -idirafter /usr/include/node \
  "${sources[@]}" -Wl,-z,noexecstack

"$strip" --strip-unneeded "$work/hardsync.node"
cp "$work/hardsync.node" "$out_dir/hardsync.node"
echo "$out_dir/hardsync.node"
