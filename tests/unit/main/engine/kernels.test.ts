// Segscope's wasm kernels against the cpu backend and against direct formulas, plus the bilinear mode the
// models train with, checked by numerical gradients. The convolution kernels are checked on both of their
// paths: the wasm kernels (filter gradient by each method) and ONNX Runtime's native kernels.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  isSegscopeKernel,
  registerCpuKernels,
  registerWasmKernels,
  SEGSCOPE_WASM_KERNELS,
} from '../../../../src/main/engine/kernels';
import {
  makeConv2dBackpropFilterConfig,
  type BackpropFilterMethod,
} from '../../../../src/main/engine/kernels/conv2dBackpropFilter';
import { planAxis } from '../../../../src/main/engine/kernels/conv2dBackpropInput';
import {
  MAX_FILTER_GRAD_TAPS,
  nativeConvRuns,
  setNativeConvsEnabled,
} from '../../../../src/main/engine/kernels/nativeConv';
import { backendDataIds, onBackends, relL2, seeded, sizeOf, use } from './helpers';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

const TOL = 1e-5;

beforeAll(async () => {
  await use('wasm');
});

/** Where the wasm backend's convolutions run: its own kernels (dW by one method), or ONNX Runtime. */
type ConvPath = BackpropFilterMethod | 'onnxruntime';
const PATHS: ConvPath[] = ['matmul', 'conv', 'onnxruntime'];

type Runs = ReturnType<typeof nativeConvRuns>;

/**
 * Runs `fn` with the convolutions on `path`, then restores Segscope's registration and the native
 * setting. Returns how many convolutions of each kind ran on ONNX Runtime meanwhile.
 */
async function withPath<T>(path: ConvPath, fn: () => Promise<T> | T): Promise<{ out: T; native: Runs }> {
  const before = nativeConvRuns();
  const was = setNativeConvsEnabled(path === 'onnxruntime');
  if (path !== 'onnxruntime') {
    tf.unregisterKernel(tf.Conv2DBackpropFilter, 'wasm');
    tf.registerKernel(makeConv2dBackpropFilterConfig(path));
  }
  try {
    const out = await fn();
    const after = nativeConvRuns();
    return {
      out,
      native: {
        forward: after.forward - before.forward,
        filterGrad: after.filterGrad - before.filterGrad,
        inputGrad: after.inputGrad - before.inputGrad,
      },
    };
  } finally {
    setNativeConvsEnabled(was);
    if (path !== 'onnxruntime') {
      tf.unregisterKernel(tf.Conv2DBackpropFilter, 'wasm');
      registerWasmKernels();
    }
  }
}

/** op(x, f) and the gradients of Σ op(x, f)·r for x and f, r seeded by `rSeed` in op's output shape. */
function withGrads(
  op: (x: tf.Tensor4D, f: tf.Tensor4D) => tf.Tensor,
  x: tf.Tensor4D,
  f: tf.Tensor4D,
  rSeed: number,
): { y: tf.Tensor; dx: tf.Tensor; df: tf.Tensor } {
  const y = op(x, f);
  const r = tf.tensor(seeded(y.size, rSeed), y.shape);
  const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(op(a as tf.Tensor4D, b as tf.Tensor4D), r)),
  )([x, f]);
  if (dx == null || df == null) throw new Error('missing gradient');
  return { y, dx, df };
}

function expectWasmMatchesCpu(res: Record<'cpu' | 'wasm', Record<'y' | 'dx' | 'df', Float32Array>>): void {
  for (const k of ['y', 'dx', 'df'] as const) expect(relL2(res.wasm[k], res.cpu[k]), k).toBeLessThan(TOL);
}

/** On the native path, each kind of convolution the computation used ran there (else none did). */
function expectPath(path: ConvPath, native: Runs, kinds: (keyof Runs)[]): void {
  for (const kind of kinds) {
    if (path === 'onnxruntime') expect(native[kind], kind).toBeGreaterThan(0);
    else expect(native[kind], kind).toBe(0);
  }
}

interface ConvCase {
  x: Shape4;
  f: Shape4;
  strides: number | [number, number];
  pad: Pad;
  note: string;
}

const convCases: ConvCase[] = [
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same', note: '3×3 same' },
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], strides: 1, pad: 'valid', note: '3×3 valid' },
  { x: [2, 10, 9, 3], f: [3, 3, 3, 4], strides: 2, pad: 'same', note: 'stride 2 same, odd width' },
  { x: [2, 10, 11, 3], f: [3, 3, 3, 4], strides: 2, pad: 'valid', note: 'stride 2 valid with leftover' },
  { x: [1, 9, 7, 2], f: [5, 4, 2, 3], strides: [3, 2], pad: 'same', note: 'unequal strides, even kernel' },
  { x: [1, 9, 7, 2], f: [1, 1, 2, 3], strides: 2, pad: 'valid', note: '1×1 stride 2: phases without taps' },
  {
    x: [2, 8, 8, 3],
    f: [3, 3, 3, 2],
    strides: 1,
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
    note: 'explicit asymmetric padding',
  },
  { x: [2, 12, 12, 3], f: [7, 7, 3, 5], strides: 1, pad: 'valid', note: '7×7 valid (fc6-like)' },
  { x: [1, 8, 8, 3], f: [3, 3, 3, 2], strides: 1, pad: 1, note: 'numeric padding' },
  {
    x: [1, 6, 6, 2],
    f: [3, 3, 2, 2],
    strides: 1,
    pad: [
      [0, 0],
      [3, 3],
      [3, 3],
      [0, 0],
    ],
    note: 'padding wider than the kernel: stock fallback',
  },
];

describe.each(PATHS)('conv2d and its gradients on wasm (%s) match cpu', (path) => {
  it.each(convCases)('$note: x $x, filter $f, strides $strides', async (c) => {
    const xv = seeded(sizeOf(c.x), 1);
    const fv = seeded(sizeOf(c.f), 2);
    const { out: res, native } = await withPath(path, () =>
      onBackends(['cpu', 'wasm'], () => {
        const conv = (x: tf.Tensor4D, f: tf.Tensor4D) => tf.conv2d(x, f, c.strides, c.pad);
        return withGrads(conv, tf.tensor4d(xv, c.x), tf.tensor4d(fv, c.f), 3);
      }),
    );
    expectWasmMatchesCpu(res);
    expectPath(path, native, ['forward', 'filterGrad']);
  });
});

interface TransposeCase {
  x: Shape4;
  f: Shape4;
  out: Shape4;
  strides: number;
  pad: 'same' | 'valid';
  note: string;
}

const transposeCases: TransposeCase[] = [
  { x: [2, 4, 4, 6], f: [2, 2, 3, 6], out: [2, 8, 8, 3], strides: 2, pad: 'same', note: 'U-Net 2×2 up-conv' },
  { x: [1, 5, 3, 3], f: [4, 4, 3, 3], out: [1, 10, 6, 3], strides: 2, pad: 'same', note: 'FCN upscore2' },
  { x: [1, 2, 3, 2], f: [16, 16, 2, 2], out: [1, 16, 24, 2], strides: 8, pad: 'same', note: 'FCN upscore8' },
  {
    x: [1, 4, 4, 2],
    f: [3, 3, 4, 2],
    out: [1, 9, 9, 4],
    strides: 2,
    pad: 'valid',
    note: '3×3 stride 2 valid',
  },
  { x: [2, 5, 5, 2], f: [3, 3, 2, 2], out: [2, 5, 5, 2], strides: 1, pad: 'same', note: 'stride 1' },
];

describe.each(PATHS)('conv2dTranspose on wasm (%s) matches cpu, forward and both gradients', (path) => {
  it.each(transposeCases)('$note: x $x, filter $f, stride $strides', async (c) => {
    const xv = seeded(sizeOf(c.x), 4);
    const fv = seeded(sizeOf(c.f), 5);
    const { out: res, native } = await withPath(path, () =>
      onBackends(['cpu', 'wasm'], () => {
        const up = (x: tf.Tensor4D, f: tf.Tensor4D) => tf.conv2dTranspose(x, f, c.out, c.strides, c.pad);
        return withGrads(up, tf.tensor4d(xv, c.x), tf.tensor4d(fv, c.f), 6);
      }),
    );
    expectWasmMatchesCpu(res);
    // Filters beyond MAX_FILTER_GRAD_TAPS (FCN's 16×16) keep their filter gradient on wasm.
    expectPath(path, native, ['forward', 'inputGrad']);
    if (path === 'onnxruntime') {
      expect(native.filterGrad > 0).toBe(c.f[0] * c.f[1] <= MAX_FILTER_GRAD_TAPS);
    }
  });
});

/** dW[kh, kw, ci, co] = Σ x[b, oh·s + kh·d − top, ow·s + kw·d − left, ci] · dy[b, oh, ow, co], in float64. */
function naiveFilterGrad(
  x: Float32Array,
  xs: Shape4,
  dy: Float32Array,
  dys: Shape4,
  f: Shape4,
  s: [number, number],
  d: [number, number],
  top: number,
  left: number,
): Float64Array {
  const [B, H, W, Ci] = xs;
  const [, OH, OW, Co] = dys;
  const [FH, FW] = f;
  const out = new Float64Array(sizeOf(f));
  for (let kh = 0; kh < FH; kh++)
    for (let kw = 0; kw < FW; kw++)
      for (let ci = 0; ci < Ci; ci++)
        for (let co = 0; co < Co; co++) {
          let acc = 0;
          for (let b = 0; b < B; b++)
            for (let oh = 0; oh < OH; oh++)
              for (let ow = 0; ow < OW; ow++) {
                const ih = oh * s[0] + kh * d[0] - top;
                const iw = ow * s[1] + kw * d[1] - left;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc +=
                  (x[((b * H + ih) * W + iw) * Ci + ci] ?? 0) *
                  (dy[((b * OH + oh) * OW + ow) * Co + co] ?? 0);
              }
          out[((kh * FW + kw) * Ci + ci) * Co + co] = acc;
        }
  return out;
}

describe.each(PATHS)('Conv2DBackpropFilter on wasm (%s) against the formula', (path) => {
  const cases: {
    x: Shape4;
    f: Shape4;
    s: [number, number];
    d: [number, number];
    pad: [number, number, number, number];
  }[] = [
    { x: [2, 9, 8, 3], f: [3, 3, 3, 2], s: [1, 1], d: [2, 2], pad: [2, 1, 1, 2] },
    { x: [1, 10, 10, 2], f: [3, 2, 2, 3], s: [1, 1], d: [3, 2], pad: [0, 0, 0, 0] },
    { x: [2, 11, 9, 2], f: [3, 3, 2, 2], s: [2, 3], d: [1, 1], pad: [1, 0, 0, 1] },
  ];
  it.each(cases)('x $x, filter $f, strides $s, dilations $d, pads $pad', async (c) => {
    const [top, bottom, left, right] = c.pad;
    const oh = Math.floor((c.x[1] + top + bottom - ((c.f[0] - 1) * c.d[0] + 1)) / c.s[0]) + 1;
    const ow = Math.floor((c.x[2] + left + right - ((c.f[1] - 1) * c.d[1] + 1)) / c.s[1]) + 1;
    const dys: Shape4 = [c.x[0], oh, ow, c.f[3]];
    const xv = seeded(sizeOf(c.x), 7);
    const dyv = seeded(sizeOf(dys), 8);
    const { out: got, native } = await withPath(path, () =>
      tf.tidy(() => {
        const out = tf.engine().runKernel(
          tf.Conv2DBackpropFilter,
          { x: tf.tensor4d(xv, c.x), dy: tf.tensor4d(dyv, dys) },
          {
            strides: c.s,
            dilations: c.d,
            pad: [
              [0, 0],
              [top, bottom],
              [left, right],
              [0, 0],
            ],
            dataFormat: 'NHWC',
            filterShape: c.f,
          },
        ) as tf.Tensor;
        expect(out.shape).toEqual(c.f);
        return out.dataSync();
      }),
    );
    const want = naiveFilterGrad(xv, c.x, dyv, dys, c.f, c.s, c.d, top, left);
    expect(relL2(got, want)).toBeLessThan(TOL);
    expectPath(path, native, ['filterGrad']);
  });
});

describe('Conv2DBackpropInput phase plan', () => {
  it('splits a 3×3 stride-2 same-padded kernel into phases with the right taps', () => {
    // Forward y[o] = x[2o]·w0 + x[2o+1]·w1 + x[2o+2]·w2, so dx[2q] = dy[q]·w0 + dy[q−1]·w2 and
    // dx[2q+1] = dy[q]·w1: two taps, one row of padding before dy, and index 3 (zero) for the empty slot.
    const plan = planAxis(8, 4, 3, 2, 0);
    expect(plan.taps).toBe(2);
    expect(plan.padBefore).toBe(1);
    expect(Array.from(plan.source)).toEqual([2, 3, 0, 1]);
    expect(plan.padAfter).toBe(0);
  });

  it('reverses the kernel at stride 1', () => {
    const plan = planAxis(5, 5, 3, 1, 1);
    expect(Array.from(plan.source)).toEqual([2, 1, 0]);
    expect([plan.taps, plan.padBefore, plan.padAfter]).toEqual([3, 1, 1]);
  });

  it('asks for negative padding (so the stock kernel runs) when the forward padding exceeds the kernel', () => {
    // The 'padding wider than the kernel' case above: 3×3, stride 1, 3 rows of padding each side.
    expect(planAxis(6, 10, 3, 1, 3).padBefore).toBeLessThan(0);
  });
});

describe('kernel registration', () => {
  it('installs our kernels once and keeps them on a second call', () => {
    for (const name of SEGSCOPE_WASM_KERNELS) expect(isSegscopeKernel(name, 'wasm')).toBe(true);
    const before = SEGSCOPE_WASM_KERNELS.map((n) => tf.getKernel(n, 'wasm'));
    registerWasmKernels();
    registerCpuKernels();
    registerCpuKernels();
    expect(SEGSCOPE_WASM_KERNELS.map((n) => tf.getKernel(n, 'wasm'))).toEqual(before);
    expect(isSegscopeKernel(tf.ResizeBilinearGrad, 'cpu')).toBe(true);
  });
});

describe('tensor hygiene', () => {
  it('holds tensors and backend buffers steady across repeated gradient calls', async () => {
    await use('wasm');
    const x = tf.tensor4d(seeded(2 * 8 * 8 * 4, 9), [2, 8, 8, 4]);
    const f = tf.tensor4d(seeded(3 * 3 * 4 * 6, 10), [3, 3, 4, 6]);
    const u = tf.tensor4d(seeded(2 * 2 * 6 * 6, 11), [2, 2, 6, 6]);
    const step = () =>
      tf.tidy(() => {
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
          const y = tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'));
          const z = tf.conv2dTranspose(y, c as tf.Tensor4D, [2, 8, 8, 6], 2, 'same');
          return tf.sum(tf.square(z));
        })([x, f, u]);
        return tf.addN(g.map((t) => tf.sum(t))).dataSync()[0];
      });
    step();
    const tensors = tf.memory().numTensors;
    const buffers = backendDataIds();
    for (let i = 0; i < 5; i++) expect(Number.isFinite(step())).toBe(true);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(backendDataIds()).toBe(buffers);
    tf.dispose([x, f, u]);
  });
});

/** ∇x of Σ resizeBilinear(x)·r by tf.grad, and by central differences on each input element. */
function bilinearGradients(
  shape: Shape4,
  size: [number, number],
  alignCorners: boolean,
  halfPixelCenters: boolean,
): { analytic: Float32Array; numeric: Float32Array } {
  const xv = seeded(sizeOf(shape), 12);
  const r = tf.tensor4d(seeded(shape[0] * size[0] * size[1] * shape[3], 13), [shape[0], ...size, shape[3]]);
  const f = (x: tf.Tensor) =>
    tf.sum(tf.mul(tf.image.resizeBilinear(x as tf.Tensor4D, size, alignCorners, halfPixelCenters), r));
  const value = (v: Float32Array) => tf.tidy(() => f(tf.tensor4d(v, shape)).dataSync()[0] ?? NaN);
  const analytic = tf.tidy(() => tf.grad(f)(tf.tensor4d(xv, shape)).dataSync() as Float32Array);
  const h = 1e-2;
  const numeric = new Float32Array(xv.length);
  for (let i = 0; i < xv.length; i++) {
    const plus = xv.slice();
    const minus = xv.slice();
    plus[i] = (plus[i] ?? 0) + h;
    minus[i] = (minus[i] ?? 0) - h;
    numeric[i] = (value(plus) - value(minus)) / (2 * h);
  }
  r.dispose();
  return { analytic, numeric };
}

describe('bilinear upsampling as the models train it', () => {
  it("is UpSampling2D 'bilinear': alignCorners and halfPixelCenters both false", async () => {
    await use('wasm');
    tf.tidy(() => {
      const x = tf.tensor4d(seeded(1 * 3 * 5 * 2, 14), [1, 3, 5, 2]);
      const layer = tfl.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' });
      const y = layer.apply(x) as tf.Tensor;
      const plain = tf.image.resizeBilinear(x, [6, 10], false, false);
      const halfPixel = tf.image.resizeBilinear(x, [6, 10], false, true);
      expect(relL2(y.dataSync(), plain.dataSync())).toBe(0);
      expect(relL2(y.dataSync(), halfPixel.dataSync())).toBeGreaterThan(1e-2);
    });
  });

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`has a correct gradient on ${backend}, square and non-square`, async () => {
      await use(backend);
      for (const [shape, size] of [
        [
          [1, 3, 3, 2],
          [6, 6],
        ],
        [
          [2, 3, 4, 2],
          [6, 8],
        ],
      ] as [Shape4, [number, number]][]) {
        const { analytic, numeric } = bilinearGradients(shape, size, false, false);
        expect(relL2(analytic, numeric)).toBeLessThan(1e-3);
      }
    });
  }

  it('tfjs 4.22 ResizeBilinearGrad ignores halfPixelCenters, which is why the models avoid it', async () => {
    // If this starts failing, tfjs fixed the bug and halfPixelCenters (Keras's mode) becomes trainable.
    await use('wasm');
    const { analytic, numeric } = bilinearGradients([1, 3, 4, 2], [6, 8], false, true);
    expect(relL2(analytic, numeric)).toBeGreaterThan(0.1);
  });
});

describe('FusedBatchNorm gradient', () => {
  it('equals the stock tiled formulas bit for bit, without a Tile kernel', async () => {
    await use('wasm');
    const shape: Shape4 = [2, 3, 5, 4];
    const x = tf.tensor4d(seeded(sizeOf(shape), 11), shape);
    const dy = tf.tensor4d(seeded(sizeOf(shape), 12), shape);
    const scale = tf.tensor1d(seeded(4, 13));
    const offset = tf.tensor1d(seeded(4, 14));
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const eps = 1e-3;
    const f = (a: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
      tf.batchNorm(
        a as tf.Tensor4D,
        m as tf.Tensor1D,
        v as tf.Tensor1D,
        o as tf.Tensor1D,
        s as tf.Tensor1D,
        eps,
      );
    let grads: tf.Tensor[] = [];
    const info = await tf.profile(() => {
      grads = tf.grads(f)([x, mean, variance, scale, offset], dy);
    });
    expect(info.kernelNames).not.toContain(tf.Tile);
    // The stock gradient's own ops, tile included.
    const rstd = tf.rsqrt(tf.add(variance, tf.scalar(eps)));
    const tiled = tf.tile(tf.reshape(rstd, [1, 1, 1, 4]), [2, 3, 5, 1]);
    const xm = tf.sub(x, mean);
    const dys = tf.mul(dy, scale);
    const cube = tf.mul(tf.mul(tf.mul(rstd, rstd), rstd), tf.scalar(-0.5));
    const axes = [0, 1, 2];
    const want = [
      tf.mul(tf.mul(dy, tiled), scale),
      tf.sum(tf.mul(tf.mul(rstd, tf.scalar(-1)), dys), axes),
      tf.sum(tf.mul(tf.mul(cube, xm), dys), axes),
      tf.sum(tf.mul(dy, tf.mul(xm, rstd)), axes),
      tf.sum(dy, axes),
    ];
    for (let i = 0; i < want.length; i++) {
      expect(grads[i]!.shape).toEqual(want[i]!.shape);
      expect(Array.from(await grads[i]!.data())).toEqual(Array.from(await want[i]!.data()));
    }
    tf.dispose([x, dy, scale, offset, mean, variance, rstd, tiled, xm, dys, cube, ...want, ...grads]);
  });
});

describe('MaxPoolGrad on wasm', () => {
  /** Each window's gradient to its first largest value in row-major order, as PyTorch and tfjs's cpu do. */
  function reference(
    x: Float32Array,
    shape: Shape4,
    dy: Float32Array,
    k: number,
    s: number,
    pad: 'same' | 'valid',
  ) {
    const [n, h, w, c] = shape;
    const info = tf.backend_util.computePool2DInfo(shape, k, s, 1, pad);
    const out = new Float32Array(x.length);
    for (let b = 0; b < n; b++)
      for (let oy = 0; oy < info.outHeight; oy++)
        for (let ox = 0; ox < info.outWidth; ox++)
          for (let ch = 0; ch < c; ch++) {
            let best = -Infinity;
            let at = -1;
            for (let dy0 = 0; dy0 < k; dy0++)
              for (let dx0 = 0; dx0 < k; dx0++) {
                const y = oy * s - info.padInfo.top + dy0;
                const xx = ox * s - info.padInfo.left + dx0;
                if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
                const i = ((b * h + y) * w + xx) * c + ch;
                if (x[i]! > best) [best, at] = [x[i]!, i];
              }
            out[at] = out[at]! + dy[((b * info.outHeight + oy) * info.outWidth + ox) * c + ch]!;
          }
    return out;
  }

  for (const [k, s, pad, shape] of [
    [2, 2, 'valid', [2, 8, 6, 3]],
    [3, 2, 'same', [1, 9, 7, 2]],
  ] as const) {
    it(`passes the gradient of windows of zeros and of negatives back (${k}×${k} stride ${s} ${pad})`, async () => {
      await use('wasm');
      expect(isSegscopeKernel(tf.MaxPoolGrad, 'wasm')).toBe(true);
      // A third zeros (as after a ReLU), a third negative, a third mixed: ties and windows below 0.
      const values = seeded(sizeOf(shape as unknown as Shape4), 31).map((v, i) =>
        i % 3 === 0 ? 0 : i % 3 === 1 ? -Math.abs(v) : v,
      );
      const x = tf.tensor4d(values, shape as unknown as Shape4);
      const outShape = tf.maxPool(x, k, s, pad).shape;
      const dy = seeded(sizeOf(outShape), 32);
      const dx = tf.grad((a: tf.Tensor) =>
        tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, k, s, pad), tf.tensor(dy, outShape))),
      )(x);
      const expected = reference(values, shape as unknown as Shape4, dy, k, s, pad);
      expect(Array.from(await dx.data())).toEqual(Array.from(expected));
      tf.dispose([x, dx]);
    });
  }
});
