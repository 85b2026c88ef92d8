// Finds Electron's binary for the desktop smoke test, or says why it cannot run. Test process.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The binary's path when the electron package has downloaded it, else null. */
export function electronBinary(): string | null {
  try {
    const path = createRequire(import.meta.url)('electron') as unknown;
    return typeof path === 'string' && existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

/** vitest global setup: without a binary the run stops at once, non-zero, saying so. */
export default function setup(): void {
  if (!electronBinary()) {
    throw new Error(
      'Electron binary not available: run `node node_modules/electron/install.js` (it downloads Electron, ' +
        'about 100 MB) on a machine with a display, then `npm run test:desktop` again.',
    );
  }
}
