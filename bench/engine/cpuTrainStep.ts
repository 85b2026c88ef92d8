// One process's part of bench/engine/cpu.ts: `unet-vgg16` training steps on the wasm backend with the
// threads SEGSCOPE_WASM_THREADS gives (the backend starts once per process, so each thread count runs in
// a process of its own). Prints a JSON line when ready, then answers each request line on stdin
// (`{"op":"step"}`: one step's ms; `{"op":"profile"}`: ms per kernel over one step) with a JSON line.
//   SEGSCOPE_WASM_THREADS=2 node bench/run.mjs bench/engine/cpuTrainStep.ts --size 256 --batch 2
import { createInterface } from 'node:readline';
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../src/main/engine/backend';
import { maskedCrossEntropy } from '../../src/main/engine/loss';
import { getModelSpec } from '../../src/main/engine/models/registry';

function arg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

export async function main(args: string[]): Promise<void> {
  const size = arg(args, '--size', 256);
  const batch = arg(args, '--batch', 2);
  const classes = 21;
  const { reason } = await selectBackend('wasm');
  const model = getModelSpec('unet-vgg16').build({ numClasses: classes, inputSize: size, seed: 1 });
  const x = tf.randomNormal([batch, size, size, 3], 0, 50, 'float32', 1) as tf.Tensor4D;
  const y = tf.randomUniform([batch, size, size], 0, classes, 'int32', 2) as tf.Tensor3D;
  const optimizer = tf.train.adam(1e-4);
  const step = () => {
    const loss = optimizer.minimize(
      () => maskedCrossEntropy(model.apply(x, { training: true }) as tf.Tensor4D, y),
      true,
    );
    loss?.dataSync();
    loss?.dispose();
  };
  console.log(JSON.stringify({ threads: getThreadsCount(), reason }));
  for await (const line of createInterface({ input: process.stdin })) {
    const { op } = JSON.parse(line) as { op: string };
    if (op === 'step') {
      const t0 = performance.now();
      step();
      console.log(JSON.stringify({ ms: performance.now() - t0 }));
    } else if (op === 'profile') {
      const info = await tf.profile(step);
      const perKernel: Record<string, number> = {};
      for (const k of info.kernels) {
        const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
        perKernel[k.name] = (perKernel[k.name] ?? 0) + ms;
      }
      console.log(JSON.stringify({ perKernel }));
    } else throw new Error(`unknown op ${op}`);
  }
  process.exit(0);
}
