// Inference geometry and hygiene: a model small enough to reason about (a fixed 1×1 conv whose logits
// are the red and green channels) must give the exact answer at the original size, through the
// letterbox, the crop and the resize, and repeated inference must not grow the tensor count. The mean
// normalised entropy equals one computed here from the model's softmax, through tfjs and through the
// model's ONNX export in ONNX Runtime (onnxruntime-node is installed here), and orders the queue.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../../../src/main/engine/backend';
import { blend, segment, type Predictor } from '../../../../src/main/engine/infer';
import type { RgbImage } from '../../../../src/main/engine/data/samples';
import { normalizeInput } from '../../../../src/main/engine/models/registry';
import { exportOnnx } from '../../../../src/main/engine/onnx/export';
import { createOrtModel, ortStatus } from '../../../../src/main/engine/onnx/runtime';
import { rankQueue, scoreDraft } from '../../../../src/shared/drafts';

beforeAll(async () => {
  await selectBackend('wasm');
});

/** Class 1 where green beats red, else class 0. */
function redGreenModel(size: number): Predictor {
  const input = tfl.input({ shape: [size, size, 3] });
  const conv = tfl.layers.conv2d({ filters: 2, kernelSize: 1, useBias: false, name: 'rg' });
  const model = tfl.model({ inputs: input, outputs: conv.apply(input) as tfl.SymbolicTensor });
  // Kernel [1, 1, 3, 2]: logit 0 = red, logit 1 = green.
  conv.setWeights([tf.tensor4d([1, 0, 0, 1, 0, 0], [1, 1, 3, 2])]);
  return { model, inputSize: size, normalization: 'zero-one' };
}

/** A `width`×`height` image, red left of `split` and green from it on. */
function halves(width: number, height: number, split: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(x < split ? [220, 20, 20] : [20, 220, 20], (y * width + x) * 3);
  }
  return { width, height, data };
}

describe('segment', () => {
  it('returns labels at the original size, with the letterbox cropped away exactly', async () => {
    const p = redGreenModel(64);
    // Wide and tall images: the letterbox pads different axes, so a wrong crop would shift the split.
    for (const [w, h, split] of [
      [200, 90, 120],
      [70, 160, 30],
    ] as const) {
      const seg = await segment(p, halves(w, h, split));
      expect([seg.width, seg.height]).toEqual([w, h]);
      let wrong = 0;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          // Away from the boundary (resampling blurs a few pixels), every label is exact.
          if (Math.abs(x + 0.5 - split) < (w / 64) * 2) continue;
          if (seg.labels[y * w + x] !== (x < split ? 0 : 1)) wrong++;
        }
      }
      expect(wrong, `${w}×${h}`).toBe(0);
      expect(Math.min(...seg.confidence)).toBeGreaterThan(0.5);
    }
    p.model.dispose();
  });

  it('keeps tf.memory().numTensors steady over 20 inferences', async () => {
    const p = redGreenModel(32);
    const image = halves(50, 40, 20);
    await segment(p, image);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) await segment(p, image);
    expect(tf.memory().numTensors).toBe(before);
    p.model.dispose();
  });
});

/** Three classes from a fixed 1×1 conv with a bias, so pixels range from sure to torn. */
function threeClassModel(size: number): Predictor {
  const input = tfl.input({ shape: [size, size, 3] });
  const conv = tfl.layers.conv2d({ filters: 3, kernelSize: 1, name: 'three' });
  const model = tfl.model({ inputs: input, outputs: conv.apply(input) as tfl.SymbolicTensor });
  conv.setWeights([
    tf.tensor4d([4, -1, 0.5, -2, 3, 0.5, 1, 1, -3], [1, 1, 3, 3]),
    tf.tensor1d([0, 0.3, -0.2]),
  ]);
  return { model, inputSize: size, normalization: 'zero-one' };
}

/** A square image of `size`: the colour `base` with a pattern of its own per `seed` on it. */
function pattern(size: number, seed: number, base: readonly [number, number, number]): RgbImage {
  const data = new Uint8Array(size * size * 3);
  for (let i = 0; i < data.length; i++) {
    const v = Math.sin(i * 0.37 + seed * 1.7) * Math.cos(i * 0.11 + seed);
    data[i] = Math.round(Math.min(255, Math.max(0, base[i % 3]! + 40 * v)));
  }
  return { width: size, height: size, data };
}

/**
 * The reference: mean over pixels of −Σ p ln p / ln C, in float64, from the softmax of the tfjs model's
 * logits. The image is as large as the model's input, so no letterbox or resize lies in between.
 */
async function referenceEntropy(p: Predictor, image: RgbImage): Promise<number> {
  const logits = tf.tidy(() =>
    p.model.predict(
      normalizeInput(
        tf.tensor4d(Float32Array.from(image.data), [1, image.height, image.width, 3]),
        p.normalization,
      ),
    ),
  ) as tf.Tensor4D;
  const classes = logits.shape[3];
  const z = await logits.data();
  logits.dispose();
  let total = 0;
  for (let px = 0; px < z.length / classes; px++) {
    const row = Array.from(z.subarray(px * classes, (px + 1) * classes));
    const top = Math.max(...row);
    const e = row.map((v) => Math.exp(v - top));
    const sum = e.reduce((a, b) => a + b, 0);
    total -= e.reduce((h, v) => h + (v / sum) * Math.log(v / sum), 0) / Math.log(classes);
  }
  return (total * classes) / z.length;
}

describe('mean normalised entropy', () => {
  it('equals the softmax entropy computed from the model, through tfjs and ONNX Runtime; the queue follows it', async () => {
    const p = threeClassModel(16);
    const ort = await createOrtModel(
      exportOnnx(p.model, { producerVersion: 'test', metadata: {} }),
      await ortStatus({ SEGSCOPE_ORT_THREADS: '1' }),
    );
    const images = (
      [
        [230, 20, 20],
        [120, 120, 120],
        [20, 200, 60],
        [60, 60, 220],
        [180, 160, 40],
      ] as const
    ).map((c, i) => pattern(16, i, c));
    const entries: { id: string; hasLabel: boolean; disagreement: null; uncertainty: number }[] = [];
    const reference: { id: string; entropy: number }[] = [];
    for (const [i, image] of images.entries()) {
      const want = await referenceEntropy(p, image);
      const viaTfjs = await segment(p, image);
      const viaOrt = await segment({ inputSize: 16, normalization: 'zero-one', ort }, image);
      expect(viaTfjs.meanEntropy).toBeCloseTo(want, 5);
      expect(viaOrt.meanEntropy).toBeCloseTo(want, 5);
      const id = `img${i}`;
      const score = scoreDraft(viaOrt.labels, viaOrt.confidence, viaOrt.meanEntropy, null, ['a', 'b', 'c']);
      entries.push({ id, hasLabel: false, disagreement: null, uncertainty: score.uncertainty });
      reference.push({ id, entropy: want });
    }
    // The images span clearly different entropies, so the order is not decided by ties.
    const spread = reference.map((r) => r.entropy).sort((a, b) => a - b);
    for (let i = 1; i < spread.length; i++) expect(spread[i]! - spread[i - 1]!).toBeGreaterThan(1e-3);
    reference.sort((a, b) => b.entropy - a.entropy);
    expect(rankQueue(entries, 'uncertainty').map((e) => e.id)).toEqual(reference.map((r) => r.id));
    await ort.release();
    p.model.dispose();
  });

  it('is 0 for a one-class model and stays in 0..1 through the letterbox and resize', async () => {
    const input = tfl.input({ shape: [8, 8, 3] });
    const one = tfl.model({
      inputs: input,
      outputs: tfl.layers.conv2d({ filters: 1, kernelSize: 1 }).apply(input) as tfl.SymbolicTensor,
    });
    expect(
      (await segment({ model: one, inputSize: 8, normalization: 'zero-one' }, pattern(8, 1, [90, 90, 90])))
        .meanEntropy,
    ).toBe(0);
    one.dispose();
    const p = threeClassModel(16);
    const wide = await segment(p, halves(40, 12, 20));
    expect(wide.meanEntropy).toBeGreaterThan(0);
    expect(wide.meanEntropy).toBeLessThan(1);
    p.model.dispose();
  });
});

describe('blend', () => {
  it('puts 0.7 of the class colour over the photo, and leaves background as it is', () => {
    const image: RgbImage = { width: 2, height: 1, data: Uint8Array.from([100, 100, 100, 0, 0, 0]) };
    const colormap = new Uint8Array(768);
    colormap.set([200, 0, 0], 3);
    expect([...blend(image, Uint8Array.from([0, 1]), colormap)]).toEqual([100, 100, 100, 140, 0, 0]);
  });
});
