// Times one Grad-CAM against one forward-plus-backward pass of the same model on the same backend, in the
// same run, and prints the ratio (the target is ≤ 2: a CAM is one forward and one backward pass).
// Runs in a plain Node process:
//   node bench/run.mjs bench/engine/cam.ts [--model unet-vgg16] [--size 256] [--runs 5]
//     [--backend wasm] [--layer block5_conv3] [--method gradcam]
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, type BackendPreference } from '../../src/main/engine/backend';
import { computeCam } from '../../src/main/engine/cam';
import type { RgbImage } from '../../src/main/engine/data/samples';
import type { Predictor } from '../../src/main/engine/infer';
import { getModelSpec, normalizeInput } from '../../src/main/engine/models/registry';
import type { CamMethod } from '../../src/shared/engineProtocol';

interface Options {
  model: string;
  size: number;
  runs: number;
  backend: BackendPreference;
  layer: string | null;
  method: CamMethod;
}

function parse(args: string[]): Options {
  const opts: Options = {
    model: 'unet-vgg16',
    size: 256,
    runs: 5,
    backend: 'wasm',
    layer: null,
    method: 'gradcam',
  };
  for (let i = 0; i < args.length; i += 2) {
    const [a, v] = [args[i], args[i + 1]];
    if (v == null) throw new Error(`${a} needs a value`);
    if (a === '--model') opts.model = v;
    else if (a === '--size') opts.size = Number(v);
    else if (a === '--runs') opts.runs = Number(v);
    else if (a === '--backend') opts.backend = v as BackendPreference;
    else if (a === '--layer') opts.layer = v;
    else if (a === '--method') opts.method = v as CamMethod;
    else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A smooth colourful square image: something for the untrained model to disagree about. */
function syntheticImage(size: number): RgbImage {
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const o = (y * size + x) * 3;
      data[o] = (x * 255) / size;
      data[o + 1] = (y * 255) / size;
      data[o + 2] = 128 + 127 * Math.sin((x + y) / 20);
    }
  }
  return { width: size, height: size, data };
}

const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

export async function main(args: string[]): Promise<void> {
  const opts = parse(args);
  const choice = await selectBackend(opts.backend);
  const spec = getModelSpec(opts.model);
  const layer = opts.layer ?? spec.camLayer;
  const model = spec.build({ numClasses: 21, inputSize: opts.size, seed: 1 });
  const p: Predictor = { model, inputSize: opts.size, normalization: spec.normalization };
  const image = syntheticImage(opts.size);
  const x = tf.tidy(() =>
    normalizeInput(
      tf.tensor4d(Float32Array.from(image.data), [1, opts.size, opts.size, 3]),
      spec.normalization,
    ),
  );
  try {
    // The class with the most pixels in the (untrained) prediction, so the CAM has a target.
    const labelsT = tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor4D, -1));
    const histogram = new Array<number>(21).fill(0);
    for (const l of await labelsT.data()) histogram[l] = histogram[l]! + 1;
    labelsT.dispose();
    const classIndex = histogram.indexOf(Math.max(...histogram));

    const forwardBackward = async () => {
      const t0 = performance.now();
      const [g] = tf.grads((input: tf.Tensor) => tf.sum(model.apply(input) as tf.Tensor))([x]);
      await g!.data();
      g!.dispose();
      return performance.now() - t0;
    };
    const cam = async () => {
      const t0 = performance.now();
      await computeCam(p, image, { classIndex, layer, method: opts.method });
      return performance.now() - t0;
    };
    const warm = [await forwardBackward(), await cam()];
    const fb: number[] = [];
    const cams: number[] = [];
    // Interleaved, so that drift in the machine's speed hits both alike.
    for (let i = 0; i < opts.runs; i++) {
      fb.push(await forwardBackward());
      cams.push(await cam());
    }
    const cpu = os.cpus();
    console.log(
      `${opts.model}, input ${opts.size}×${opts.size}, batch 1; ${opts.method} of class ${classIndex} ` +
        `(${histogram[classIndex]} px) at ${layer}; median of ${opts.runs} after one warm-up`,
    );
    console.log(`machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
    console.log(`backend: ${choice.name} (${choice.reason})`);
    console.log(`  warm-up (forward+backward, CAM): ${warm.map(fmt).join(', ')}`);
    console.log(
      `  forward+backward (∂Σlogits/∂input): median ${fmt(median(fb))} [${fb.map(fmt).join(', ')}]`,
    );
    console.log(`  Grad-CAM (${layer}):  median ${fmt(median(cams))} [${cams.map(fmt).join(', ')}]`);
    console.log(`  ratio CAM / forward+backward: ${(median(cams) / median(fb)).toFixed(2)} (target ≤ 2)`);
  } finally {
    x.dispose();
    model.dispose();
  }
}
