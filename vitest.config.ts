import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file in its own process: a native addon is safest that way, and tests that
    // change umask, spawn strace or mount filesystems cannot disturb each other.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
