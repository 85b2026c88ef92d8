// Time per training epoch of the small models against their PyTorch twins (torch_epoch.py), on any
// VOC-layout folder (JPEGImages/ with PNG or JPEG images of any size, SegmentationClass/ with palette or
// grey labels, any number of classes), with the same letterbox, batch, Adam and loss, at the same thread
// count, with the step's time split by phase (data, forward, backward, update) and by kernel.
// Segscope's side runs in a child started as the engine is (engineEnv.ts), one per thread count; the two
// sides alternate (ours, then PyTorch's, repeated) so that a loaded machine slows both alike; medians.
//   node bench/run.mjs bench/engine/epoch.ts [--data DIR/VOC2012] [--models unet-small,fcn-resnet18]
//     [--size 128] [--batch 8] [--threads 2] [--repeats 3] [--images 64] [--plain-torch]
// An epoch covers the folder's labelled images, repeated up to --images (voc-mini has 5).
// Internal: `--worker` makes this process the Segscope side, answering JSON lines on stdin.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { selectBackend } from '../../src/main/engine/backend';
import { letterboxPair } from '../../src/main/engine/data/augment';
import { SampleCache } from '../../src/main/engine/data/samples';
import { maskedCrossEntropy } from '../../src/main/engine/loss';
import { getModelSpec, normalizeInput, type ModelId } from '../../src/main/engine/models/registry';
import { engineEnvironment } from '../../src/main/services/engineEnv';
import { decodeLabelPng } from '../../src/shared/labelPng';
import { vocColormap } from '../../src/shared/voc';
import { median } from '../stats';
import { LineServer } from './lineServer';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '..', '..');
const VOC_MINI = join(ROOT, '..', 'shared', 'data', 'voc-mini', 'VOCdevkit', 'VOC2012');

const opt = (args: string[], name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : fallback;
};
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

interface Folder {
  images: string[];
  labels: string[];
  classes: number;
}

/** The folder's labelled images (repeated up to `min`), and its class count from the labels' largest index. */
function readFolder(root: string, min: number): Folder {
  const labelDir = join(root, 'SegmentationClass');
  const imageDir = join(root, 'JPEGImages');
  const byStem = new Map(readdirSync(imageDir).map((f) => [f.replace(/\.(jpe?g|png)$/i, ''), f]));
  const pairs = readdirSync(labelDir)
    .filter((f) => f.endsWith('.png') && byStem.has(f.slice(0, -4)))
    .sort()
    .map((f) => ({ image: join(imageDir, byStem.get(f.slice(0, -4))!), label: join(labelDir, f) }));
  if (pairs.length === 0)
    throw new Error(`${root}: no image in JPEGImages/ has a label in SegmentationClass/`);
  let top = 0;
  const colormap = Uint8Array.from(vocColormap());
  for (const p of pairs) {
    for (const v of decodeLabelPng(readFileSync(p.label), { colormap }).indices)
      if (v !== 255 && v > top) top = v;
  }
  const all = [...pairs];
  while (all.length < min) all.push(pairs[all.length % pairs.length]!);
  return { images: all.map((p) => p.image), labels: all.map((p) => p.label), classes: top + 1 };
}

// ---- Segscope's side (the worker) ----

async function worker(): Promise<void> {
  const { reason } = await selectBackend('wasm');
  let folder: Folder | null = null;
  let cache: SampleCache | null = null;
  const models = new Map<string, { model: tfl.LayersModel; optimizer: tf.Optimizer }>();
  console.log(JSON.stringify({ reason }));
  for await (const line of createInterface({ input: process.stdin })) {
    const req = JSON.parse(line) as {
      op: string;
      model: ModelId;
      size: number;
      batch: number;
      folder: Folder;
    };
    if (req.op === 'setup') {
      folder = req.folder;
      const f = folder;
      cache = new SampleCache({
        imagePath: (id) => f.images[Number(id)]!,
        labelPath: (id) => f.labels[Number(id)]!,
        colormap: Uint8Array.from(vocColormap()),
      });
      for (let i = 0; i < f.images.length; i++) await cache.get(String(i));
      console.log(JSON.stringify({}));
      continue;
    }
    const spec = getModelSpec(req.model);
    const key = `${req.model} ${req.size} ${folder!.classes}`;
    if (!models.has(key)) {
      const model = spec.build({ numClasses: folder!.classes, inputSize: req.size, seed: 1 });
      models.set(key, { model, optimizer: tf.train.adam(1e-3) });
    }
    const { model, optimizer } = models.get(key)!;
    const n = folder!.images.length;
    const phases = { data: 0, forward: 0, backward: 0, update: 0, step: 0 };
    const perKernel: Record<string, number> = {};
    const t00 = performance.now();
    for (let i = 0; i < n; i += req.batch) {
      const t0 = performance.now();
      const ids = Array.from({ length: Math.min(req.batch, n - i) }, (_, k) => String(i + k));
      const samples = await Promise.all(ids.map((id) => cache!.get(id)));
      const pairs = samples.map((s) => letterboxPair(s.image, s.label, req.size));
      const s2 = req.size * req.size;
      const pixels = new Float32Array(pairs.length * s2 * 3);
      const ints = new Int32Array(pairs.length * s2);
      pairs.forEach((p, k) => {
        pixels.set(p.image, k * s2 * 3);
        ints.set(p.label!, k * s2);
      });
      const x = tf.tidy(() =>
        normalizeInput(tf.tensor4d(pixels, [pairs.length, req.size, req.size, 3]), spec.normalization),
      );
      const y = tf.tensor3d(ints, [pairs.length, req.size, req.size], 'int32');
      const t1 = performance.now();
      phases.data += t1 - t0;
      const lossOf = () => maskedCrossEntropy(model.apply(x, { training: true }) as tf.Tensor4D, y);
      if (req.op === 'profile') {
        // The phases one by one (a forward alone, then forward and backward, then the update), and the
        // kernels of one whole step; slower than a plain step, so only here.
        const f0 = performance.now();
        tf.tidy(() => lossOf().dataSync());
        const f1 = performance.now();
        const { value, grads } = tf.variableGrads(lossOf);
        value.dataSync();
        Object.values(grads)[0]?.dataSync();
        const f2 = performance.now();
        optimizer.applyGradients(grads);
        model.weights[0]!.read().dataSync();
        const f3 = performance.now();
        tf.dispose([value, ...Object.values(grads)]);
        phases.forward += f1 - f0;
        phases.backward += f2 - f1 - (f1 - f0);
        phases.update += f3 - f2;
        if (i === 0) {
          const info = await tf.profile(() => {
            const loss = optimizer.minimize(lossOf, true);
            loss?.dataSync();
            loss?.dispose();
          });
          for (const k of info.kernels) {
            const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
            perKernel[k.name] = (perKernel[k.name] ?? 0) + ms;
          }
        }
      } else {
        const loss = optimizer.minimize(lossOf, true);
        loss?.dataSync();
        loss?.dispose();
        phases.step += performance.now() - t1;
      }
      tf.dispose([x, y]);
    }
    console.log(JSON.stringify({ ms: performance.now() - t00, phases, perKernel }));
  }
  process.exit(0);
}

// ---- the driver ----

interface Answer {
  ms: number;
  phases: Record<string, number>;
  perKernel?: Record<string, number>;
}

function torchServer(threads: number, plain: boolean): LineServer {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads) };
  // This machine pins OpenBLAS to Haswell kernels for old builds' sake (see /work/.library/env); PyTorch
  // runs best with its own choice, so only its process drops them (unless the bench runs --plain-torch).
  if (!plain) {
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
  }
  const args = [join(HERE, 'torch_epoch.py'), String(threads), ...(plain ? ['--plain'] : [])];
  return new LineServer('/usr/bin/python3', args, env);
}

async function driver(args: string[]): Promise<void> {
  const data = opt(args, '--data', VOC_MINI);
  const models = opt(args, '--models', 'unet-small,fcn-resnet18,deeplabv3-resnet18').split(',') as ModelId[];
  const size = Number(opt(args, '--size', '128'));
  const batch = Number(opt(args, '--batch', '8'));
  const threads = Number(opt(args, '--threads', '2'));
  const repeats = Number(opt(args, '--repeats', '3'));
  const plain = args.includes('--plain-torch');
  if (!existsSync(data)) throw new Error(`${data}: no such folder`);
  const folder = readFolder(data, Number(opt(args, '--images', '64')));
  const cpu = os.cpus();
  console.log(
    `machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, load ${os.loadavg()[0]!.toFixed(2)}`,
  );
  console.log(
    `${data}: an epoch of ${folder.images.length} images, ${folder.classes} classes; ${size}², batch ${batch}, ` +
      `Adam; medians of ${repeats} epochs after one warm-up epoch`,
  );
  const rows: string[] = [];
  const perThreads: Record<string, Record<number, [number, number]>> = {};
  for (const n of [...new Set([1, threads])].sort((a, b) => b - a)) {
    const ours = new LineServer(
      process.execPath,
      [join(ROOT, 'bench', 'run.mjs'), join(HERE, 'epoch.ts'), '--worker'],
      engineEnvironment({ ...process.env, SEGSCOPE_ORT_THREADS: String(n) }),
    );
    const theirs = torchServer(n, plain);
    try {
      const { reason } = (await ours.ready) as { reason: string };
      const hello = await theirs.ready;
      console.log(`\n${n} thread(s). Segscope: ${reason}. PyTorch: ${JSON.stringify(hello)}`);
      await ours.request({ op: 'setup', folder });
      await theirs.request({ op: 'setup', images: folder.images, labels: folder.labels });
      for (const model of models) {
        const req = { model, size, batch, classes: folder.classes };
        await ours.request({ op: 'epoch', ...req });
        await theirs.request({ op: 'epoch', ...req });
        const a: Answer[] = [];
        const b: Answer[] = [];
        for (let r = 0; r < repeats; r++) {
          a.push((await ours.request({ op: 'epoch', ...req })) as unknown as Answer);
          b.push((await theirs.request({ op: 'epoch', ...req })) as unknown as Answer);
        }
        const mo = median(a.map((x) => x.ms));
        const mt = median(b.map((x) => x.ms));
        (perThreads[model] ??= {})[n] = [mo, mt];
        console.log(
          `${model}: Segscope ${fmt(mo)} [${a.map((x) => fmt(x.ms)).join(', ')}], PyTorch ${fmt(mt)} ` +
            `[${b.map((x) => fmt(x.ms)).join(', ')}]: ${(mo / mt).toFixed(2)}×`,
        );
        const tp = b[b.length >> 1]!.phases;
        console.log(
          `  PyTorch by phase: ${Object.entries(tp)
            .map(([k, v]) => `${k} ${fmt(v)}`)
            .join(', ')}`,
        );
        if (n === threads) {
          rows.push(
            `| ${model} ${size}², batch ${batch} | ${fmt(mo)} | ${fmt(mt)} | ${(mo / mt).toFixed(2)}× |`,
          );
          const p = (await ours.request({ op: 'profile', ...req })) as unknown as Answer;
          const { data: d, forward, backward, update } = p.phases;
          console.log(
            `  Segscope by phase (a profiled epoch): data ${fmt(d!)}, forward ${fmt(forward!)}, ` +
              `backward ${fmt(backward!)}, update ${fmt(update!)}`,
          );
          const total = Object.values(p.perKernel ?? {}).reduce((s, v) => s + v, 0);
          const top = Object.entries(p.perKernel ?? {})
            .sort((x, y) => y[1] - x[1])
            .slice(0, 10);
          console.log(`  Segscope's kernels over one step (${fmt(total)}):`);
          for (const [k, v] of top)
            console.log(`    ${k.padEnd(28)} ${fmt(v)} ${((100 * v) / total).toFixed(0)}%`);
        }
      }
    } finally {
      ours.close();
      theirs.close();
    }
  }
  console.log(`\n| epoch (${threads} threads each) | Segscope | PyTorch 1.13 | ratio |`);
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(r);
  if (threads > 1) {
    for (const [model, t] of Object.entries(perThreads)) {
      const [o1, t1] = t[1]!;
      const [on, tn] = t[threads]!;
      console.log(
        `scaling 1 → ${threads} threads, ${model}: Segscope ${(o1 / on).toFixed(2)}×, PyTorch ${(t1 / tn).toFixed(2)}×`,
      );
    }
  }
}

export async function main(args: string[]): Promise<void> {
  if (args.includes('--worker')) await worker();
  else await driver(args);
}
