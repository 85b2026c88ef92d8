// Times Segscope's wasm conv gradient kernels against the stock wasm kernel and the forward conv on
// VGG-sized layers, and prints the figures. Runs in a plain Node process:
//   node bench/run.mjs bench/engine/kernels.ts [--runs 3]
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/main/engine/backend';
import { registerWasmKernels } from '../../src/main/engine/kernels';
import {
  makeConv2dBackpropFilterConfig,
  type BackpropFilterMethod,
} from '../../src/main/engine/kernels/conv2dBackpropFilter';

type Shape4 = [number, number, number, number];

/** Layers of unet-vgg16 at 256×256, batch 2: [input, filter]. */
const LAYERS: [Shape4, Shape4][] = [
  [
    [2, 256, 256, 64],
    [3, 3, 64, 64],
  ],
  [
    [2, 128, 128, 128],
    [3, 3, 128, 128],
  ],
  [
    [2, 64, 64, 256],
    [3, 3, 256, 256],
  ],
  [
    [2, 32, 32, 512],
    [3, 3, 512, 512],
  ],
  [
    [2, 256, 256, 192],
    [3, 3, 192, 64],
  ],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** Median of `runs` timed calls after one untimed call (XNNPACK sets up its operator on first use). */
function time(runs: number, f: () => tf.Tensor): number {
  f().dispose();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const out = f();
    out.dataSync();
    ms.push(performance.now() - t0);
    out.dispose();
  }
  return median(ms);
}

function withFilterMethod<T>(method: BackpropFilterMethod, fn: () => T): T {
  tf.unregisterKernel(tf.Conv2DBackpropFilter, 'wasm');
  tf.registerKernel(makeConv2dBackpropFilterConfig(method));
  try {
    return fn();
  } finally {
    tf.unregisterKernel(tf.Conv2DBackpropFilter, 'wasm');
    registerWasmKernels();
  }
}

export async function main(args: string[]): Promise<void> {
  const runs = args[0] === '--runs' ? Number(args[1]) : 3;
  // The stock kernel is captured before Segscope's replaces it.
  await import('@tensorflow/tfjs-backend-wasm');
  const stockInput = tf.getKernel(tf.Conv2DBackpropInput, 'wasm');
  const choice = await selectBackend('wasm');
  if (stockInput == null) throw new Error('no stock wasm Conv2DBackpropInput');
  const oursInput = tf.getKernel(tf.Conv2DBackpropInput, 'wasm');
  if (oursInput == null || oursInput === stockInput) throw new Error('Segscope kernels not installed');
  console.log(`wasm: ${choice.reason}`);
  console.log(`median ms of ${runs} after a warm-up call (stock Conv2DBackpropInput: 1 run)`);
  console.log('layer (x → filter)                      forward  dx stock  dx ours  dW conv  dW matmul');
  for (const [xs, fs] of LAYERS) {
    const x = tf.randomNormal(xs) as tf.Tensor4D;
    const f = tf.randomNormal(fs) as tf.Tensor4D;
    const dy = tf.randomNormal([xs[0], xs[1], xs[2], fs[3]]) as tf.Tensor4D;
    const dx = () => tf.conv2dTranspose(dy, f, xs, 1, 'same');
    const dW = () =>
      tf
        .engine()
        .runKernel(
          tf.Conv2DBackpropFilter,
          { x, dy },
          { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: fs },
        ) as tf.Tensor;
    const forward = time(runs, () => tf.conv2d(x, f, 1, 'same'));
    const ours = time(runs, dx);
    tf.unregisterKernel(tf.Conv2DBackpropInput, 'wasm');
    tf.registerKernel(stockInput);
    let stock: number;
    try {
      stock = time(1, dx);
    } finally {
      tf.unregisterKernel(tf.Conv2DBackpropInput, 'wasm');
      tf.registerKernel(oursInput);
    }
    const byConv = withFilterMethod('conv', () => time(runs, dW));
    const byMatmul = withFilterMethod('matmul', () => time(runs, dW));
    const label = `${JSON.stringify(xs)} → ${JSON.stringify(fs)}`.padEnd(40);
    const cols = [forward, stock, ours, byConv, byMatmul].map((v) => v.toFixed(0).padStart(8));
    console.log(`${label}${cols.join(' ')}`);
    tf.dispose([x, f, dy]);
  }
}
