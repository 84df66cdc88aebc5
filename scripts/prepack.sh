#!/usr/bin/env bash
# npm's `prepack` (run by `npm pack` and `npm publish`): the tarball must carry a prebuild, or
# every install of it compiles (and fails where there is no compiler). So:
#   1. refuse to pack any other prebuilds/<platform>-<arch>/hardsync.node that is older than
#      a file of native/ or binding.gyp: it was built from other sources than the ones shipped
#      (rebuild it: `npm run prebuild:all`, or the workflow; or delete it);
#   2. build this machine's own prebuild afresh from native/ (prebuild-all.sh's `host` target:
#      linux-x64 here), plus the targets HARDSYNC_PREBUILD_TARGETS names (e.g.
#      "linux-arm64 win32-x64": cross builds; scripts/cross/setup.sh installs their tools),
#      and fail, so that nothing is packed, if that build fails.
# It writes prebuilds/ and nothing else, an ignored directory: packing modifies no tracked file.
# The release workflow gathers the prebuilds of every OS and packs with --ignore-scripts.
set -euo pipefail
shopt -s nullglob

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
host="$(node -p "process.platform + '-' + process.arch")"
log() { printf 'prepack: %s\n' "$*" >&2; }

targets="$host"
for extra in ${HARDSYNC_PREBUILD_TARGETS:-}; do
  [ "$extra" = "$host" ] || [ "$extra" = host ] || targets="$targets $extra"
done
# Checked first: a refusal costs no compile.
stale=()
for prebuild in "$repo"/prebuilds/*/hardsync.node; do
  target="$(basename "$(dirname "$prebuild")")"
  case " $targets " in *" $target "*) continue ;; esac
  newer="$(find "$repo/native" "$repo/binding.gyp" -type f -newer "$prebuild" -print -quit)"
  [ -z "$newer" ] || stale+=("prebuilds/$target (older than ${newer#"$repo"/})")
done
if [ ${#stale[@]} -gt 0 ]; then
  log "stale prebuilds, built before the native sources last changed:"
  for line in "${stale[@]}"; do log "  $line"; done
  log "rebuild them (npm run prebuild:all, or HARDSYNC_PREBUILD_TARGETS=... npm pack) or delete them"
  exit 1
fi
if ! HARDSYNC_PREBUILD_TARGETS="$targets" HARDSYNC_PREBUILD_OUT="$repo/prebuilds" bash "$repo/scripts/prebuild-all.sh"; then
  log "could not build the $host prebuild (a C++ compiler, make and python are needed to pack);"
  log "a tarball without it would compile on every install, so it is not packed"
  exit 1
fi

log "packing with prebuilds: $(cd "$repo/prebuilds" && echo */ | tr -d /)"
