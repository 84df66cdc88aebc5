import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Before any test file: rebuild dist/ and the addon if their sources changed, so every run
    // (npm test, npx vitest run test/x.test.ts, watch) tests the code in front of it.
    globalSetup: ['test/helpers/build-fresh.ts'],
    // Each test file in its own process: a native addon is safest that way, and tests that
    // change umask, spawn strace or mount filesystems cannot disturb each other.
    pool: 'forks',
    // Two at a time: the machine has 2 cores and most files wait on disks, strace or FUSE.
    maxWorkers: 2,
    minWorkers: 1,
    // Three times longer against the sanitized addon (scripts/asan/run.sh), where every node
    // process a test starts runs several times slower.
    testTimeout: process.env.HARDSYNC_SANITIZED === '1' ? 180_000 : 60_000,
    hookTimeout: 240_000,
    // CI reads the totals from the JSON report (.ci/run prints them as one plain line).
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    // HARDSYNC_TEST_RESULTS names another file, for the runs .ci/run makes per engine.
    outputFile: { json: process.env.HARDSYNC_TEST_RESULTS ?? '.vitest-results.json' },
  },
});
