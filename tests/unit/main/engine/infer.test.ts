// Inference geometry and hygiene: a model small enough to reason about (a fixed 1×1 conv whose logits
// are the red and green channels) must give the exact answer at the original size, through the
// letterbox, the crop and the resize, and repeated inference must not grow the tensor count.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../../../src/main/engine/backend';
import { blend, segment, type Predictor } from '../../../../src/main/engine/infer';
import type { RgbImage } from '../../../../src/main/engine/data/samples';

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

describe('blend', () => {
  it('puts 0.7 of the class colour over the photo, and leaves background as it is', () => {
    const image: RgbImage = { width: 2, height: 1, data: Uint8Array.from([100, 100, 100, 0, 0, 0]) };
    const colormap = new Uint8Array(768);
    colormap.set([200, 0, 0], 3);
    expect([...blend(image, Uint8Array.from([0, 1]), colormap)]).toEqual([100, 100, 100, 140, 0, 0]);
  });
});
