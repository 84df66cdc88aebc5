#!/usr/bin/env bash
# A short benchmark run (`hardsync bench --quick`) on the emulated platforms, each through
# the staged npm package (so each loads its own prebuild), written to bench/results/:
#   linux-arm64 under qemu-user -> bench/results/linux-arm64-qemu-<fs>.json
#   win32-x64 under Wine        -> bench/results/win32-x64-wine-<fs>.json
# (linux-x64 natively: add it to the arguments; its file is linux-x64-<fs>.json.)
# The JSON's env gets an "emulation" object saying what ran the code and that its figures
# measure the emulator's translation as much as the disk, so nobody reads them as a real
# arm64 machine's or a real Windows's. Compare with:
#   node dist/bench/cli.js compare bench/results/linux-x64-ext4.json bench/results/*-qemu-*.json bench/results/*-wine-*.json
#
# Usage: bench-all.sh [PLATFORM...]   (default: linux-arm64 win32-x64)
# BENCH_DIR: the directory to benchmark in (default: a temporary one under /tmp).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
prefix="${CROSS_PREFIX:-$repo/.cache/cross}"
platforms="${*:-linux-arm64 win32-x64}"
bash "$repo/scripts/cross/setup.sh" >/dev/null
# shellcheck disable=SC1091
. "$prefix/env.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/hardsync-bench-all.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
pkg="$scratch/package"
# shellcheck disable=SC2086
bash "$repo/scripts/cross/stage-package.sh" "$pkg" $platforms
bench_dir="${BENCH_DIR:-$scratch/bench}"
mkdir -p "$bench_dir" "$repo/bench/results"

for platform in $platforms; do
  json="$scratch/$platform.json"
  start=$SECONDS
  case "$platform" in
    linux-x64)
      node "$pkg/dist/bench/cli.js" bench "$bench_dir" --quick --json "$json" >"$scratch/$platform.out" 2>&1
      emulation='null'
      suffix=""
      ;;
    linux-arm64)
      qemu-aarch64-static -L /usr/aarch64-linux-gnu "$CROSS_ARM_NODE" "$pkg/dist/bench/cli.js" bench "$bench_dir" \
        --quick --json "$json" >"$scratch/$platform.out" 2>&1
      version="$(qemu-aarch64-static --version | head -1 | awk '{print $3}')"
      emulation="{\"by\": \"qemu-user\", \"version\": \"$version\", \"note\": \"linux-arm64 node and addon run by qemu-aarch64-static (user-mode CPU emulation) on an x86_64 host: syscalls are the host kernel's, but every instruction is translated, so latencies include the emulator's overhead and say nothing about a real arm64 machine\"}"
      suffix="-qemu"
      ;;
    win32-x64)
      # Node under Wine cannot write to a pipe: output goes to files.
      WINEPREFIX="$CROSS_WINEPREFIX" WINEDEBUG=-all wine "$CROSS_WIN_NODE" "Z:$pkg/dist/bench/cli.js" bench \
        "Z:$bench_dir" --quick --json "Z:$json" >"$scratch/$platform.out" 2>"$scratch/$platform.err" </dev/null
      version="$(wine --version 2>/dev/null | sed 's/^wine-//')"
      emulation="{\"by\": \"wine\", \"version\": \"$version\", \"note\": \"Windows node.exe and addon run by Wine on Linux: the CPU is native, but FlushFileBuffers is Wine's fsync(2) on ext4, not Windows' NTFS and storage stack; Wine 8 drops FILE_FLAG_WRITE_THROUGH (its open(2) has no O_DSYNC, seen with strace), so the O_DSYNC / O_SYNC / O_DIRECT|O_DSYNC rows are NOT durable writes here and their speed means nothing for Windows\"}"
      suffix="-wine"
      ;;
    *) echo "bench-all: unknown platform $platform" >&2; exit 2 ;;
  esac
  [ -s "$json" ] || { echo "bench-all: $platform wrote no JSON; its output:" >&2; cat "$scratch/$platform".* >&2; exit 1; }
  fs_type="$(node -p "require('$json').env.filesystem?.type || 'unknownfs'")"
  out="$repo/bench/results/$platform$suffix-$fs_type.json"
  node -e '
    const fs = require("fs");
    const [file, out, emulation] = process.argv.slice(1);
    const doc = JSON.parse(fs.readFileSync(file, "utf8"));
    doc.env.emulation = JSON.parse(emulation);
    fs.writeFileSync(out, JSON.stringify(doc, null, 2) + "\n");
  ' "$json" "$out" "$emulation"
  echo "bench-all: $platform -> ${out#"$repo"/} ($((SECONDS - start)) s)" >&2
done
