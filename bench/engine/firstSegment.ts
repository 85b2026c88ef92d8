// The viewer's first segmentation of a checkpoint that training has just saved (issue 24: under 1 s at
// 256²). Training exports best's ONNX graph when it saves best (train.ts), so the first segmentation pays
// only for what the engine's `segment` request does with a cached export: load the tfjs checkpoint (kept
// for Grad-CAM), stat the export, start an ONNX Runtime session, decode one VOC image and segment it.
// The export at save time is timed separately. Runs in a plain Node process started as the engine is:
//   MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1099511627776 node bench/run.mjs bench/engine/firstSegment.ts
//     [--models unet-small,unet-vgg16] [--size 256] [--repeats 3]
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { selectBackend } from '../../src/main/engine/backend';
import { readRgb } from '../../src/main/engine/data/samples';
import { segment } from '../../src/main/engine/infer';
import { loadCheckpoint, saveCheckpoint } from '../../src/main/engine/io/checkpoint';
import { getModelSpec, type ModelId } from '../../src/main/engine/models/registry';
import { cachedOnnx } from '../../src/main/engine/onnx/checkpointOnnx';
import { createOrtModel, ortStatus } from '../../src/main/engine/onnx/runtime';
import { DEFAULT_TRAIN_SETTINGS, type TrainJob } from '../../src/shared/training';
import { vocColormap, VOC_CLASS_NAMES } from '../../src/shared/voc';
import { median } from '../stats';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const VOC_IMAGES = join(
  HERE,
  '..',
  '..',
  '..',
  'shared',
  'data',
  'voc-mini',
  'VOCdevkit',
  'VOC2012',
  'JPEGImages',
);

const opt = (args: string[], name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : fallback;
};
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** A run folder with a freshly initialised checkpoint as `best`, as training leaves it. */
async function freshRun(dir: string, model: ModelId, size: number): Promise<string> {
  const runDir = join(dir, `${model}-${Math.random().toString(36).slice(2)}`);
  const job: TrainJob = {
    settings: { ...DEFAULT_TRAIN_SETTINGS, model, inputSize: size },
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
  const m = getModelSpec(model).build({ numClasses: VOC_CLASS_NAMES.length, inputSize: size, seed: 1 });
  await saveCheckpoint(m, join(runDir, 'checkpoints', 'best'));
  m.dispose();
  return runDir;
}

export async function main(args: string[]): Promise<void> {
  const models = opt(args, '--models', 'unet-small,unet-vgg16').split(',') as ModelId[];
  const size = Number(opt(args, '--size', '256'));
  const repeats = Number(opt(args, '--repeats', '3'));
  const image = join(VOC_IMAGES, readdirSync(VOC_IMAGES).filter((f) => f.endsWith('.jpg'))[0]!);
  await selectBackend('wasm');
  const status = await ortStatus();
  if (!status.available) throw new Error(`ONNX Runtime is not available: ${status.reason}`);
  console.log(`machine: ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(2)}; ${image}`);
  const work = mkdtempSync(join(os.tmpdir(), 'segscope-first-'));
  try {
    for (const model of models) {
      const exports: number[] = [];
      const firsts: number[] = [];
      const parts: { load: number; session: number; segment: number }[] = [];
      // One untimed round warms the process (module loading, ONNX Runtime's first session).
      for (let r = 0; r <= repeats; r++) {
        const runDir = await freshRun(work, model, size);
        const t0 = performance.now();
        await cachedOnnx(runDir, 'best'); // what training does when it saves best
        const t1 = performance.now();
        // The engine's segment request on a checkpoint it has not loaded (worker.ts cachedPredictor).
        const { model: tfModel } = await loadCheckpoint(join(runDir, 'checkpoints', 'best'));
        const tl = performance.now();
        const ort = await createOrtModel(await cachedOnnx(runDir, 'best'), status);
        const ts = performance.now();
        const seg = await segment(
          { model: tfModel, ort, inputSize: size, normalization: getModelSpec(model).normalization },
          await readRgb(image),
        );
        const t2 = performance.now();
        if (seg.labels.length === 0) throw new Error('empty segmentation');
        tfModel.dispose();
        await ort.release();
        if (r > 0) {
          exports.push(t1 - t0);
          firsts.push(t2 - t1);
          parts.push({ load: tl - t1, session: ts - tl, segment: t2 - ts });
        }
      }
      const m = median(firsts);
      console.log(
        `${model} ${size}²: export at save ${fmt(median(exports))} [${exports.map(fmt).join(', ')}]; ` +
          `first segmentation ${fmt(m)} [${firsts.map(fmt).join(', ')}] (target < 1 s: ${m < 1000 ? 'met' : 'missed'})`,
      );
      const part = (k: keyof (typeof parts)[number]) => fmt(median(parts.map((p) => p[k])));
      console.log(
        `  of which: tfjs checkpoint load ${part('load')}, ONNX Runtime session ${part('session')}, ` +
          `decode and segment ${part('segment')}`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
