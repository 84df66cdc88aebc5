#!/usr/bin/env bash
# npm run test:asan: builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer (clang,
# from a copy of the sources in its own directory, so build/Release is never touched), then
# runs the vitest suite against it (HARDSYNC_NATIVE) with the ASan runtime preloaded into Node.
# Any sanitizer report fails the run, also one printed by a child process that a test spawned.
#
#   bash scripts/asan/run.sh [vitest args...]      e.g. bash scripts/asan/run.sh test/fuzz.test.ts
#   bash scripts/asan/run.sh --ci-tests [vitest args...]
#                                                 the files scripts/asan/ci-tests.txt lists: what
#                                                 .ci/run runs on every submission
#
# Reports: every sanitized process (the addon's tests and the node children they spawn, which
# inherit the preload) writes its report to a file under $build_dir/reports (ASan's log_path),
# so a report from a child whose output a test keeps to itself fails the run all the same.
#
# Needs Debian's clang and its runtime (apt-get install clang libclang-rt-14-dev; the clang-NN
# and libclang-rt-NN-dev pair of another version works the same). HARDSYNC_ASAN_DIR sets the
# build directory (default: $TMPDIR/hardsync-asan-$UID).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build_dir="${HARDSYNC_ASAN_DIR:-${TMPDIR:-/tmp}/hardsync-asan-$(id -u)}"
log="$build_dir/vitest.log"
reports="$build_dir/reports"

if [[ "${1:-}" == "--ci-tests" ]]; then
  shift
  # One path or glob per line, relative to the repository; '#' starts a comment. A line that
  # matches no file is an error, so a renamed test cannot silently drop out of the run.
  files=()
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%%#*}"
    read -r line <<<"$line" || true
    [[ -z "$line" ]] && continue
    matched=()
    while IFS= read -r file; do matched+=("$file"); done < <(cd "$root" && compgen -G "$line" || true)
    if [[ ${#matched[@]} -eq 0 ]]; then
      echo "test:asan: scripts/asan/ci-tests.txt: no test file matches $line" >&2
      exit 2
    fi
    files+=("${matched[@]}")
  done <"$root/scripts/asan/ci-tests.txt"
  set -- "${files[@]}" "$@"
  echo "test:asan: ${#files[@]} files from scripts/asan/ci-tests.txt: ${files[*]}"
fi

CC="${CC:-clang}"
CXX="${CXX:-clang++}"
if ! command -v "$CXX" >/dev/null; then
  echo "test:asan: $CXX not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi
runtime="$("$CXX" -print-file-name="libclang_rt.asan-$(uname -m).so")"
if [[ ! -f "$runtime" ]]; then
  echo "test:asan: the ASan runtime of $CXX is missing (apt-get install libclang-rt-14-dev, matching clang's version)" >&2
  exit 2
fi

# A fresh copy of what binding.gyp compiles; node_modules is linked for node-addon-api.
mkdir -p "$build_dir"
rm -rf "$build_dir/native" "$build_dir/build"
cp -R "$root/native" "$build_dir/native"
cp "$root/binding.gyp" "$build_dir/binding.gyp"
ln -sfn "$root/node_modules" "$build_dir/node_modules"

# -fno-sanitize-recover: UBSan aborts at the first report instead of printing and going on.
# -shared-libasan: the addon links the runtime that LD_PRELOAD puts first into node.
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
node_gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
if [[ ! -f "$node_gyp" ]]; then node_gyp="$(command -v node-gyp)"; fi
nodedir=()
# Use the installed headers when node has them (no download); else node-gyp fetches its own.
if [[ -f "$(dirname "$(command -v node)")/../include/node/node_api.h" ]]; then
  nodedir=(--nodedir="$(cd "$(dirname "$(command -v node)")/.." && pwd)")
fi
echo "test:asan: building $build_dir/build/Release/hardsync.node with $("$CXX" --version | head -1)"
(
  cd "$build_dir"
  CC="$CC" CXX="$CXX" CFLAGS="$sanitize" CXXFLAGS="$sanitize" LDFLAGS="-fsanitize=address,undefined -shared-libasan" \
    node "$node_gyp" rebuild "${nodedir[@]}" -j 2 >"$build_dir/build.log" 2>&1
) || { cat "$build_dir/build.log" >&2; exit 1; }
addon="$build_dir/build/Release/hardsync.node"
if [[ "$(nm -D "$addon" | grep -c __asan_)" -eq 0 ]]; then
  echo "test:asan: $addon is not instrumented" >&2
  exit 1
fi

# The dist/ JavaScript is the code under test too; the suite imports it.
if [[ ! -f "$root/dist/lib/index.js" ]]; then (cd "$root" && npm run build:ts); fi

# detect_leaks=0: Node itself does not free everything at exit (test/leak.test.ts measures the
# addon's leaks instead). allocator_may_return_null: a failed nothrow new must return null as
# in a normal build.
rm -rf "$reports"
mkdir -p "$reports"
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:abort_on_error=0:halt_on_error=1:detect_odr_violation=0:log_path=$reports/report"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export HARDSYNC_NATIVE="$addon"
export HARDSYNC_SANITIZED=1
echo "test:asan: running vitest with LD_PRELOAD=$runtime HARDSYNC_NATIVE=$addon"
set +e
(cd "$root" && LD_PRELOAD="$runtime" node node_modules/vitest/vitest.mjs run "$@") 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# A report file holds an error, or only a warning (the runtime's remarks on a process it cannot
# fully watch): the errors fail the run, the warnings are shown.
pattern='ERROR: AddressSanitizer|runtime error:|ERROR: UndefinedBehaviorSanitizer|ERROR: LeakSanitizer'
failed_reports=()
for file in "$reports"/report.*; do
  [[ -e "$file" ]] || continue
  if grep -qE "$pattern" "$file"; then failed_reports+=("$file"); else echo "test:asan: sanitizer warning, not an error ($file):" && head -5 "$file"; fi
done
if [[ ${#failed_reports[@]} -gt 0 ]] || grep -qE "$pattern" "$log"; then
  for file in "${failed_reports[@]}"; do
    echo "test:asan: report $file:" >&2
    head -60 "$file" >&2
  done
  echo "test:asan: FAILED: a sanitizer reported an error (${#failed_reports[@]} report file(s) in $reports; vitest output in $log)" >&2
  exit 1
fi
if [[ "$status" -ne 0 ]]; then
  echo "test:asan: FAILED: vitest exited with $status (see $log)" >&2
  exit "$status"
fi
echo "test:asan: passed: no sanitizer report, vitest exit 0"
