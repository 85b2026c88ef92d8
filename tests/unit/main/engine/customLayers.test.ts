// Segscope's custom layers: the space-to-batch atrous conv against tfjs's forward dilated conv2d, max
// pooling switches and max-unpooling on hand examples, their gradients against finite differences, and
// each layer through a checkpoint (model.json) and back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { activationsAndGradients } from '../../../../src/main/engine/cam';
import { loadCheckpoint, saveCheckpoint } from '../../../../src/main/engine/io/checkpoint';
import {
  atrousConv2d,
  AtrousConv2D,
  MaxPoolingWithSwitches2D,
  MaxUnpooling2D,
  maxPoolWithSwitches,
  maxUnpool,
  poolSwitches,
} from '../../../../src/main/engine/models/customLayers';
import { convLayerNames } from '../../../../src/main/engine/models/registry';
import { nativeConvRuns, setNativeConvsEnabled } from '../../../../src/main/engine/kernels/nativeConv';
import { relL2, seeded, sizeOf, use } from './helpers';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'segscope-layers-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tensor4d(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  return tf.tensor4d(seeded(sizeOf(shape), seed), shape);
}

/** Σ f(x)·r in float64: a scalar whose gradient is the vector–Jacobian product with r. */
function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] ?? 0) * (b[i] ?? 0);
  return s;
}

/**
 * Checks `grad` (∂/∂x of Σ f(x)·r) against central differences, per element at `picks` and along a
 * random direction, with the sums taken in float64 and the steps as float32 actually stores them.
 * Returns the worst error relative to the largest gradient (per element) or to the directional
 * derivative.
 */
function finiteDifferenceError(
  f: (x: tf.Tensor) => tf.Tensor,
  x: tf.Tensor,
  r: Float32Array,
  grad: Float32Array,
  picks: number[],
  eps: number,
): number {
  const base = Float32Array.from(x.dataSync());
  const value = (values: Float32Array) => tf.tidy(() => dot(f(tf.tensor(values, x.shape)).dataSync(), r));
  const scale = Math.max(...Array.from(grad, Math.abs), 1e-12);
  let worst = 0;
  for (const i of picks) {
    const plus = Float32Array.from(base);
    const minus = Float32Array.from(base);
    plus[i] = (plus[i] ?? 0) + eps;
    minus[i] = (minus[i] ?? 0) - eps;
    const fd = (value(plus) - value(minus)) / ((plus[i] ?? 0) - (minus[i] ?? 0));
    worst = Math.max(worst, Math.abs(fd - (grad[i] ?? 0)) / scale);
  }
  const dir = seeded(base.length, 99);
  const plus = base.map((v, i) => v + eps * (dir[i] ?? 0));
  const minus = base.map((v, i) => v - eps * (dir[i] ?? 0));
  const fd = value(plus) - value(minus);
  const analytic = dot(
    grad,
    plus.map((v, i) => v - (minus[i] ?? 0)),
  );
  worst = Math.max(worst, Math.abs(fd - analytic) / Math.max(Math.abs(analytic), 1e-9));
  return worst;
}

describe('atrousConv2d', () => {
  const cases: { x: [number, number, number, number]; k: number; rate: number }[] = [
    { x: [1, 9, 9, 3], k: 3, rate: 2 },
    { x: [2, 7, 12, 2], k: 3, rate: 3 },
    { x: [1, 8, 5, 4], k: 3, rate: 6 },
    { x: [1, 4, 4, 2], k: 3, rate: 18 }, // the rate exceeds the map: only the centre tap sees data
    { x: [1, 10, 11, 2], k: 5, rate: 2 },
    { x: [1, 9, 10, 2], k: 2, rate: 3 }, // an even kernel: 'same' pads one less before than after
    { x: [1, 6, 6, 3], k: 1, rate: 4 },
    { x: [1, 6, 7, 3], k: 3, rate: 1 },
  ];

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`equals tfjs's forward conv2d with dilations, on ${backend}`, async () => {
      await use(backend);
      for (const [i, { x: shape, k, rate }] of cases.entries()) {
        tf.tidy(() => {
          const x = tensor4d(shape, 10 + i);
          const kernel = tensor4d([k, k, shape[3], 3], 20 + i);
          const want = tf.conv2d(x, kernel, 1, 'same', 'NHWC', rate);
          const got = atrousConv2d(x, kernel, rate);
          expect(got.shape, `case ${i}`).toEqual(want.shape);
          expect(relL2(got.dataSync(), want.dataSync()), `case ${i}`).toBeLessThan(1e-6);
        });
      }
    });
  }

  it('has gradients, where tfjs refuses those of a dilated conv2d, and they match finite differences', async () => {
    await use('wasm');
    const x = tensor4d([1, 7, 9, 2], 1);
    const kernel = tensor4d([3, 3, 2, 3], 2);
    const rate = 2;
    const r = seeded(7 * 9 * 3, 3);
    const rT = tf.tensor4d(r, [1, 7, 9, 3]);
    expect(() =>
      tf.tidy(() =>
        tf.grad((t: tf.Tensor) => tf.sum(tf.conv2d(t as tf.Tensor4D, kernel, 1, 'same', 'NHWC', 2)))(x),
      ),
    ).toThrow(/dilation/i);
    const [gx, gk] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(atrousConv2d(a as tf.Tensor4D, b as tf.Tensor4D, rate), rT)),
    )([x, kernel]);
    const gxv = Float32Array.from(gx!.dataSync());
    const gkv = Float32Array.from(gk!.dataSync());
    expect(gxv.some((v) => v !== 0)).toBe(true);
    // Linear in each argument, so central differences are exact up to float32 rounding.
    const errX = finiteDifferenceError(
      (t) => atrousConv2d(t as tf.Tensor4D, kernel, rate),
      x,
      r,
      gxv,
      [0, 17, 40, 125],
      0.05,
    );
    const errK = finiteDifferenceError(
      (t) => atrousConv2d(x, t as tf.Tensor4D, rate),
      kernel,
      r,
      gkv,
      [0, 13, 29, 53],
      0.05,
    );
    expect(errX).toBeLessThan(2e-3);
    expect(errK).toBeLessThan(2e-3);
    tf.dispose([x, kernel, rT, gx!, gk!]);
  });
});

describe('atrousConv2d on ONNX Runtime', () => {
  it('runs both gradients there with the dilation, matching the space-to-batch form', async () => {
    await use('wasm');
    const x = tensor4d([2, 9, 11, 4], 31);
    const kernel = tensor4d([3, 3, 4, 5], 32);
    const r = tf.tensor4d(seeded(2 * 9 * 11 * 5, 33), [2, 9, 11, 5]);
    const grads = () =>
      tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(atrousConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 3), r)),
      )([x, kernel]);
    const before = nativeConvRuns();
    let native: tf.Tensor[] = [];
    const info = await tf.profile(() => {
      native = grads();
    });
    const after = nativeConvRuns();
    expect(after.inputGrad - before.inputGrad).toBe(1);
    expect(after.filterGrad - before.filterGrad).toBe(1);
    expect(info.kernelNames).not.toContain(tf.SpaceToBatchND);
    expect(info.kernelNames).not.toContain(tf.BatchToSpaceND);
    const was = setNativeConvsEnabled(false);
    let plain: tf.Tensor[];
    try {
      plain = grads();
    } finally {
      setNativeConvsEnabled(was);
    }
    expect(nativeConvRuns().inputGrad).toBe(after.inputGrad);
    for (let i = 0; i < 2; i++) {
      expect(native[i]!.shape).toEqual(plain[i]!.shape);
      expect(relL2(native[i]!.dataSync(), plain[i]!.dataSync())).toBeLessThan(1e-5);
    }
    tf.dispose([x, kernel, r, ...native, ...plain]);
  });
});

describe('AtrousConv2D', () => {
  function atrousModel(): tfl.LayersModel {
    const input = tfl.input({ shape: [8, 12, 3] });
    const layer = new AtrousConv2D({
      name: 'aspp_rate3_conv',
      filters: 4,
      kernelSize: 3,
      dilationRate: 3,
      kernelInitializer: tfl.initializers.heNormal({ seed: 7 }),
    });
    const out = layer.apply(input) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    const bias = tf.tensor1d([0.5, -1, 0, 2]);
    layer.setWeights([layer.getWeights()[0]!, bias]);
    bias.dispose();
    return model;
  }

  it('is a conv layer with Keras-shaped kernel and bias that computes the dilated conv plus bias', async () => {
    await use('wasm');
    const model = atrousModel();
    try {
      const layer = model.getLayer('aspp_rate3_conv');
      expect(layer.getClassName()).toBe('AtrousConv2D');
      expect(convLayerNames(model)).toEqual(['aspp_rate3_conv']);
      expect(layer.outputShape).toEqual([null, 8, 12, 4]);
      expect(layer.weights.map((w) => [w.originalName, w.shape])).toEqual([
        ['aspp_rate3_conv/kernel', [3, 3, 3, 4]],
        ['aspp_rate3_conv/bias', [4]],
      ]);
      tf.tidy(() => {
        const x = tensor4d([2, 8, 12, 3], 5);
        const [kernel, bias] = layer.getWeights() as [tf.Tensor4D, tf.Tensor1D];
        const want = tf.add(tf.conv2d(x, kernel, 1, 'same', 'NHWC', 3), bias);
        expect(relL2((model.predict(x) as tf.Tensor).dataSync(), want.dataSync())).toBeLessThan(1e-6);
      });
    } finally {
      model.dispose();
    }
  });

  it('survives a checkpoint: same config, same weights, same predictions', async () => {
    await use('wasm');
    const model = atrousModel();
    const dir = tempDir();
    await saveCheckpoint(model, dir);
    const { model: loaded } = await loadCheckpoint(dir);
    try {
      const layer = loaded.getLayer('aspp_rate3_conv');
      expect(layer).toBeInstanceOf(AtrousConv2D);
      expect(layer.getConfig()).toMatchObject({ filters: 4, kernelSize: 3, dilationRate: 3, useBias: true });
      expect(layer.getConfig()).toEqual(model.getLayer('aspp_rate3_conv').getConfig());
      tf.tidy(() => {
        const x = tensor4d([1, 8, 12, 3], 6);
        const a = (model.predict(x) as tf.Tensor).dataSync();
        const b = (loaded.predict(x) as tf.Tensor).dataSync();
        expect(Array.from(b)).toEqual(Array.from(a));
      });
    } finally {
      model.dispose();
      loaded.dispose();
    }
  });
});

describe('max pooling switches and max-unpooling', () => {
  // One channel, 4×4: four windows. Window (0,0) has a tie between its top-right and bottom-left (the
  // first in row-major order wins), window (1,1) is all equal (top-left wins), the others have one max.
  const X = [
    [1, 5, 2, 0],
    [5, 3, -1, -4],
    [7, 7, 8, 8],
    [0, 9, 8, 8],
  ];
  const SWITCHES = [
    [0, 1, 1, 0],
    [0, 0, 0, 0],
    [0, 0, 1, 0],
    [0, 1, 0, 0],
  ];

  it('records one switch per window, where the maximum is, the first on ties', async () => {
    await use('wasm');
    tf.tidy(() => {
      const x = tf.tensor4d(X.flat(), [1, 4, 4, 1]);
      expect(tf.reshape(poolSwitches(x), [4, 4]).arraySync()).toEqual(SWITCHES);
      // Channels are independent: the negated image puts its switches at the minima.
      const two = tf.concat([x, tf.neg(x)], 3);
      const s = poolSwitches(two).arraySync()[0]!;
      expect(s.map((row) => row.map((v) => v[0]))).toEqual(SWITCHES);
      expect(s.map((row) => row.map((v) => v[1]))).toEqual([
        [1, 0, 0, 0],
        [0, 0, 0, 1],
        [0, 0, 1, 0],
        [1, 0, 0, 0],
      ]);
    });
  });

  it('puts each value back at its switch and zero elsewhere', async () => {
    await use('wasm');
    tf.tidy(() => {
      const switches = tf.tensor4d(SWITCHES.flat(), [1, 4, 4, 1]);
      const y = tf.tensor4d([10, 20, 30, 40], [1, 2, 2, 1]);
      expect(tf.reshape(maxUnpool(y, switches), [4, 4]).arraySync()).toEqual([
        [0, 10, 20, 0],
        [0, 0, 0, 0],
        [0, 0, 40, 0],
        [0, 30, 0, 0],
      ]);
      // Pooling then unpooling keeps each window's maximum where it was.
      const x = tf.tensor4d(X.flat(), [1, 4, 4, 1]);
      const { pooled, switches: own } = maxPoolWithSwitches(x);
      expect(Array.from(own.dataSync())).toEqual(SWITCHES.flat());
      expect(tf.reshape(maxUnpool(pooled, own), [4, 4]).arraySync()).toEqual([
        [0, 5, 2, 0],
        [0, 0, 0, 0],
        [0, 0, 8, 0],
        [0, 9, 0, 0],
      ]);
      expect(() => maxUnpool(y, tf.zeros([1, 4, 6, 1]))).toThrow(/switches/);
      expect(() => poolSwitches(tf.zeros([1, 3, 4, 1]))).toThrow(/even/);
    });
  });

  it('passes a finite-difference check: to the values, and through pool and unpool to the input', async () => {
    await use('wasm');
    const shape: [number, number, number, number] = [2, 6, 8, 3];
    // Distinct values 0.1 apart in a shuffled order: the switches stay put under steps of 0.01.
    const n = sizeOf(shape);
    const order = seeded(n, 31);
    const rank = Array.from(order.keys()).sort((a, b) => (order[a] ?? 0) - (order[b] ?? 0));
    const values = new Float32Array(n);
    rank.forEach((i, k) => (values[i] = (k - n / 2) * 0.1));
    const x = tf.tensor4d(values, shape);
    const switches = poolSwitches(x);
    const y = tensor4d([2, 3, 4, 3], 32);
    const r = seeded(sizeOf(shape), 33);
    const rT = tf.tensor4d(r, shape);
    const unpool = (t: tf.Tensor) => maxUnpool(t as tf.Tensor4D, switches);
    const gy = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(unpool(t), rT)))(y);
    const gyv = Float32Array.from(gy.dataSync());
    expect(finiteDifferenceError(unpool, y, r, gyv, [0, 5, 33, 71], 0.01)).toBeLessThan(1e-3);

    const roundTrip = (t: tf.Tensor) => {
      const { pooled, switches: s } = maxPoolWithSwitches(t as tf.Tensor4D);
      return maxUnpool(pooled, s);
    };
    const gx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(roundTrip(t), rT)))(x);
    const gxv = Float32Array.from(gx.dataSync());
    const sw = switches.dataSync();
    // By hand: r at the switches, 0 elsewhere.
    expect(Array.from(gxv, (v) => v + 0)).toEqual(Array.from(r, (v, i) => (sw[i] === 1 ? v : 0)));
    expect(finiteDifferenceError(roundTrip, x, r, gxv, [0, 1, 50, 100, 200], 0.01)).toBeLessThan(1e-4);
    tf.dispose([x, switches, y, rT, gy, gx]);
  });

  function poolUnpoolModel(): tfl.LayersModel {
    const input = tfl.input({ shape: [4, 6, 2] });
    const conv = tfl.layers.conv2d({
      name: 'feat',
      filters: 3,
      kernelSize: 3,
      padding: 'same',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
    });
    const feat = conv.apply(input) as tfl.SymbolicTensor;
    const [pooled, switches] = new MaxPoolingWithSwitches2D({ name: 'pool' }).apply(
      feat,
    ) as tfl.SymbolicTensor[];
    const mid = tfl.layers.conv2d({
      name: 'mid',
      filters: 3,
      kernelSize: 1,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
    });
    const up = new MaxUnpooling2D({ name: 'unpool' }).apply([
      mid.apply(pooled!) as tfl.SymbolicTensor,
      switches!,
    ]);
    return tfl.model({ inputs: input, outputs: up as tfl.SymbolicTensor });
  }

  it('as layers: shapes, gradients to every weight, Grad-CAM through them, and a checkpoint round trip', async () => {
    await use('wasm');
    const model = poolUnpoolModel();
    const dir = tempDir();
    try {
      expect(model.getLayer('pool').outputShape).toEqual([
        [null, 2, 3, 3],
        [null, 4, 6, 3],
      ]);
      expect(model.outputs[0]!.shape).toEqual([null, 4, 6, 3]);
      const x = tensor4d([2, 4, 6, 2], 41);
      // Training: gradients reach the conv below the pool and the one between pool and unpool.
      const { grads, value } = tf.variableGrads(() =>
        tf.sum(tf.square(model.apply(x, { training: true }) as tf.Tensor)),
      );
      expect(Object.keys(grads).length).toBe(model.trainableWeights.length);
      for (const g of Object.values(grads)) expect(g.dataSync().some((v) => v !== 0)).toBe(true);
      tf.dispose([value, ...Object.values(grads)]);
      // Not training (as Grad-CAM runs): the layers' outputs are freed as the forward pass goes, yet the
      // backward pass still finds the switches.
      const before = tf.memory().numTensors;
      const single = tf.slice(x, [0, 0, 0, 0], [1, 4, 6, 2]);
      const gathered = activationsAndGradients(model, single, ['feat'], (logits) => tf.sum(logits));
      expect(gathered.gradients[0]!.dataSync().some((v) => v !== 0)).toBe(true);
      tf.dispose([...gathered.activations, ...gathered.gradients, single]);
      expect(tf.memory().numTensors).toBe(before);

      await saveCheckpoint(model, dir);
      const { model: loaded } = await loadCheckpoint(dir);
      try {
        expect(loaded.getLayer('pool')).toBeInstanceOf(MaxPoolingWithSwitches2D);
        expect(loaded.getLayer('unpool')).toBeInstanceOf(MaxUnpooling2D);
        tf.tidy(() => {
          const a = (model.predict(x) as tf.Tensor).dataSync();
          const b = (loaded.predict(x) as tf.Tensor).dataSync();
          expect(Array.from(b)).toEqual(Array.from(a));
        });
      } finally {
        loaded.dispose();
      }
      x.dispose();
    } finally {
      model.dispose();
    }
  });
});
