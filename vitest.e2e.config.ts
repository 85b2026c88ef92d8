// End-to-end tests: the built app in Debian's Chromium, one file at a time. The `websocket` project
// drives the browser transport; the `bridge` project runs the UI again through the built preload
// under an emulated contextBridge (tests/e2e/bridge/), which structured-clones every value as
// Electron does, since Electron itself cannot run here.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    // A real browser and server on a loaded 2-core machine: a UI change may take more than the default 1 s.
    expect: { poll: { timeout: 15_000, interval: 50 } },
    projects: [
      {
        extends: true,
        test: {
          name: 'websocket',
          include: ['tests/e2e/**/*.spec.ts'],
          exclude: ['tests/e2e/bridge.spec.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'bridge',
          include: [
            'tests/e2e/bridge.spec.ts',
            'tests/e2e/editor.spec.ts',
            'tests/e2e/training.spec.ts',
            'tests/e2e/viewer.spec.ts',
          ],
          env: { SEGSCOPE_E2E_TRANSPORT: 'bridge' },
        },
      },
    ],
  },
});
