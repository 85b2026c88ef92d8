// Segscope on the CPU against Debian's PyTorch 1.13 at the same thread count, in one run:
// - `unet-vgg16` inference of one image at 256² and 512², Segscope through ONNX Runtime (its export);
// - one training step at 256², batch 2, Segscope on tfjs-wasm with its convolutions on ONNX Runtime, at
//   1, 2 and all threads (SEGSCOPE_ORT_THREADS), in a process started as the engine is (engineEnv.ts);
//   with --wasm-baseline, also on the wasm kernels alone (SEGSCOPE_ORT=off, one thread);
// - predicting a folder of 20 VOC images end to end (decode, letterbox, forward, softmax, crop, resize to
//   the image, argmax, write the palette PNG), Segscope's predictFiles through ONNX Runtime.
// Both sides run the same architecture at the same sizes and thread counts, and their runs alternate (ours,
// then PyTorch's, repeated), so that other work on a shared machine slows both alike; medians, and ratios
// measured in this run. Runs in a plain Node process:
//   node bench/run.mjs bench/engine/cpu.ts [--threads 2] [--repeats 3] [--folder-size 256] [--profile]
//     [--only train] [--wasm-baseline] [--plain-torch]
// PyTorch's side runs channels_last with inference_mode, without the machine's OPENBLAS_* pins
// (torch_cpu.py); --plain-torch runs it as this bench did before issue 24, to show the difference.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/main/engine/backend';
import { predictFiles } from '../../src/main/engine/infer';
import { saveCheckpoint } from '../../src/main/engine/io/checkpoint';
import { getModelSpec } from '../../src/main/engine/models/registry';
import { cachedOnnx } from '../../src/main/engine/onnx/checkpointOnnx';
import { engineEnvironment } from '../../src/main/services/engineEnv';
import { exportOnnx } from '../../src/main/engine/onnx/export';
import { createOrtModel, ortStatus } from '../../src/main/engine/onnx/runtime';
import { DEFAULT_TRAIN_SETTINGS, type TrainJob } from '../../src/shared/training';
import { vocColormap, VOC_CLASS_NAMES } from '../../src/shared/voc';
import { median } from '../stats';
import { LineServer } from './lineServer';

const CLASSES = 21;
const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '..', '..');
const VOC_IMAGES = join(ROOT, '..', 'shared', 'data', 'voc-mini', 'VOCdevkit', 'VOC2012', 'JPEGImages');

function arg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const fmtAll = (v: number[]) => v.map(fmt).join(', ');

/** One line of the closing table: our median, PyTorch's, and the target ratio. */
interface Row {
  work: string;
  ours: number;
  theirs: number;
  target: number;
}

let plainTorch = false;

/** The PyTorch twin at `threads` threads, serving requests. */
async function torchServer(threads: number): Promise<LineServer> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OMP_NUM_THREADS: String(threads),
    MKL_NUM_THREADS: String(threads),
  };
  // The machine pins OpenBLAS for other builds' sake; PyTorch's process alone drops the pins (as epoch.ts).
  if (!plainTorch) {
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
  }
  const server = new LineServer(
    '/usr/bin/python3',
    [join(HERE, 'torch_cpu.py'), String(threads), ...(plainTorch ? ['--plain'] : [])],
    env,
  );
  const hello = await server.ready;
  if (hello.threads !== threads) throw new Error(`PyTorch runs on ${String(hello.threads)} threads`);
  return server;
}

const ms = async (server: LineServer, body: Record<string, unknown>) =>
  (await server.request(body)).ms as number;

async function timedMs(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

/** Runs `ours` and `theirs` alternately `repeats` times after one warm-up each; their medians. */
async function alternate(
  repeats: number,
  ours: () => Promise<number>,
  theirs: () => Promise<number>,
  warm = true,
): Promise<{ ours: number; theirs: number; oursAll: number[]; theirsAll: number[] }> {
  if (warm) {
    await ours();
    await theirs();
  }
  const oursAll: number[] = [];
  const theirsAll: number[] = [];
  for (let i = 0; i < repeats; i++) {
    oursAll.push(await ours());
    theirsAll.push(await theirs());
  }
  return { ours: median(oursAll), theirs: median(theirsAll), oursAll, theirsAll };
}

async function ortModel(size: number, threads: number) {
  const model = getModelSpec('unet-vgg16').build({ numClasses: CLASSES, inputSize: size, seed: 1 });
  const bytes = exportOnnx(model, { producerVersion: 'bench', metadata: {} });
  model.dispose();
  const status = await ortStatus({ ...process.env, SEGSCOPE_ORT_THREADS: String(threads) });
  if (!status.available) throw new Error(`ONNX Runtime is not available: ${status.reason}`);
  return createOrtModel(bytes, status);
}

/** A run folder holding a random unet-vgg16 checkpoint at `size`, as training would leave it. */
async function benchRun(dir: string, size: number): Promise<string> {
  const runDir = join(dir, 'run');
  const job: TrainJob = {
    settings: { ...DEFAULT_TRAIN_SETTINGS, model: 'unet-vgg16', inputSize: size },
    datasetRoot: dir,
    labelDir: 'SegmentationClass',
    classNames: [...VOC_CLASS_NAMES],
    colormap: [...vocColormap()],
    trainIds: [],
    valIds: [],
    imageFiles: {},
    runDir,
    resume: false,
  };
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, 'config.json'), JSON.stringify(job));
  const model = getModelSpec('unet-vgg16').build({ numClasses: CLASSES, inputSize: size, seed: 1 });
  await saveCheckpoint(model, join(runDir, 'checkpoints', 'best'));
  model.dispose();
  return runDir;
}

/** `predict` of 20 VOC images (voc-mini's 5, four times) through ONNX Runtime, against PyTorch's twin. */
async function folderBench(
  py: LineServer,
  threads: number,
  repeats: number,
  folderSize: number,
): Promise<Row> {
  const work = mkdtempSync(join(os.tmpdir(), 'segscope-bench-'));
  try {
    const images = join(work, 'images');
    mkdirSync(images);
    const voc = readdirSync(VOC_IMAGES).filter((f) => f.endsWith('.jpg'));
    for (let copy = 0; copy < 4; copy++) {
      for (const f of voc) copyFileSync(join(VOC_IMAGES, f), join(images, `${copy}_${f}`));
    }
    const files = readdirSync(images)
      .sort()
      .map((f) => join(images, f));
    const runDir = await benchRun(work, folderSize);
    const t0 = performance.now();
    const onnx = await cachedOnnx(runDir, 'best');
    console.log(
      `export of the checkpoint (once per checkpoint, then cached): ${fmt(performance.now() - t0)}`,
    );
    const status = await ortStatus({ ...process.env, SEGSCOPE_ORT_THREADS: String(threads) });
    const segmenter = {
      ort: await createOrtModel(onnx, status),
      inputSize: folderSize,
      normalization: getModelSpec('unet-vgg16').normalization,
    };
    const colormap = vocColormap();
    // Each side's first pass is a warm-up of its own (session and allocator, PyTorch's primitives).
    const r = await alternate(
      Math.max(1, repeats - 1),
      () => timedMs(() => predictFiles(segmenter, files, join(work, 'ours'), colormap, false, () => {})),
      () => ms(py, { op: 'folder', size: folderSize, in: images, out: join(work, 'theirs') }),
    );
    await segmenter.ort.release();
    console.log(
      `folder of ${files.length} images: Segscope ${fmt(r.ours)} [${fmtAll(r.oursAll)}], ` +
        `PyTorch ${fmt(r.theirs)} [${fmtAll(r.theirsAll)}]`,
    );
    return {
      work: `folder of ${files.length} VOC images at ${folderSize}²`,
      ours: r.ours,
      theirs: r.theirs,
      target: 1.2,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export async function main(args: string[]): Promise<void> {
  const threads = arg(args, '--threads', 2);
  const repeats = arg(args, '--repeats', 3);
  const folderSize = arg(args, '--folder-size', 256);
  const profile = args.includes('--profile');
  const onlyTrain = args.includes('--only') && args[args.indexOf('--only') + 1] === 'train';
  const wasmBaseline = args.includes('--wasm-baseline');
  plainTorch = args.includes('--plain-torch');
  const cpu = os.cpus();
  console.log(`machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
  console.log(
    `unet-vgg16, ${CLASSES} classes; ${threads} threads on each side unless said; medians of ${repeats}`,
  );
  await selectBackend('wasm');
  const rows: Row[] = [];
  const py = await torchServer(threads);
  console.log(`PyTorch side: ${plainTorch ? 'plain (NCHW, no_grad, inherited environment)' : 'tuned'}`);
  try {
    for (const size of onlyTrain ? [] : [256, 512]) {
      const ort = await ortModel(size, threads);
      const input = Float32Array.from({ length: size * size * 3 }, (_, i) => ((i * 7919) % 255) - 128);
      const r = await alternate(
        repeats,
        () => timedMs(() => ort.run(input, [1, size, size, 3])),
        () => ms(py, { op: 'infer', size }),
      );
      await ort.release();
      rows.push({ work: `inference ${size}², 1 image`, ours: r.ours, theirs: r.theirs, target: 1.2 });
      console.log(
        `inference ${size}²: ONNX Runtime ${fmt(r.ours)} [${fmtAll(r.oursAll)}], ` +
          `PyTorch ${fmt(r.theirs)} [${fmtAll(r.theirsAll)}]`,
      );
    }

    if (!onlyTrain) rows.push(await folderBench(py, threads, repeats, folderSize));

    const counts = [...new Set([1, threads, os.availableParallelism()])].sort((a, b) => a - b);
    const configs: { n: number; env: NodeJS.ProcessEnv; label: string }[] = counts.map((n) => ({
      n,
      env: { SEGSCOPE_ORT_THREADS: String(n) },
      label: `${n} thread(s)`,
    }));
    if (wasmBaseline) {
      configs.unshift({
        n: 1,
        env: { SEGSCOPE_ORT: 'off', SEGSCOPE_WASM_THREADS: '1' },
        label: 'wasm kernels only, 1 thread',
      });
    }
    for (const { n, env, label } of configs) {
      const wasm = new LineServer(
        process.execPath,
        [join(ROOT, 'bench', 'run.mjs'), join(HERE, 'cpuTrainStep.ts'), '--size', '256', '--batch', '2'],
        engineEnvironment({ ...process.env, ...env }),
      );
      const baseline = env.SEGSCOPE_ORT === 'off';
      const peer = n === threads ? py : await torchServer(n);
      try {
        const { reason } = (await wasm.ready) as { reason: string };
        const r = await alternate(
          Math.max(1, repeats - 1),
          () => ms(wasm, { op: 'step' }),
          () => ms(peer, { op: 'train', size: 256, batch: 2 }),
        );
        console.log(
          `training step 256², batch 2, ${label}: Segscope ${fmt(r.ours)} [${fmtAll(r.oursAll)}], ` +
            `PyTorch ${fmt(r.theirs)} [${fmtAll(r.theirsAll)}] (${(r.ours / r.theirs).toFixed(2)}×); ${reason}`,
        );
        if (n === threads && !baseline) {
          rows.push({ work: 'training step 256², batch 2', ours: r.ours, theirs: r.theirs, target: 2.5 });
        }
        if (profile && n === threads && !baseline) {
          const { perKernel } = (await wasm.request({ op: 'profile' })) as {
            perKernel: Record<string, number>;
          };
          const total = Object.values(perKernel).reduce((a, b) => a + b, 0);
          console.log(`  where a ${n}-thread step's kernel time goes (${fmt(total)} in kernels):`);
          for (const [name, t] of Object.entries(perKernel)
            .sort((a, b) => b[1] - a[1])
            .slice(0, 12)) {
            console.log(`    ${name.padEnd(28)} ${fmt(t)} ${((100 * t) / total).toFixed(0)}%`);
          }
        }
      } finally {
        wasm.close();
        if (peer !== py) peer.close();
      }
    }
  } finally {
    py.close();
  }

  console.log(`\n| work (${threads} threads each) | Segscope | PyTorch 1.13 | ratio | target |`);
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    const ratio = r.ours / r.theirs;
    console.log(
      `| ${r.work} | ${fmt(r.ours)} | ${fmt(r.theirs)} | ${ratio.toFixed(2)}× | ≤ ${r.target}× ${ratio <= r.target ? 'met' : 'missed'} |`,
    );
  }
  tf.disposeVariables();
}
