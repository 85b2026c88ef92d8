import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    // Test files run side by side on 2 cores, where tfjs-wasm's threads only add contention (the overfit
    // test took 88 s on 2 threads against 49 s on 1). The threaded build has tests of its own, which set
    // SEGSCOPE_WASM_THREADS in the processes they start.
    env: { SEGSCOPE_WASM_THREADS: '1' },
  },
});
