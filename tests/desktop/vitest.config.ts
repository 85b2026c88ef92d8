// The desktop smoke test (`npm run test:desktop`): the real Electron app driven by Playwright. Kept out
// of `npm test`, because the CI machines cannot get an Electron binary.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['tests/desktop/**/*.spec.ts'],
    globalSetup: ['tests/desktop/electronBinary.ts'],
    environment: 'node',
    testTimeout: 600_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    expect: { poll: { timeout: 30_000, interval: 100 } },
  },
});
