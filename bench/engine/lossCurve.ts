// The loss-curve check of issue 24: trains unet-small and fcn-resnet18 on voc-mini through the engine's
// own `train` (wasm, convolutions on ONNX Runtime, augmentation on, seed 1) and compares every batch loss
// with the curve recorded before the speed work (lossCurve.voc-mini.json), to 1e-4. A change that makes
// the step faster must not change what it computes. Runs in a plain Node process started as the engine is:
//   MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1099511627776 node bench/run.mjs bench/engine/lossCurve.ts
//     [--record]   (writes the file instead of comparing; only for a deliberate change of the curve)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { selectBackend } from '../../src/main/engine/backend';
import { train } from '../../src/main/engine/train';
import { DEFAULT_TRAIN_SETTINGS, type TrainSettings } from '../../src/shared/training';
import { vocColormap, VOC_CLASS_NAMES } from '../../src/shared/voc';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const VOC = join(HERE, '..', '..', '..', 'shared', 'data', 'voc-mini', 'VOCdevkit', 'VOC2012');
const IDS = ['2007_000032', '2007_000033', '2011_000003', '2011_000006', '2011_000025'];
const RECORD = join(HERE, 'lossCurve.voc-mini.json');
const TOLERANCE = 1e-4;

const RUNS: Record<string, Partial<TrainSettings>> = {
  'unet-small': { model: 'unet-small', inputSize: 128, batchSize: 2, lr: 1e-3, epochs: 3 },
  'fcn-resnet18': { model: 'fcn-resnet18', inputSize: 128, batchSize: 2, lr: 1e-4, epochs: 2 },
};

async function losses(settings: Partial<TrainSettings>): Promise<number[]> {
  const dir = mkdtempSync(join(os.tmpdir(), 'segscope-losscurve-'));
  try {
    const runDir = join(dir, 'run');
    await train(
      {
        settings: { ...DEFAULT_TRAIN_SETTINGS, backend: 'wasm', seed: 1, ...settings },
        datasetRoot: VOC,
        labelDir: 'SegmentationClass',
        classNames: [...VOC_CLASS_NAMES],
        colormap: [...vocColormap()],
        trainIds: IDS,
        valIds: IDS.slice(0, 2),
        imageFiles: Object.fromEntries(IDS.map((id) => [id, `${id}.jpg`])),
        runDir,
        resume: false,
      },
      { progress: () => {}, cancelled: () => false, backend: 'wasm' },
    );
    return readFileSync(join(runDir, 'steps.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .flatMap((l) => (JSON.parse(l) as { losses: number[] }).losses);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(args: string[]): Promise<void> {
  const { reason } = await selectBackend('wasm');
  console.log(`backend: ${reason}`);
  const got: Record<string, number[]> = {};
  for (const [name, settings] of Object.entries(RUNS)) got[name] = await losses(settings);
  if (args.includes('--record')) {
    writeFileSync(RECORD, JSON.stringify(got, null, 2) + '\n');
    console.log(`recorded ${RECORD}`);
    return;
  }
  const recorded = JSON.parse(readFileSync(RECORD, 'utf8')) as Record<string, number[]>;
  let ok = true;
  for (const [name, now] of Object.entries(got)) {
    const before = recorded[name] ?? [];
    const worst = Math.max(...now.map((l, i) => Math.abs(l - (before[i] ?? NaN)) / Math.max(1, Math.abs(l))));
    const same = now.length === before.length && worst <= TOLERANCE;
    ok &&= same;
    console.log(
      `${name}: ${now.length} batch losses, largest difference from the recorded curve ${worst.toExponential(2)} ` +
        `(≤ ${TOLERANCE}: ${same ? 'unchanged' : 'CHANGED'}); first ${now[0]?.toFixed(6)}, last ${now.at(-1)?.toFixed(6)}`,
    );
  }
  if (!ok) process.exitCode = 1;
}
