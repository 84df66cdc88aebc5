import { defineConfig } from 'vitest/config';

// The benchmark of the benchmark (npm run bench:validate): minutes of real runs, not part of
// `npm test`. See test/validation/stats.validation.ts.
export default defineConfig({
  test: {
    include: ['test/validation/*.validation.ts'],
    // dist/ and the addon rebuilt first if their sources changed (see the helper).
    globalSetup: ['test/helpers/build-fresh.ts'],
    pool: 'forks',
    maxWorkers: 1,
    minWorkers: 1,
    testTimeout: 3_600_000,
    hookTimeout: 600_000,
  },
});
