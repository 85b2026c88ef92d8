// Listing models: `segscope models` (the built CLI, which reads the static catalog) against building
// every model at its smallest input, which is what listing cost before the catalog. Median of 5 CLI runs,
// one build pass (it takes seconds). Run after `npx electron-vite build`:
//   node bench/run.mjs bench/models.bench.ts
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { selectBackend } from '../src/main/engine/backend';
import { MODEL_IDS, MODELS } from '../src/main/engine/models/registry';
import { median, timeRuns } from './stats';

const CLI = fileURLToPath(new URL('../out/main/cli.js', import.meta.url));

export async function main(): Promise<void> {
  const cli = await timeRuns(5, () => {
    const r = spawnSync(process.execPath, [CLI, 'models'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`segscope models failed: ${r.stderr}`);
  });
  await selectBackend('wasm');
  const start = performance.now();
  for (const id of MODEL_IDS) {
    const spec = MODELS[id];
    spec.build({ numClasses: 21, inputSize: spec.sizeMultiple * 2 }).dispose();
  }
  const build = performance.now() - start;
  console.log(`segscope models (catalog), median of 5: ${median(cli).toFixed(0)} ms`);
  console.log(`building all ${MODEL_IDS.length} models on wasm, once: ${build.toFixed(0)} ms`);
  console.log(`ratio: ${(build / median(cli)).toFixed(1)}× faster`);
}
