#!/usr/bin/env bash
# Cross-compiles the addon for win32-x64 with mingw-w64 and writes it where node-gyp-build
# looks for it: prebuilds/win32-x64/hardsync.node (the name prebuildify gives a --napi build).
#
# A Windows addon imports its Node-API and libuv functions from the executable that loads it.
# node-gyp links against node.lib for that; here an import library for "node.exe" is made by
# mingw's dlltool from node-api-headers' .def files (Node-API) plus scripts/cross/uv.def
# (the libuv functions native/ calls, which node.exe exports too). libgcc and libstdc++ are
# linked statically so the .node needs no mingw DLL at run time: only node.exe and Windows
# system DLLs. The import names the module "node.exe": the addon loads in a process whose
# executable is node.exe (as node-gyp's builds without the delay-load hook do; an embedder
# with another executable name, such as Electron, needs a source build).
# mingw links msvcrt.dll while node.exe uses the UCRT: two C runtimes in one process is safe
# here because nothing CRT-owned crosses between them. Every fd hardsync takes or returns is
# node's (uv_get_osfhandle, uv_fs_open), memory is freed by whoever allocated it, and no
# FILE* or errno is shared.
#
# Usage: build-win32.sh [OUT_DIR]   (default <repo>/prebuilds/win32-x64)
# Needs scripts/cross/setup.sh to have run (it writes $CROSS_PREFIX/env.sh).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
prefix="${CROSS_PREFIX:-$repo/.cache/cross}"
# shellcheck disable=SC1091
. "$prefix/env.sh"
out_dir="${1:-$repo/prebuilds/win32-x64}"
mkdir -p "$prefix/build" "$out_dir"
# A fresh work directory per run: two builds at once (a test and a by-hand run) never mix.
work="$(mktemp -d "$prefix/build/win32-x64.XXXXXX")"
trap 'rm -rf "$work"' EXIT

triple=x86_64-w64-mingw32
# The posix thread model: the win32 one of Debian's GCC 12 has no std::thread / std::mutex.
cxx="$triple-g++-posix"
dlltool="$triple-dlltool"
strip="$triple-strip"
objdump="$triple-objdump"

# One .def for node.exe: Node-API names (both header files' lists, deduplicated) and libuv's.
def="$work/node.def"
{
  echo "LIBRARY node.exe"
  echo "EXPORTS"
  cat "$CROSS_NAPI_HEADERS"/def/*.def "$repo/scripts/cross/uv.def" |
    sed -e 's/;.*//' -e 's/[[:space:]]*$//' |
    grep -E '^[A-Za-z_][A-Za-z0-9_]*$' | grep -v -x -E 'EXPORTS|LIBRARY|NAME' | sort -u
} >"$def"

# Every libuv name we promise must really be exported by the node.exe we test with.
if [ -n "${CROSS_WIN_NODE:-}" ] && [ -f "$CROSS_WIN_NODE" ]; then
  exported="$work/node-exports.txt"
  "$objdump" -p "$CROSS_WIN_NODE" | grep -oE '\buv_[a-z0-9_]+' | sort -u >"$exported"
  missing="$(sed -e 's/;.*//' "$repo/scripts/cross/uv.def" | grep -oE '^uv_[a-z0-9_]+' | sort -u |
    comm -23 - "$exported")"
  if [ -n "$missing" ]; then
    echo "build-win32: node.exe does not export: $missing" >&2
    exit 1
  fi
fi

"$dlltool" --input-def "$def" --output-lib "$work/libnode.a" --dllname node.exe

defines=()
while read -r define; do [ -n "$define" ] && defines+=("-D$define"); done \
  < <(node "$repo/scripts/cross/gyp-sources.js" --defines)
sources=()
while read -r source; do [ -n "$source" ] && sources+=("$repo/$source"); done \
  < <(node "$repo/scripts/cross/gyp-sources.js" win)

addon_api="$(cd "$repo" && node -p "require('node-addon-api').include_dir")"
# Node-API headers first (node-api-headers matches the node.exe generation), then
# node-addon-api; uv.h (with uv/win.h) comes from Debian's node headers, which are
# platform-neutral and for a libuv 1.x whose ABI node.exe's libuv keeps.
"$cxx" -std=c++17 -O2 -fno-exceptions -fno-rtti -ffunction-sections -fdata-sections \
  -Wall -Wextra -Wno-unused-parameter -Wno-cast-function-type \
  -shared -o "$work/hardsync.node" \
  "${defines[@]}" -DBUILDING_NODE_EXTENSION -D_WIN32_WINNT=0x0A00 -DUNICODE -D_UNICODE \
  -I"$CROSS_NAPI_HEADERS/include" -I"$addon_api" -idirafter /usr/include/node \
  "${sources[@]}" \
  -L"$work" -lnode -static -Wl,--no-undefined -Wl,--gc-sections

"$strip" --strip-unneeded "$work/hardsync.node"
# The only DLLs it may need: node.exe and Windows' own.
bad_dlls="$("$objdump" -p "$work/hardsync.node" | awk '/DLL Name:/ {print $3}' |
  grep -v -i -x -E 'node\.exe|kernel32\.dll|msvcrt\.dll|ucrtbase\.dll|api-ms-win-.*\.dll|advapi32\.dll|ws2_32\.dll|user32\.dll' || true)"
if [ -n "$bad_dlls" ]; then
  echo "build-win32: hardsync.node would need DLLs Windows does not have: $bad_dlls" >&2
  exit 1
fi
cp "$work/hardsync.node" "$out_dir/hardsync.node"
echo "$out_dir/hardsync.node"
