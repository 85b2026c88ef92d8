// The wasm backend's missing Conv2DBackpropFilter (the filter gradient of every conv layer), built from the
// backend's own XNNPACK kernels. Runs in the engine process.
import * as tf from '@tensorflow/tfjs-core';
import { withKernelScope, type WasmBackendLike } from './kernelScope';

/** Attributes tfjs passes; `dilations` is ours (tfjs's conv2d gradient refuses dilations > 1 before here). */
export interface BackpropFilterAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
  dilations?: number | [number, number];
}

/**
 * How the kernel computes dW. Both are exact; they differ in speed. `auto` takes the per-tap matmul for
 * filters of up to 3×3 (1.3–2× faster than the conv form on VGG-sized layers, 2-core Xeon) and the
 * transposed conv for larger ones, where a matmul per tap costs more than one conv (FCN's 16×16 upscore8:
 * 70 ms against 2 ms).
 */
export type BackpropFilterMethod = 'auto' | 'matmul' | 'conv';

/** Largest filter (height × width) that `auto` computes by per-tap matmuls. */
export const MATMUL_MAX_TAPS = 9;

function convInfo(
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  attrs: BackpropFilterAttrs,
): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat !== 'NHWC') {
    throw new Error(`Conv2DBackpropFilter on wasm supports only NHWC, got ${attrs.dataFormat}`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  if (dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth) {
    throw new Error(`Conv2DBackpropFilter: dy ${dy.shape} does not match the conv output ${info.outShape}`);
  }
  return info;
}

/**
 * dW[kh, kw] = X(kh, kw)ᵀ · dy, one matrix product per filter tap, where X(kh, kw) is the input shifted by
 * the tap, subsampled by the stride and flattened to [batch·outHeight·outWidth, inChannels]. The input is
 * padded and transposed to channels-first once, so each tap is a single strided slice [inChannels, N] and
 * the product a plain [inChannels, N] × [N, outChannels] GEMM.
 *
 * @param x `[batch, height, width, inChannels]`
 * @param dy `[batch, outHeight, outWidth, outChannels]`
 * @returns `[filterHeight, filterWidth, inChannels, outChannels]`
 */
export function conv2dBackpropFilterMatmul(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  attrs: BackpropFilterAttrs,
): tf.TensorInfo {
  const info = convInfo(x, dy, attrs);
  const {
    batchSize,
    inHeight,
    inWidth,
    outHeight,
    outWidth,
    filterHeight,
    filterWidth,
    inChannels,
    outChannels,
  } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, padInfo } = info;
  // Rows past the input that some tap reads (padding) and rows no tap reads (dropped by the slices).
  const padBottom = Math.max(
    0,
    (outHeight - 1) * sh + (filterHeight - 1) * dh - padInfo.top - (inHeight - 1),
  );
  const padRight = Math.max(0, (outWidth - 1) * sw + (filterWidth - 1) * dw - padInfo.left - (inWidth - 1));
  const n = batchSize * outHeight * outWidth;

  return withKernelScope(backend, (k) => {
    let padded = x;
    if (padInfo.top > 0 || padInfo.left > 0 || padBottom > 0 || padRight > 0) {
      padded = k.run(
        'PadV2',
        { x },
        {
          paddings: [
            [0, 0],
            [padInfo.top, padBottom],
            [padInfo.left, padRight],
            [0, 0],
          ],
          constantValue: 0,
        },
      );
    }
    const xT = k.run('Transpose', { x: padded }, { perm: [3, 0, 1, 2] });
    if (padded !== x) k.drop(padded);
    const dy2 = k.reshape(dy, [n, outChannels]);
    const taps: tf.TensorInfo[] = [];
    for (let kh = 0; kh < filterHeight; kh++) {
      for (let kw = 0; kw < filterWidth; kw++) {
        const shifted = k.run(
          'StridedSlice',
          { x: xT },
          {
            begin: [0, 0, kh * dh, kw * dw],
            end: [
              inChannels,
              batchSize,
              kh * dh + (outHeight - 1) * sh + 1,
              kw * dw + (outWidth - 1) * sw + 1,
            ],
            strides: [1, 1, sh, sw],
            beginMask: 0,
            endMask: 0,
            ellipsisMask: 0,
            newAxisMask: 0,
            shrinkAxisMask: 0,
          },
        );
        const a = k.reshape(shifted, [inChannels, n]);
        taps.push(k.run('BatchMatMul', { a, b: dy2 }, { transposeA: false, transposeB: false }));
        k.drop(a);
        k.drop(shifted);
      }
    }
    // Tap t's [inChannels, outChannels] block is exactly slice t of the [FH·FW, Ci, Co] result.
    const out = k.output([filterHeight, filterWidth, inChannels, outChannels]);
    const dst = k.view(out);
    const block = inChannels * outChannels;
    taps.forEach((t, i) => dst.set(k.view(t).subarray(0, block), i * block));
    return out;
  });
}

/**
 * dW[kh, kw, ci, co] = Σ_{b, oh, ow} x[b, oh·s + kh·d − pad, ow·s + kw·d − pad, ci] · dy[b, oh, ow, co].
 *
 * Read with ci as the batch, b as the channels and dy as the filter, this is an ordinary forward conv:
 * x transposed to [ci, H, W, b] convolved with dy transposed to [OH, OW, b, co], with the original
 * dilation as its stride and the original stride as its dilation. Its output [ci, FH, FW, co] is transposed
 * back to the filter layout [FH, FW, ci, co].
 *
 * @param x `[batch, height, width, inChannels]`
 * @param dy `[batch, outHeight, outWidth, outChannels]`
 * @returns `[filterHeight, filterWidth, inChannels, outChannels]`
 */
export function conv2dBackpropFilterConv(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  attrs: BackpropFilterAttrs,
): tf.TensorInfo {
  const info = convInfo(x, dy, attrs);
  const { inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, inChannels, outChannels } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth, padInfo } = info;
  // Enough bottom/right padding that the conv yields at least FH × FW positions; a surplus is sliced off.
  const padBottom = Math.max(
    0,
    (filterHeight - 1) * dilationHeight + (outHeight - 1) * strideHeight + 1 - inHeight - padInfo.top,
  );
  const padRight = Math.max(
    0,
    (filterWidth - 1) * dilationWidth + (outWidth - 1) * strideWidth + 1 - inWidth - padInfo.left,
  );

  return withKernelScope(backend, (k) => {
    const xT = k.run('Transpose', { x }, { perm: [3, 1, 2, 0] });
    const dyT = k.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
    let g = k.run(
      'Conv2D',
      { x: xT, filter: dyT },
      {
        strides: [dilationHeight, dilationWidth],
        dilations: [strideHeight, strideWidth],
        pad: [
          [0, 0],
          [padInfo.top, padBottom],
          [padInfo.left, padRight],
          [0, 0],
        ],
        dataFormat: 'NHWC',
      },
    );
    if (g.shape[1] !== filterHeight || g.shape[2] !== filterWidth) {
      g = k.run(
        'Slice',
        { x: g },
        { begin: [0, 0, 0, 0], size: [inChannels, filterHeight, filterWidth, outChannels] },
      );
    }
    return k.run('Transpose', { x: g }, { perm: [1, 2, 0, 3] });
  });
}

/** Builds the kernel config registered for backend 'wasm', computing dW by `method`. */
export function makeConv2dBackpropFilterConfig(method: BackpropFilterMethod = 'auto'): tf.KernelConfig {
  return {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const a = attrs as unknown as BackpropFilterAttrs;
      const taps = a.filterShape[0] * a.filterShape[1];
      const useMatmul = method === 'matmul' || (method === 'auto' && taps <= MATMUL_MAX_TAPS);
      const impl = useMatmul ? conv2dBackpropFilterMatmul : conv2dBackpropFilterConv;
      return impl(backend as WasmBackendLike, x, dy, a);
    },
  };
}
