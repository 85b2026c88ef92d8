// Bundles a TypeScript entry into one ES module with vite, so a test can run real source code in a
// plain `node` child process (to kill it mid-write, say). Dependencies stay external.
import { join, resolve } from 'node:path';
import { build } from 'vite';

const ROOT = resolve(__dirname, '../..');

/** Builds `entry` (relative to the repo) and resolves to the path of the bundle. */
export async function bundleForNode(entry: string): Promise<string> {
  // Inside the repo, so the bundle resolves node_modules as the sources do.
  const outDir = join(ROOT, 'node_modules', '.cache', 'segscope-tests');
  const name = entry.replace(/[^a-zA-Z0-9]+/g, '_');
  await build({
    configFile: false,
    logLevel: 'silent',
    root: ROOT,
    build: {
      ssr: resolve(ROOT, entry),
      outDir,
      emptyOutDir: false,
      minify: false,
      rollupOptions: { output: { format: 'es', entryFileNames: `${name}.mjs` } },
    },
  });
  return join(outDir, `${name}.mjs`);
}
