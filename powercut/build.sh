#!/bin/sh
# Builds the power-cut simulator: build.sh OUTPUT_BINARY
# Needs a C compiler, pkg-config and libfuse3's headers (Debian: gcc, pkg-config, libfuse3-dev).
# CC and CFLAGS are honoured (the tests add -Werror; a user's first build must not fail on a
# warning a newer compiler adds).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/../build/powercut/powercut-fs"}
mkdir -p "$(dirname "$out")"
# shellcheck disable=SC2046,SC2086
${CC:-cc} -std=gnu11 -O2 -g -Wall -Wextra ${CFLAGS:-} \
  $(pkg-config --cflags fuse3) "$here/powercut-fs.c" -o "$out.$$.tmp" $(pkg-config --libs fuse3)
mv "$out.$$.tmp" "$out"
