// The masked loss against hand-computed values, and training smoke tests on wasm with Segscope's kernels:
// a small U-Net overfits one batch, and FCN-8s and unet-vgg16 get finite, non-zero gradients everywhere.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { maskedCrossEntropy, softDiceLoss } from '../../../../src/main/engine/loss';
import { buildFcn } from '../../../../src/main/engine/models/fcn';
import { buildUNet } from '../../../../src/main/engine/models/unet';
import { buildUNetVgg16 } from '../../../../src/main/engine/models/unetVgg16';
import { use } from './helpers';

/** A 2×2 image, 3 classes: logits per pixel and labels, one pixel void. */
const PIXELS: { logits: [number, number, number]; label: number }[] = [
  { logits: [2, 1, 0], label: 0 },
  { logits: [0, 0, 0], label: 2 },
  { logits: [1, 3, 1], label: 255 },
  { logits: [0, 1, -1], label: 1 },
];

/** −log softmax(z)[label], in float64. */
function crossEntropy(z: readonly number[], label: number): number {
  const lse = Math.log(z.reduce((s, v) => s + Math.exp(v), 0));
  return lse - (z[label] ?? NaN);
}

function example(pixels = PIXELS): { logits: tf.Tensor4D; labels: tf.Tensor3D } {
  return {
    logits: tf.tensor4d(
      pixels.flatMap((p) => p.logits),
      [1, 2, 2, 3],
    ),
    labels: tf.tensor3d(
      pixels.map((p) => p.label),
      [1, 2, 2],
      'int32',
    ),
  };
}

describe('maskedCrossEntropy', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`averages over labelled pixels only, on ${backend}`, async () => {
      await use(backend);
      const labelled = PIXELS.filter((p) => p.label !== 255);
      const want = labelled.reduce((s, p) => s + crossEntropy(p.logits, p.label), 0) / labelled.length;
      // By hand: (ln(e²+e+1) − 2 + ln 3 + ln(1+e+1/e) − 1) / 3.
      expect(want).toBeCloseTo(0.637941, 6);
      tf.tidy(() => {
        const { logits, labels } = example();
        expect(maskedCrossEntropy(logits, labels).dataSync()[0]).toBeCloseTo(want, 5);
      });
    });
  }

  it('ignores the logits of void pixels and passes them no gradient', async () => {
    await use('wasm');
    tf.tidy(() => {
      const { logits, labels } = example();
      const changed = PIXELS.map((p) =>
        p.label === 255 ? { ...p, logits: [9, -4, 7] as [number, number, number] } : p,
      );
      const base = maskedCrossEntropy(logits, labels).dataSync()[0];
      expect(maskedCrossEntropy(example(changed).logits, labels).dataSync()[0]).toBe(base);
      const grad = tf.grad((z: tf.Tensor) => maskedCrossEntropy(z as tf.Tensor4D, labels))(logits);
      const g = tf.reshape(grad, [4, 3]).arraySync() as number[][];
      expect(g[2]?.map(Math.abs)).toEqual([0, 0, 0]);
      // Labelled pixels: (softmax − onehot) / 3, so each row sums to 0 and is non-zero.
      expect(g[0]?.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 6);
      expect(Math.abs(g[0]?.[0] ?? 0)).toBeGreaterThan(0.01);
    });
  });

  it('weights pixels by their class and divides by the total weight', async () => {
    await use('wasm');
    const w = [1, 2, 0.5];
    const labelled = PIXELS.filter((p) => p.label !== 255);
    const num = labelled.reduce((s, p) => s + (w[p.label] ?? NaN) * crossEntropy(p.logits, p.label), 0);
    const den = labelled.reduce((s, p) => s + (w[p.label] ?? NaN), 0);
    tf.tidy(() => {
      const { logits, labels } = example();
      const got = maskedCrossEntropy(logits, labels, tf.tensor1d(w)).dataSync()[0];
      expect(got).toBeCloseTo(num / den, 5);
      expect(got).not.toBeCloseTo(maskedCrossEntropy(logits, labels).dataSync()[0] ?? NaN, 2);
    });
  });

  it('is 0 when every pixel is void', async () => {
    await use('wasm');
    tf.tidy(() => {
      const { logits } = example();
      const labels = tf.fill([1, 2, 2], 255, 'int32') as tf.Tensor3D;
      expect(maskedCrossEntropy(logits, labels).dataSync()[0]).toBe(0);
    });
  });
});

describe('softDiceLoss', () => {
  it('is 1 − mean over classes of (2·Σpg + 1)/(Σp + Σg + 1) over labelled pixels', async () => {
    await use('wasm');
    const labelled = PIXELS.filter((p) => p.label !== 255);
    const inter = [0, 0, 0];
    const sizes = [0, 0, 0];
    for (const p of labelled) {
      const e = p.logits.map(Math.exp);
      const z = e.reduce((a, b) => a + b, 0);
      e.forEach((v, c) => {
        const prob = v / z;
        const g = c === p.label ? 1 : 0;
        inter[c] = (inter[c] ?? 0) + prob * g;
        sizes[c] = (sizes[c] ?? 0) + prob + g;
      });
    }
    const dice = inter.map((i, c) => (2 * i + 1) / ((sizes[c] ?? NaN) + 1));
    const want = 1 - dice.reduce((a, b) => a + b, 0) / 3;
    tf.tidy(() => {
      const { logits, labels } = example();
      expect(softDiceLoss(logits, labels).dataSync()[0]).toBeCloseTo(want, 5);
      const grad = tf.grad((z: tf.Tensor) => softDiceLoss(z as tf.Tensor4D, labels))(logits);
      const g = tf.reshape(grad, [4, 3]).arraySync() as number[][];
      expect(g[2]?.map(Math.abs)).toEqual([0, 0, 0]);
      expect(Math.abs(g[0]?.[0] ?? 0)).toBeGreaterThan(1e-3);
    });
  });

  it('is near 0 for a confident, correct prediction', async () => {
    await use('wasm');
    tf.tidy(() => {
      const labels = tf.tensor3d([0, 1, 2, 1], [1, 2, 2], 'int32');
      const logits = tf.mul(tf.oneHot(tf.reshape(labels, [-1]), 3), 30);
      const loss = softDiceLoss(tf.reshape(tf.cast(logits, 'float32'), [1, 2, 2, 3]) as tf.Tensor4D, labels);
      expect(loss.dataSync()[0]).toBeLessThan(1e-6);
    });
  });
});

/** Labels that are a per-pixel function of the input (argmax of its channels), with a void border. */
function learnableBatch(seed: number): { x: tf.Tensor4D; y: tf.Tensor3D } {
  return tf.tidy(() => {
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
    const cls = tf.cast(tf.argMax(x, -1), 'int32');
    const inside = tf.pad(tf.ones([2, 28, 28], 'int32'), [
      [0, 0],
      [2, 2],
      [2, 2],
    ]);
    const y = tf.add(tf.mul(cls, inside), tf.mul(tf.sub(1, inside), 255)) as tf.Tensor3D;
    return { x, y };
  });
}

describe('training on wasm', () => {
  it('overfits one batch with Adam: the loss falls at least 5× in 30 steps, with no tensor growth', async () => {
    await use('wasm');
    const model = buildUNet({ numClasses: 3, inputSize: 32, baseFilters: 16, depth: 2, seed: 1 });
    const { x, y } = learnableBatch(11);
    const optimizer = tf.train.adam(3e-3);
    const losses: number[] = [];
    let tensorsAfterFirst = 0;
    try {
      for (let step = 0; step < 30; step++) {
        const loss = optimizer.minimize(() => maskedCrossEntropy(model.apply(x) as tf.Tensor4D, y), true);
        if (loss == null) throw new Error('minimize returned no loss');
        losses.push(loss.dataSync()[0] ?? NaN);
        loss.dispose();
        if (step === 0) tensorsAfterFirst = tf.memory().numTensors;
      }
      expect(tf.memory().numTensors).toBe(tensorsAfterFirst);
    } finally {
      optimizer.dispose();
      model.dispose();
      tf.dispose([x, y]);
    }
    const first = losses[0] ?? NaN;
    const last = losses[29] ?? NaN;
    expect(first).toBeGreaterThan(0.9);
    expect(last).toBeLessThan(first / 5);
  });

  /** Gradients of the masked loss for every trainable weight, by name. */
  function gradients(
    model: tfl.LayersModel,
    h: number,
    w: number,
    classes: number,
  ): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    tf.tidy(() => {
      const x = tf.randomNormal([1, h, w, 3], 0, 1, 'float32', 3);
      const y = tf.randomUniform([1, h, w], 0, classes, 'int32', 4) as tf.Tensor3D;
      const { grads } = tf.variableGrads(() =>
        maskedCrossEntropy(model.apply(x, { training: true }) as tf.Tensor4D, y),
      );
      for (const [name, g] of Object.entries(grads)) out.set(name, Float32Array.from(g.dataSync()));
    });
    return out;
  }

  const nonZero = (g: Float32Array) => g.some((v) => v !== 0);
  const finite = (g: Float32Array) => g.every((v) => Number.isFinite(v));

  it('FCN-8s: every weight gets a finite gradient, and the up-sampling layers learn', async () => {
    await use('wasm');
    const model = buildFcn(8, { numClasses: 4, inputSize: 32, fcWidth: 16, seed: 5 });
    try {
      const grads = gradients(model, 32, 32, 4);
      expect(grads.size).toBe(model.trainableWeights.length);
      for (const g of grads.values()) expect(finite(g)).toBe(true);
      for (const layer of ['upscore2', 'upscore_pool4', 'upscore8', 'score_pool3', 'score_pool4', 'fc6']) {
        const entries = [...grads].filter(([name]) => name.startsWith(`${layer}/`));
        expect(entries.length).toBeGreaterThan(0);
        for (const [, g] of entries) expect(nonZero(g)).toBe(true);
      }
    } finally {
      model.dispose();
    }
  });

  it('unet-vgg16 on a non-square input: every weight gets a finite, non-zero gradient', async () => {
    await use('wasm');
    const model = buildUNetVgg16({ numClasses: 3, inputSize: [16, 32], seed: 6 });
    try {
      const grads = gradients(model, 16, 32, 3);
      expect(grads.size).toBe(model.trainableWeights.length);
      for (const [name, g] of grads) {
        expect(finite(g), name).toBe(true);
        expect(nonZero(g), name).toBe(true);
      }
    } finally {
      model.dispose();
    }
  });
});
