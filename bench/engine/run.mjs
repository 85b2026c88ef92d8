// Runs a TypeScript bench script with what is installed (there is no tsx): vite's SSR module runner
// transforms the script and our sources, and leaves node_modules to Node. Runs in a plain Node process.
//   node bench/engine/run.mjs bench/engine/trainStep.ts [args...]
// The script exports `main(args: string[]): Promise<void>`.
import path from 'node:path';
import { createServer } from 'vite';

const [script, ...args] = process.argv.slice(2);
if (script == null) {
  console.error('usage: node bench/engine/run.mjs <script.ts> [args...]');
  process.exit(2);
}
const server = await createServer({
  configFile: false,
  root: process.cwd(),
  logLevel: 'error',
  appType: 'custom',
  server: { middlewareMode: true, hmr: false },
  optimizeDeps: { noDiscovery: true, include: [] },
});
try {
  const mod = await server.ssrLoadModule(path.resolve(script));
  if (typeof mod.main !== 'function') throw new Error(`${script} does not export main(args)`);
  await mod.main(args);
} finally {
  await server.close();
}
