// Builds the init script of the emulated-bridge e2e run: the emulation (bundled for the browser) and
// the built preload, wrapped as Node would wrap a CommonJS module. Runs in the test process.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

let script: Promise<string> | null = null;

async function bundleEmulation(): Promise<string> {
  const result = await build({
    configFile: false,
    logLevel: 'silent',
    root: ROOT,
    build: {
      write: false,
      minify: false,
      lib: {
        entry: join(ROOT, 'tests/e2e/bridge/emulation.ts'),
        formats: ['iife'],
        name: 'SegscopeBridgeEmulation',
      },
    },
  });
  const outputs = Array.isArray(result) ? result : [result];
  const chunk = outputs.flatMap((o) => ('output' in o ? o.output : [])).find((c) => c.type === 'chunk');
  if (!chunk || chunk.type !== 'chunk') throw new Error('the bridge emulation did not bundle');
  return chunk.code;
}

/** The script, once per test process; it needs `out/preload/index.cjs` from `electron-vite build`. */
export function bridgeScript(): Promise<string> {
  script ??= bundleEmulation().then((emulation) => {
    const preload = readFileSync(join(ROOT, 'out/preload/index.cjs'), 'utf8');
    // Concatenated, not eval'd: the page's CSP forbids eval, as the desktop app's does.
    return `${emulation}
(function () {
  const electron = SegscopeBridgeEmulation.emulatedElectron();
  const require = (id) => {
    if (id === 'electron') return electron;
    throw new Error('a sandboxed preload cannot require ' + id);
  };
  const module = { exports: {} };
  (function (require, module, exports) {
${preload}
  })(require, module, module.exports);
})();`;
  });
  return script;
}
