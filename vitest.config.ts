import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A fixed fast-check seed (FC_SEED overrides it): property tests draw the same cases on every run.
    setupFiles: ['test/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores on CI: one fork per core keeps heavy model tests from starving each other.
    pool: 'forks',
    maxWorkers: 2,
  },
});
