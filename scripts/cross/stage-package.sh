#!/usr/bin/env bash
# Makes DEST an installed copy of the package as a user gets it: `npm pack` (without
# rebuilding dist/: it must already be built), unpacked, with its runtime dependency
# node-gyp-build beside it, and prebuilds freshly built from the current native/ sources for
# the targets given (default: all three this machine makes). The cross-platform runs load it
# with a plain require(DEST), so node-gyp-build picks prebuilds/<platform>-<arch> itself.
#
# Usage: stage-package.sh DEST [TARGET...]
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dest="${1:?usage: stage-package.sh DEST [TARGET...]}"
shift
targets="${*:-linux-x64 linux-arm64 win32-x64}"

[ -f "$repo/dist/lib/index.js" ] || { echo "stage-package: build dist/ first (npm run build:ts)" >&2; exit 1; }
rm -rf "$dest"
mkdir -p "$dest"
tarball_dir="$(mktemp -d "${TMPDIR:-/tmp}/hardsync-pack.XXXXXX")"
trap 'rm -rf "$tarball_dir"' EXIT
# --ignore-scripts: `prepare` would rebuild dist/ in the shared tree while tests read it.
(cd "$repo" && npm pack --ignore-scripts --silent --pack-destination "$tarball_dir" >/dev/null)
tar -xzf "$tarball_dir"/hardsync-*.tgz -C "$dest" --strip-components=1
mkdir -p "$dest/node_modules"
cp -r "$repo/node_modules/node-gyp-build" "$dest/node_modules/"
# Whatever prebuilds/ the tree had may be stale: test what native/ says now.
rm -rf "$dest/prebuilds"
HARDSYNC_PREBUILD_TARGETS="$targets" HARDSYNC_PREBUILD_OUT="$dest/prebuilds" bash "$repo/scripts/prebuild-all.sh"
