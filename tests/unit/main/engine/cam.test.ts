// Grad-CAM checked against a model small enough to work out on paper: one fixed 3×3 conv + ReLU and a fixed
// 1×1 head, whose activations are computed here in plain JS and whose gradient is known in closed form
// (∂target/∂A_k(p) = h_kc · mask(p)). Also the probe gradient against finite differences through a skip
// connection, the letterbox geometry, the absent-class error and tensor hygiene.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  activationsAndGradients,
  camLayers,
  ClassNotPredictedError,
  computeCam,
  computeCamSweep,
  defaultCamLayer,
  predictionMask,
  SegmentationTarget,
} from '../../../../src/main/engine/cam';
import type { RgbImage } from '../../../../src/main/engine/data/samples';
import type { Predictor } from '../../../../src/main/engine/infer';
import { MODELS } from '../../../../src/main/engine/models/registry';
import type { CamMethod } from '../../../../src/shared/engineProtocol';
import { backendDataIds, seeded, use } from './helpers';

beforeAll(async () => {
  await use('wasm');
});

const S = 8; // input side: an 8×8 image in an 8×8 square, so the letterbox changes nothing
const K = 3; // channels of the conv
const C = 4; // classes; class 3 has a large negative bias and is never predicted
const NAMES = ['background', 'cat', 'dog', 'bird'];

/** The fixed weights, and the image, of the paper model. */
const W = Array.from(seeded(3 * 3 * 3 * K, 11), (v) => v * 0.8); // [ky][kx][ch][k]
const B = [0.05, -0.1, 0.2];
const H = Array.from(seeded(K * C, 23), (v) => v * 2); // [k][c]
const HB = [0.1, -0.05, 0, -100];
const IMAGE: RgbImage = {
  width: S,
  height: S,
  data: Uint8Array.from(seeded(S * S * 3, 5), (v) => Math.round((v + 1) * 127.5)),
};

function paperModel(): Predictor {
  const input = tfl.input({ shape: [S, S, 3] });
  const feat = tfl.layers.conv2d({
    name: 'feat',
    filters: K,
    kernelSize: 3,
    padding: 'same',
    activation: 'relu',
  });
  const head = tfl.layers.conv2d({ name: 'logits', filters: C, kernelSize: 1 });
  const out = head.apply(feat.apply(input)) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  feat.setWeights([tf.tensor4d(W, [3, 3, 3, K]), tf.tensor1d(B)]);
  head.setWeights([tf.tensor4d(H, [1, 1, K, C]), tf.tensor1d(HB)]);
  return { model, inputSize: S, normalization: 'zero-one' };
}

/** The paper model's forward pass in plain JS (float64): activations [p][k], logits [p][c], labels [p]. */
function paperForward(): { A: number[][]; L: number[][]; labels: number[] } {
  const x = (y: number, xx: number, ch: number) =>
    y < 0 || y >= S || xx < 0 || xx >= S ? 0 : IMAGE.data[(y * S + xx) * 3 + ch]! / 255;
  const A: number[][] = [];
  const L: number[][] = [];
  const labels: number[] = [];
  for (let y = 0; y < S; y++) {
    for (let xx = 0; xx < S; xx++) {
      const a: number[] = [];
      for (let k = 0; k < K; k++) {
        let s = B[k]!;
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++)
            for (let ch = 0; ch < 3; ch++)
              s += W[((ky * 3 + kx) * 3 + ch) * K + k]! * x(y + ky - 1, xx + kx - 1, ch);
        a.push(Math.max(0, s));
      }
      const l = HB.map((b, c) => b + a.reduce((acc, ak, k) => acc + H[k * C + c]! * ak, 0));
      A.push(a);
      L.push(l);
      labels.push(l.indexOf(Math.max(...l)));
    }
  }
  return { A, L, labels };
}

function normalize(v: number[]): number[] {
  const min = Math.min(...v);
  const max = Math.max(...v.map((x) => x - min));
  return v.map((x) => (max > 0 ? (x - min) / max : 0));
}

/** The map each method gives for class `c`, worked out from A and the closed-form gradient. */
function expectedCam(method: CamMethod, c: number): number[] {
  const { A, labels } = paperForward();
  const N = S * S;
  const mask = labels.map((l) => (l === c ? 1 : 0));
  const G = A.map((_, p) => Array.from({ length: K }, (_, k) => H[k * C + c]! * mask[p]!));
  let weights: (p: number, k: number) => number;
  if (method === 'gradcam') {
    const w = Array.from({ length: K }, (_, k) => G.reduce((s, g) => s + g[k]!, 0) / N);
    weights = (_p, k) => w[k]!;
  } else if (method === 'gradcampp') {
    const sumA = Array.from({ length: K }, (_, k) => A.reduce((s, a) => s + a[k]!, 0));
    const w = Array.from({ length: K }, (_, k) => {
      let s = 0;
      for (let p = 0; p < N; p++) {
        const g = G[p]![k]!;
        const den = 2 * g * g + sumA[k]! * g ** 3;
        const alpha = den === 0 ? 0 : (g * g) / den;
        s += alpha * Math.max(0, g);
      }
      return s;
    });
    weights = (_p, k) => w[k]!;
  } else {
    weights = (p, k) => G[p]![k]!;
  }
  const raw = A.map((a, p) =>
    Math.max(
      0,
      a.reduce((s, ak, k) => s + weights(p, k) * ak, 0),
    ),
  );
  return normalize(raw);
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('the paper model', () => {
  it('is well-conditioned: clear argmax margins, several classes present, no Grad-CAM++ denominator near 0', () => {
    const { A, L, labels } = paperForward();
    for (const l of L) {
      const sorted = [...l].sort((a, b) => b - a);
      expect(sorted[0]! - sorted[1]!).toBeGreaterThan(1e-3);
    }
    const present = new Set(labels);
    expect(present.size).toBeGreaterThanOrEqual(2);
    expect(present.has(3)).toBe(false);
    expect(A.flat().filter((a) => a === 0).length).toBeGreaterThan(0); // the ReLU clips somewhere
    for (const c of present) {
      for (let k = 0; k < K; k++) {
        const h = H[k * C + c]!;
        const sumA = A.reduce((s, a) => s + a[k]!, 0);
        expect(Math.abs(2 + sumA * h)).toBeGreaterThan(0.05);
      }
    }
  });

  it('gathers the activations and the closed-form gradient h_kc · mask(p)', () => {
    const p = paperModel();
    const { A, labels } = paperForward();
    const c = labels[0]!;
    const area = tf.ones([1, S, S]) as tf.Tensor3D;
    const input = tf.tidy(() =>
      tf.div(tf.tensor4d(Float32Array.from(IMAGE.data), [1, S, S, 3]), 255),
    ) as tf.Tensor4D;
    const got = activationsAndGradients(p.model, input, ['feat'], (logits) => {
      const { mask, labels: l } = predictionMask(logits, c, area);
      l.dispose();
      return new SegmentationTarget(c, mask).score(logits);
    });
    const a = got.activations[0]!.dataSync();
    const g = got.gradients[0]!.dataSync();
    expect(maxAbsDiff(a, A.flat())).toBeLessThan(1e-5);
    const G = labels.flatMap((l) => Array.from({ length: K }, (_, k) => (l === c ? H[k * C + c]! : 0)));
    expect(maxAbsDiff(g, G)).toBeLessThan(1e-6);
    expect(G.some((v) => v !== 0)).toBe(true);
    tf.dispose([...got.activations, ...got.gradients, area, input]);
    p.model.dispose();
  });

  for (const method of ['gradcam', 'gradcampp', 'hirescam'] as const) {
    it(`${method} equals the hand-derived map to 1e-5 for every class present`, async () => {
      const p = paperModel();
      const present = [...new Set(paperForward().labels)];
      for (const c of present) {
        const out = await computeCam(p, IMAGE, { classIndex: c, layer: 'feat', method });
        expect([out.width, out.height, out.layer]).toEqual([S, S, 'feat']);
        const expected = expectedCam(method, c);
        expect(Math.max(...expected), `class ${c}`).toBe(1); // a non-trivial map, so the check can fail
        expect(maxAbsDiff(out.cam, expected), `class ${c}`).toBeLessThan(1e-5);
        expect(out.classPixels).toBe(paperForward().labels.filter((l) => l === c).length);
      }
      p.model.dispose();
    });
  }

  it('gives three different maps for the three methods', () => {
    const c = paperForward().labels[0]!;
    const [a, b, h] = (['gradcam', 'gradcampp', 'hirescam'] as const).map((m) => expectedCam(m, c));
    // Far above the 1e-5 the maps are checked to, so a method computed as another would fail.
    expect(maxAbsDiff(a!, b!)).toBeGreaterThan(0.01);
    expect(maxAbsDiff(a!, h!)).toBeGreaterThan(0.01);
    expect(maxAbsDiff(b!, h!)).toBeGreaterThan(0.01);
  });

  it('refuses a class absent from the prediction, naming the classes present', async () => {
    const p = paperModel();
    const present = [...new Set(paperForward().labels)].sort((a, b) => a - b);
    const call = computeCam(p, IMAGE, { classIndex: 3, layer: 'feat', method: 'gradcam', classNames: NAMES });
    await expect(call).rejects.toThrow(ClassNotPredictedError);
    await expect(
      computeCam(p, IMAGE, { classIndex: 3, layer: 'feat', method: 'gradcam', classNames: NAMES }),
    ).rejects.toThrow(
      `class 3 (bird) is not in the prediction for this image; classes present: ${present.map((i) => NAMES[i]).join(', ')}`,
    );
    await expect(computeCam(p, IMAGE, { classIndex: 3, layer: 'feat', method: 'hirescam' })).rejects.toThrow(
      /^class 3 is not in the prediction for this image; classes present: class \d/,
    );
    await expect(computeCam(p, IMAGE, { classIndex: 4, layer: 'feat', method: 'gradcam' })).rejects.toThrow(
      /class index 4 is out of range: the model has 4 classes/,
    );
    await expect(computeCam(p, IMAGE, { classIndex: 0, layer: 'nope', method: 'gradcam' })).rejects.toThrow(
      "unknown layer 'nope' for Grad-CAM; conv layers: feat, logits",
    );
    // The layer's own `call` is back after a failure.
    expect(Object.hasOwn(p.model.getLayer('feat'), 'call')).toBe(false);
    p.model.dispose();
  });

  it('keeps tf.memory().numTensors and the backend buffers steady over 20 CAMs (and failures)', async () => {
    const p = paperModel();
    const c = paperForward().labels[0]!;
    await computeCam(p, IMAGE, { classIndex: c, layer: 'feat', method: 'gradcam' });
    const tensors = tf.memory().numTensors;
    const buffers = backendDataIds();
    const methods = ['gradcam', 'gradcampp', 'hirescam'] as const;
    for (let i = 0; i < 20; i++) {
      await computeCam(p, IMAGE, { classIndex: c, layer: 'feat', method: methods[i % 3]! });
    }
    await computeCamSweep(p, IMAGE, {
      classIndex: c,
      layers: ['feat', 'logits'],
      method: 'gradcam',
      maxSide: 4,
    });
    await expect(computeCam(p, IMAGE, { classIndex: 3, layer: 'feat', method: 'gradcam' })).rejects.toThrow();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(backendDataIds()).toBe(buffers);
    expect(Object.hasOwn(p.model.getLayer('feat'), 'call')).toBe(false);
    p.model.dispose();
  });
});

describe('the probe gradient', () => {
  /**
   * input → a (3×3, tanh) → b (3×3, tanh) → c (3×3) → concat[a, c] → head (1×1): `a` feeds both `b` and the
   * skip, so its gradient has two paths.
   */
  function skipModel(size: number) {
    const input = tfl.input({ shape: [size, size, 3] });
    const init = (seed: number) => tfl.initializers.randomUniform({ minval: -0.6, maxval: 0.6, seed });
    const conv = (name: string, seed: number, activation?: 'tanh') =>
      tfl.layers.conv2d({
        name,
        filters: 2,
        kernelSize: 3,
        padding: 'same',
        activation,
        kernelInitializer: init(seed),
        biasInitializer: init(seed + 100),
      });
    const a = conv('a', 1, 'tanh');
    const b = conv('b', 2, 'tanh');
    const c = conv('c', 3);
    const concat = tfl.layers.concatenate({ name: 'skip', axis: -1 });
    const head = tfl.layers.conv2d({ name: 'head', filters: 3, kernelSize: 1, kernelInitializer: init(4) });
    const symA = a.apply(input) as tfl.SymbolicTensor;
    const symC = c.apply(b.apply(symA)) as tfl.SymbolicTensor;
    const out = head.apply(concat.apply([symA, symC])) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    /** The logits from a given output of `a` or of `b`, without the probe machinery. */
    const tail = (from: 'a' | 'b', value: tf.Tensor4D, actA: tf.Tensor4D): tf.Tensor4D =>
      tf.tidy(() => {
        const outA = from === 'a' ? value : actA;
        const outB = from === 'b' ? value : (b.apply(outA) as tf.Tensor4D);
        return head.apply(concat.apply([outA, c.apply(outB) as tf.Tensor4D])) as tf.Tensor4D;
      });
    return { model, a, b, tail };
  }

  it('equals a central finite difference at every element, through the skip connection', () => {
    const size = 6;
    const { model, a, b, tail } = skipModel(size);
    const input = tf.tensor4d(seeded(size * size * 3, 9), [1, size, size, 3]);
    const area = tf.ones([1, size, size]) as tf.Tensor3D;
    const c = 1;
    let maskValues: Float32Array | null = null;
    const got = activationsAndGradients(model, input, ['a', 'b'], (logits) => {
      const { mask, labels } = predictionMask(logits, c, area);
      labels.dispose();
      maskValues = mask.dataSync() as Float32Array;
      return new SegmentationTarget(c, mask).score(logits);
    });
    const mask = Array.from(maskValues!);
    expect(mask.filter((m) => m === 1).length).toBeGreaterThan(3);
    expect(mask.filter((m) => m === 0).length).toBeGreaterThan(3);
    const target = (logits: tf.Tensor4D) =>
      tf.tidy(() => {
        const l = tf.squeeze(tf.slice(logits, [0, 0, 0, c], [-1, -1, -1, 1]), [3]);
        return tf.sum(tf.mul(l, tf.tensor3d(mask, [1, size, size]))).dataSync()[0]!;
      });
    const actA = got.activations[0]!;
    // The captured activations are the layers' real outputs.
    const refA = a.apply(input) as tf.Tensor4D;
    expect(maxAbsDiff(actA.dataSync(), refA.dataSync())).toBeLessThan(1e-6);
    const refB = b.apply(refA) as tf.Tensor4D;
    expect(maxAbsDiff(got.activations[1]!.dataSync(), refB.dataSync())).toBeLessThan(1e-6);
    tf.dispose([refA, refB]);

    const eps = 1e-2;
    for (const [i, layer] of (['a', 'b'] as const).entries()) {
      const act = got.activations[i]!;
      const grad = got.gradients[i]!.dataSync();
      const base = act.dataSync();
      let worst = 0;
      let largest = 0;
      for (let j = 0; j < base.length; j++) {
        const shifted = (d: number) => {
          const v = Float32Array.from(base);
          v[j] = v[j]! + d;
          const t = tf.tensor4d(v, act.shape);
          const logits = tail(layer, t, actA);
          const s = target(logits);
          tf.dispose([t, logits]);
          return s;
        };
        const fd = (shifted(eps) - shifted(-eps)) / (2 * eps);
        worst = Math.max(worst, Math.abs(fd - grad[j]!) / (1e-2 + Math.abs(fd)));
        largest = Math.max(largest, Math.abs(grad[j]!));
      }
      expect(largest, layer).toBeGreaterThan(0.05); // a gradient that is not trivially zero
      expect(worst, layer).toBeLessThan(1e-2);
    }
    tf.dispose([...got.activations, ...got.gradients, input, area]);
    expect(Object.hasOwn(a, 'call')).toBe(false);
    model.dispose();
  });
});

describe('the letterbox', () => {
  /** Logits: red, green, and blue + 0.1, so the grey padding (and only it) is class 2. */
  function rgbModel(size: number): Predictor {
    const input = tfl.input({ shape: [size, size, 3] });
    const conv = tfl.layers.conv2d({ filters: 3, kernelSize: 1, name: 'rgb' });
    const model = tfl.model({ inputs: input, outputs: conv.apply(input) as tfl.SymbolicTensor });
    conv.setWeights([tf.tensor4d([1, 0, 0, 0, 1, 0, 0, 0, 1], [1, 1, 3, 3]), tf.tensor1d([0, 0, 0.1])]);
    return { model, inputSize: size, normalization: 'zero-one' };
  }
  function halves(width: number, height: number, split: number): RgbImage {
    const data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        data.set(x < split ? [220, 20, 20] : [20, 220, 20], (y * width + x) * 3);
    return { width, height, data };
  }

  it('leaves the grey padding out of the mask and crops it out of the map', async () => {
    const p = rgbModel(32);
    const [w, h, split] = [120, 60, 50];
    const image = halves(w, h, split);
    await expect(
      computeCam(p, image, {
        classIndex: 2,
        layer: 'rgb',
        method: 'gradcam',
        classNames: ['red', 'green', 'grey'],
      }),
    ).rejects.toThrow('class 2 (grey) is not in the prediction for this image; classes present: red, green');
    const out = await computeCam(p, image, { classIndex: 1, layer: 'rgb', method: 'hirescam' });
    expect([out.width, out.height]).toEqual([w, h]);
    let wrong = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (Math.abs(x + 0.5 - split) < (w / 32) * 2) continue; // resampling blurs the boundary
        const v = out.cam[y * w + x]!;
        if (x < split ? v > 1e-6 : v < 0.99) wrong++;
      }
    }
    expect(wrong).toBe(0);
    const [small] = await computeCamSweep(p, image, {
      classIndex: 1,
      layers: ['rgb'],
      method: 'hirescam',
      maxSide: 40,
    });
    expect([small!.width, small!.height]).toEqual([40, 20]);
    p.model.dispose();
  });
});

describe('layers', () => {
  it('lists conv layers and defaults to the encoder’s last conv of each registry model', () => {
    for (const id of ['unet-small', 'unet-vgg16', 'fcn8s'] as const) {
      const model = MODELS[id].build({ numClasses: 3, inputSize: 32 });
      try {
        expect(camLayers(model)).toContain(MODELS[id].camLayer);
        expect(defaultCamLayer(model, id)).toBe(MODELS[id].camLayer);
        expect(defaultCamLayer(model)).toBe(MODELS[id].camLayer);
      } finally {
        model.dispose();
      }
    }
    expect(MODELS.unet.camLayer).toBe('bottom_conv2');
    expect(MODELS['unet-vgg16'].camLayer).toBe('block5_conv3');
    expect(MODELS.fcn32s.camLayer).toBe('block5_conv3');
    const p = paperModel();
    expect(defaultCamLayer(p.model)).toBe('feat'); // the last conv that is not the output
    p.model.dispose();
  });
});
