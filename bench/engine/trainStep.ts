// Times one training step and one inference of a registry model on every backend that loads, and prints
// the figures. Runs in a plain Node process (node bench/run.mjs bench/engine/trainStep.ts).
//   --model unet-vgg16 --size 256 --batch 2 --steps 3 --classes 21 --cpu
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_ORDER, selectBackend, type BackendName } from '../../src/main/engine/backend';
import { maskedCrossEntropy } from '../../src/main/engine/loss';
import { getModelSpec } from '../../src/main/engine/models/registry';
import { median } from '../stats';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

interface Options {
  model: string;
  size: number;
  batch: number;
  steps: number;
  classes: number;
  cpu: boolean;
}

function parse(args: string[]): Options {
  const opts: Options = { model: 'unet-vgg16', size: 256, batch: 2, steps: 3, classes: 21, cpu: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    if (a === '--cpu') opts.cpu = true;
    else if (a === '--model' && v != null) {
      opts.model = v;
      i++;
    } else if ((a === '--size' || a === '--batch' || a === '--steps' || a === '--classes') && v != null) {
      opts[a.slice(2) as 'size' | 'batch' | 'steps' | 'classes'] = Number(v);
      i++;
    } else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

/** Medians in ms of a backend, or null when it did not load. */
interface Figures {
  train: number | null;
  infer: number;
}

async function benchBackend(name: BackendName, opts: Options): Promise<Figures | null> {
  let reason: string;
  try {
    const choice = await selectBackend(name);
    if (choice.adapter?.software) {
      console.log(`${name}: skipped: only a software adapter, for tests (bench/engine/gpu.ts --software)`);
      return null;
    }
    reason = choice.reason;
  } catch (err) {
    console.log(`${name}: skipped: ${(err as Error).message}`);
    return null;
  }
  const spec = getModelSpec(opts.model);
  const model = spec.build({ numClasses: opts.classes, inputSize: opts.size, seed: 1 });
  const { x, y } = tf.tidy(() => {
    const shape = [opts.batch, opts.size, opts.size];
    const labels = tf.randomUniform(shape, 0, opts.classes, 'int32', 2);
    const isVoid = tf.less(tf.randomUniform(shape, 0, 1, 'float32', 3), 0.05);
    // Some void pixels, as VOC labels have; an int32 blend avoids Select's mixed-dtype bug on wasm.
    const voidInt = tf.cast(isVoid, 'int32');
    return {
      x: tf.randomNormal([opts.batch, opts.size, opts.size, 3], 0, 50, 'float32', 1) as tf.Tensor4D,
      y: tf.add(tf.mul(labels, tf.sub(1, voidInt)), tf.mul(voidInt, 255)) as tf.Tensor3D,
    };
  });
  const optimizer = tf.train.adam(1e-4);
  // Read asynchronously: synchronous reads throw on webgpu in Node.
  const trainStep = async () => {
    const loss = optimizer.minimize(
      () => maskedCrossEntropy(model.apply(x, { training: true }) as tf.Tensor4D, y),
      true,
    );
    await loss?.data();
    loss?.dispose();
  };
  const infer = async () => {
    const out = model.predict(x) as tf.Tensor;
    await out.data();
    out.dispose();
  };
  const timed = async (f: () => Promise<void>) => {
    const t0 = performance.now();
    await f();
    return performance.now() - t0;
  };
  const repeat = async (n: number, f: () => Promise<void>) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(await timed(f));
    return out;
  };
  // With the cpu backend's plain JS kernels a single step takes many minutes: one inference only.
  const steps = name === 'cpu' ? 0 : opts.steps;
  const runs = name === 'cpu' ? 1 : opts.steps;
  try {
    const warm = name === 'cpu' ? [] : [await timed(trainStep), await timed(infer)];
    const train = await repeat(steps, trainStep);
    const inference = await repeat(runs, infer);
    console.log(`${name}: ${reason}`);
    if (warm.length)
      console.log(`  warm-up (first train step, first inference): ${warm.map(fmt).join(', ')}`);
    if (train.length) {
      console.log(
        `  train step: median ${fmt(median(train))} of ${train.length} [${train.map(fmt).join(', ')}]`,
      );
    } else console.log('  train step: not run on cpu (plain JS kernels; would take many minutes)');
    console.log(
      `  inference:  median ${fmt(median(inference))} of ${inference.length} [${inference.map(fmt).join(', ')}]`,
    );
    return { train: train.length ? median(train) : null, infer: median(inference) };
  } finally {
    optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  }
}

/** The same network in Debian's PyTorch, timed the same way in this run; null when torch is absent. */
function torchFigures(opts: Options): { train: number; infer: number; line: string } | null {
  const script = fileURLToPath(new URL('./torch_unet_vgg16.py', import.meta.url));
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
  } catch {
    console.log('pytorch: skipped: /usr/bin/python3 cannot import torch (apt-get install python3-torch)');
    return null;
  }
  const out = execFileSync(
    '/usr/bin/python3',
    [script, String(opts.size), String(opts.batch), String(opts.steps), String(opts.classes)],
    {
      encoding: 'utf8',
    },
  );
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as {
    torch: string;
    threads: number;
    params: number;
    train_ms: number;
    infer_ms: number;
  };
  return {
    train: r.train_ms,
    infer: r.infer_ms,
    line: `pytorch ${r.torch} (${r.threads} threads, ${r.params} params): train step median ${fmt(r.train_ms)}, inference median ${fmt(r.infer_ms)}`,
  };
}

export async function main(args: string[]): Promise<void> {
  const opts = parse(args);
  const cpu = os.cpus();
  console.log(
    `${opts.model}, input ${opts.size}×${opts.size}, batch ${opts.batch}, ${opts.classes} classes, ` +
      `Adam, masked cross-entropy; median of ${opts.steps} after one warm-up`,
  );
  console.log(`machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
  let fastest: { name: BackendName; figures: Figures } | null = null;
  for (const name of BACKEND_ORDER) {
    if (name === 'cpu' && !opts.cpu) {
      console.log(
        'cpu: skipped: plain JS kernels take minutes per step at this size (pass --cpu for one inference)',
      );
      continue;
    }
    const figures = await benchBackend(name, opts);
    if (figures && !fastest) fastest = { name, figures };
  }
  if (opts.model !== 'unet-vgg16') return;
  const torch = torchFigures(opts);
  if (!torch || !fastest) return;
  console.log(torch.line);
  const ratio = (ours: number | null, theirs: number) =>
    ours === null ? 'n/a' : `${(ours / theirs).toFixed(2)}×`;
  console.log(
    `${fastest.name} / pytorch: train step ${ratio(fastest.figures.train, torch.train)}, ` +
      `inference ${ratio(fastest.figures.infer, torch.infer)} (tfjs only; bench/engine/cpu.ts has ONNX Runtime and the targets)`,
  );
}
