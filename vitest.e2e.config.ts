// End-to-end tests: the built app in Debian's Chromium over the browser transport, one file at a time.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/e2e/**/*.spec.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    // A real browser and server on a loaded 2-core machine: a UI change may take more than the default 1 s.
    expect: { poll: { timeout: 15_000, interval: 50 } },
  },
});
