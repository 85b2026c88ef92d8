// Time per epoch of unet-vgg16 at 256², batch 2, on voc-mini's train split, in one run: the PyTorch engine
// with --nproc 1 and 2, and Segscope's own engine (wasm) at 2 threads; and the PyTorch engine's time from
// start to its first step, split into Segscope's preparing of the run, torch's import, the rendezvous and
// the rest (the target: under 10 s beyond torch's import). Runs the built CLI (npx electron-vite build first). Node process.
//   node bench/engine/torchEpoch.mjs [--epochs 2]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const cli = join(root, 'out/main/cli.js');
const dataset = resolve(root, '../shared/data/voc-mini/VOCdevkit');
const epochs = process.argv.includes('--epochs') ? process.argv[process.argv.indexOf('--epochs') + 1] : '2';
const common = [
  'train',
  '--dataset',
  dataset,
  '--year',
  '2012',
  '--model',
  'unet-vgg16',
  '--input-size',
  '256',
];
const rest = ['--batch', '2', '--epochs', epochs, '--no-val'];
const sides = [
  ['torch --nproc 1', ['--engine', 'torch', '--nproc', '1']],
  ['torch --nproc 2', ['--engine', 'torch', '--nproc', '2']],
  ['segscope wasm, 2 threads', ['--backend', 'wasm']],
];
for (const [name, args] of sides) {
  const out = mkdtempSync(join(tmpdir(), 'segscope-bench-'));
  const r = spawnSync(process.execPath, [cli, ...common, ...args, ...rest, '--out', join(out, 'run')], {
    encoding: 'utf8',
    env: { ...process.env, SEGSCOPE_WASM_THREADS: '2' },
  });
  rmSync(out, { recursive: true, force: true });
  if (r.status !== 0) {
    console.log(`${name}: failed (${r.status}): ${r.stderr.trim().split('\n').at(-1)}`);
    continue;
  }
  const times = [...r.stdout.matchAll(/^epoch \d+: .*\((\d+\.\d) s\)/gm)].map((m) => Number(m[1]));
  const first = /^first step after .*$/m.exec(r.stdout)?.[0];
  // The first epoch carries start-up work; the last is the steady figure.
  console.log(
    `${name}: epochs ${times.map((t) => `${t.toFixed(1)} s`).join(', ')}` + (first ? `; ${first}` : ''),
  );
}
