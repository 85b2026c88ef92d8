#!/usr/bin/env node
// The `segscope` command: builds the app when the build is missing or older than the sources, then
// hands over to the CLI bundle.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'out', 'main', 'cli.js');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const src = join(root, 'src');
const stale = !existsSync(bundle) || (existsSync(src) && newestMtime(src) > statSync(bundle).mtimeMs);
if (stale) {
  const viteCli = join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js');
  const built = spawnSync(process.execPath, [viteCli, 'build'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (built.status !== 0) {
    console.error('segscope: the build failed; run `npm run build` to see why');
    process.exit(1);
  }
}
await import(pathToFileURL(bundle).href);
