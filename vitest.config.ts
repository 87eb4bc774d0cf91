import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Child-process and real-service suites share a 2-core machine; keep parallelism modest.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
