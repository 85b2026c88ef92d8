// Runs a TypeScript bench script in Node through vite's SSR module loader, because the repo has no
// standalone TypeScript runner (no tsx or vite-node) and Node 20 cannot strip types. Our sources are
// transformed; node_modules load natively. A script either does its work on import or exports
// `main(args)`, which is then called while the loader is still open (for its dynamic imports).
//   node bench/run.mjs <script.ts> [args…]
import { resolve } from 'node:path';
import { createServer } from 'vite';

const [script, ...args] = process.argv.slice(2);
if (!script) {
  console.error('usage: node bench/run.mjs <script.ts> [args…]');
  process.exit(2);
}
const server = await createServer({
  configFile: false,
  root: process.cwd(),
  logLevel: 'error',
  appType: 'custom',
  server: { middlewareMode: true, hmr: false, ws: false, watch: null },
  optimizeDeps: { noDiscovery: true, include: [] },
});
try {
  const mod = await server.ssrLoadModule(resolve(script));
  if (typeof mod.main === 'function') await mod.main(args);
} finally {
  await server.close();
}
