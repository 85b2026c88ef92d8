// A faster wasm Conv2DBackpropInput (the input gradient of conv layers, and the forward pass of
// conv2dTranspose), built from the backend's XNNPACK Conv2D. Runs in the engine process.
import * as tf from '@tensorflow/tfjs-core';
import { withKernelScope, type KernelScope, type WasmBackendLike } from './kernelScope';

/** Attributes tfjs passes to Conv2DBackpropInput. */
export interface BackpropInputAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

/**
 * How one spatial axis of the transposed conv splits into stride phases. Output row i = q·s + p receives
 * dy[q + c_p − m] · w[k0_p + m·s] for every tap m with k0_p + m·s < F, where k0_p = (p + pad) mod s and
 * c_p = ⌊(p + pad) / s⌋. All phases share one stride-1 conv whose T taps span every offset c_p − m.
 */
export interface AxisPlan {
  /** Taps of the combined stride-1 filter along this axis. */
  taps: number;
  /** Padding before dy along this axis (−min offset); negative means the fast path cannot be used. */
  padBefore: number;
  /** Padding after dy so that the conv yields ⌈size / s⌉ positions (clamped at 0; extra is sliced). */
  padAfter: number;
  /** For tap j and phase p, at `j * stride + p`: the original filter index, or `filterSize` for "no tap". */
  source: Int32Array;
}

/** Plans one axis. `size` is the forward input size, `outSize` dy's size, `pad` the forward front padding. */
export function planAxis(
  size: number,
  outSize: number,
  filterSize: number,
  stride: number,
  pad: number,
): AxisPlan {
  let minOff = Infinity;
  let maxOff = -Infinity;
  for (let p = 0; p < stride; p++) {
    const c = Math.floor((p + pad) / stride);
    const k0 = (p + pad) % stride;
    for (let m = 0; k0 + m * stride < filterSize; m++) {
      minOff = Math.min(minOff, c - m);
      maxOff = Math.max(maxOff, c - m);
    }
  }
  const taps = maxOff - minOff + 1;
  const padBefore = -minOff;
  const source = new Int32Array(taps * stride).fill(filterSize);
  for (let p = 0; p < stride; p++) {
    const c = Math.floor((p + pad) / stride);
    const k0 = (p + pad) % stride;
    for (let m = 0; k0 + m * stride < filterSize; m++) {
      const j = c - m + padBefore;
      source[j * stride + p] = k0 + m * stride;
    }
  }
  const positions = Math.ceil(size / stride);
  const padAfter = Math.max(0, positions - 1 + taps - padBefore - outSize);
  return { taps, padBefore, padAfter, source };
}

/**
 * Scatters the phase channels of the combined conv back to pixels.
 *
 * @param y `[batch, ⌈H/sh⌉, ⌈W/sw⌉, sh·sw·channels]`
 * @returns `[batch, ⌈H/sh⌉·sh, ⌈W/sw⌉·sw, channels]`
 */
function interleavePhases(
  k: KernelScope,
  y: tf.TensorInfo,
  sh: number,
  sw: number,
  channels: number,
): tf.TensorInfo {
  if (sh === 1 && sw === 1) return y;
  const [b = 0, qh = 0, qw = 0] = y.shape;
  // Channel index (ph·sw + pw)·C + c is exactly DepthToSpace's layout when the strides agree.
  if (sh === sw) return k.run('DepthToSpace', { x: y }, { blockSize: sh, dataFormat: 'NHWC' });
  const six = k.reshape(y, [b, qh, qw, sh, sw, channels]);
  const moved = k.run('Transpose', { x: six }, { perm: [0, 1, 3, 2, 4, 5] });
  return k.reshape(moved, [b, qh * sh, qw * sw, channels]);
}

/**
 * dx for a stride-s conv as one stride-1 conv of dy with a rearranged filter, then a depth-to-space.
 * Returns null where the plan needs negative padding (explicit pads wider than the filter), so the caller
 * can fall back to the stock kernel.
 *
 * @param dy `[batch, outHeight, outWidth, outChannels]`
 * @param filter `[filterHeight, filterWidth, inChannels, outChannels]`
 * @returns `[batch, height, width, inChannels]` (attrs.inputShape)
 */
export function conv2dBackpropInputWasm(
  backend: WasmBackendLike,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  attrs: BackpropInputAttrs,
): tf.TensorInfo | null {
  if (attrs.dataFormat !== 'NHWC') return null;
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize, inHeight, inWidth, inChannels, outChannels, filterHeight, filterWidth } = info;
  const { strideHeight: sh, strideWidth: sw, padInfo } = info;
  if (dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth) {
    throw new Error(`Conv2DBackpropInput: dy ${dy.shape} does not match the conv output ${info.outShape}`);
  }
  const ph = planAxis(inHeight, info.outHeight, filterHeight, sh, padInfo.top);
  const pw = planAxis(inWidth, info.outWidth, filterWidth, sw, padInfo.left);
  if (ph.padBefore < 0 || pw.padBefore < 0) return null;

  return withKernelScope(backend, (k) => {
    // [FH, FW, Ci, Co] → [FH, FW, Co, Ci]: dy's channels become the conv's input channels, and each
    // (tap, output channel) pair is then a contiguous run of Ci values to copy.
    const wT = k.run('Transpose', { x: filter }, { perm: [0, 1, 3, 2] });
    const phases = sh * sw;
    const g = k.output([ph.taps, pw.taps, outChannels, phases * inChannels]);
    const src = k.view(wT);
    const dst = k.view(g);
    // g[jh, jw, o, (ph·sw + pw)·Ci + c] = wT[kh, kw, o, c], or 0 where the phase has no tap there.
    for (let jh = 0; jh < ph.taps; jh++) {
      for (let jw = 0; jw < pw.taps; jw++) {
        for (let o = 0; o < outChannels; o++) {
          for (let rh = 0; rh < sh; rh++) {
            const kh = ph.source[jh * sh + rh] ?? filterHeight;
            for (let rw = 0; rw < sw; rw++) {
              const kw = pw.source[jw * sw + rw] ?? filterWidth;
              const at = (((jh * pw.taps + jw) * outChannels + o) * phases + rh * sw + rw) * inChannels;
              if (kh === filterHeight || kw === filterWidth) {
                dst.fill(0, at, at + inChannels);
              } else {
                const from = ((kh * filterWidth + kw) * outChannels + o) * inChannels;
                dst.set(src.subarray(from, from + inChannels), at);
              }
            }
          }
        }
      }
    }
    k.drop(wT);
    const y = k.run(
      'Conv2D',
      { x: dy, filter: g },
      {
        strides: [1, 1],
        dilations: [1, 1],
        pad: [
          [0, 0],
          [ph.padBefore, ph.padAfter],
          [pw.padBefore, pw.padAfter],
          [0, 0],
        ],
        dataFormat: 'NHWC',
      },
    );
    const dx = interleavePhases(k, y, sh, sw, inChannels);
    if (dx.shape[1] === inHeight && dx.shape[2] === inWidth) return dx;
    return k.run(
      'Slice',
      { x: dx },
      { begin: [0, 0, 0, 0], size: [batchSize, inHeight, inWidth, inChannels] },
    );
  });
}

/**
 * Builds the replacement config. `stock` is the backend's own kernel, used where the fast path does not
 * apply; its setup still has to run, so ours forwards to it.
 */
export function makeConv2dBackpropInputConfig(stock: tf.KernelConfig | undefined): tf.KernelConfig {
  return {
    kernelName: tf.Conv2DBackpropInput,
    backendName: 'wasm',
    setupFunc: stock?.setupFunc,
    disposeFunc: stock?.disposeFunc,
    kernelFunc: (args) => {
      const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const fast = conv2dBackpropInputWasm(
        args.backend as WasmBackendLike,
        dy,
        filter,
        args.attrs as unknown as BackpropInputAttrs,
      );
      if (fast != null) return fast;
      if (stock == null) throw new Error('Conv2DBackpropInput: no stock wasm kernel to fall back to');
      return stock.kernelFunc(args);
    },
  };
}
