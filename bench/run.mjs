// Runs a TypeScript bench script in Node through Vite's module runner, because the repo has no standalone
// TypeScript runner (no tsx or vite-node) and Node 20 cannot strip types. A script either does its work on
// import or exports `main(args)`, which is then called. Usage: node bench/run.mjs <file.ts> [args…]
import { resolve } from 'node:path';
import { runnerImport } from 'vite';

const script = process.argv[2];
if (!script) {
  console.error('usage: node bench/run.mjs <script.ts> [args…]');
  process.exit(2);
}
// No config file: the scripts need plain Node semantics, not the app's electron-vite build settings.
const { module } = await runnerImport(resolve(script), { configFile: false, logLevel: 'error' });
if (typeof module.main === 'function') await module.main(process.argv.slice(3));
