#!/usr/bin/env bash
# Builds every prebuild this machine can make, into prebuilds/<platform>-<arch>/hardsync.node
# (the file name prebuildify gives a --napi build, which node-gyp-build finds on each OS):
#   linux-x64    native, `prebuildify --napi --strip`
#   linux-arm64  cross-compiled with Debian's g++-aarch64-linux-gnu
#   win32-x64    cross-compiled with Debian's g++-mingw-w64-x86-64 against node.exe
#   host         whatever this machine is (`node -p "process.platform + '-' + process.arch"`),
#                built natively like linux-x64 above: what scripts/prepack.sh asks for
# The release's macOS and FreeBSD prebuilds come from .github/workflows/prebuild.yml.
#
# The native build runs in a staging copy of binding.gyp and native/, so build/Release (what
# the tests and a developer's `npm run build:native` load) is never deleted or replaced.
# Tools for the cross builds: scripts/cross/setup.sh (run here first; it skips what exists).
# HARDSYNC_PREBUILD_TARGETS="linux-x64 win32-x64" limits the set; HARDSYNC_PREBUILD_OUT=DIR
# writes DIR/<platform>-<arch>/hardsync.node instead (the tests build into an unpacked package).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
targets="${HARDSYNC_PREBUILD_TARGETS:-linux-x64 linux-arm64 win32-x64}"
out="${HARDSYNC_PREBUILD_OUT:-$repo/prebuilds}"
host="$(node -p "process.platform + '-' + process.arch")"
targets="${targets//host/$host}"
log() { printf 'prebuild-all: %s\n' "$*" >&2; }

case " $targets " in
  *" linux-arm64 "* | *" win32-x64 "*) bash "$repo/scripts/cross/setup.sh" >/dev/null ;;
esac

for target in $targets; do
  start=$SECONDS
  case "$target" in
    "$host")
      stage="$(mktemp -d "${TMPDIR:-/tmp}/hardsync-prebuild.XXXXXX")"
      trap 'rm -rf "$stage"' EXIT
      cp "$repo/package.json" "$repo/binding.gyp" "$stage/"
      cp -r "$repo/native" "$stage/"
      ln -s "$repo/node_modules" "$stage/node_modules"
      # Through npx: it puts npm's bundled node-gyp on PATH and passes npm's config (nodedir)
      # on, as `npm run prebuild` would.
      if ! (cd "$stage" && npx --no-install prebuildify --napi --strip) >"$stage/build.log" 2>&1; then
        cat "$stage/build.log" >&2
        exit 1
      fi
      mkdir -p "$out/$target"
      cp "$stage/prebuilds/$target/hardsync.node" "$out/$target/hardsync.node"
      rm -rf "$stage"
      trap - EXIT
      ;;
    linux-x64) log "linux-x64 is built natively only, not on $host"; exit 1 ;;
    linux-arm64) bash "$repo/scripts/cross/build-linux-arm64.sh" "$out/linux-arm64" >/dev/null ;;
    win32-x64) bash "$repo/scripts/cross/build-win32.sh" "$out/win32-x64" >/dev/null ;;
    *) log "unknown target $target (host, linux-x64, linux-arm64, win32-x64)"; exit 1 ;;
  esac
  log "$target: $out/$target/hardsync.node ($(wc -c <"$out/$target/hardsync.node") bytes, $((SECONDS - start)) s)"
done
