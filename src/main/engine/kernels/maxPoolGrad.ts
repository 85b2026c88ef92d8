// MaxPoolGrad for the wasm backend. tfjs-backend-wasm 4.22's kernel loses the gradient of windows whose
// values are all 0 or below (after a ReLU, windows of zeros pass nothing back). Grad-CAM differentiates
// with respect to a layer's output, and there the gradient differed from PyTorch's and from tfjs's cpu
// backend wherever a pool followed; training moves a little too (a voc-mini overfit run by 0.1% pixel
// accuracy after 130 epochs). This one, like both of those, gives each window's
// gradient to its first largest value in row-major order. Runs in the engine process, in JavaScript on
// the wasm heap's views (a pool's gradient is a few multiply-adds per input value).
import * as tf from '@tensorflow/tfjs-core';
import type { WasmBackendLike } from './kernelScope';

/**
 * @param dy `[batch, outHeight, outWidth, channels]`, the gradient of the pool's output
 * @param input `[batch, height, width, channels]`, the pool's input
 * @returns `[batch, height, width, channels]`
 */
function maxPoolGrad(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const dx = backend.makeOutput(input.shape, 'float32');
  // Views last: allocating may grow the heap, which detaches earlier views.
  const x = backend.typedArrayFromHeap(input) as Float32Array;
  const g = backend.typedArrayFromHeap(dy) as Float32Array;
  const out = backend.typedArrayFromHeap(dx) as Float32Array;
  out.fill(0);
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  for (let n = 0; n < batchSize; n++) {
    const base = n * inHeight * inWidth * channels;
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - top;
      const yFrom = Math.max(0, y0);
      const yTo = Math.min(inHeight, y0 + filterHeight);
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * strideWidth - left;
        const xFrom = Math.max(0, x0);
        const xTo = Math.min(inWidth, x0 + filterWidth);
        const o = ((n * outHeight + oy) * outWidth + ox) * channels;
        for (let c = 0; c < channels; c++) {
          let best = -Infinity;
          let at = -1;
          for (let y = yFrom; y < yTo; y++) {
            for (let xx = xFrom; xx < xTo; xx++) {
              const i = base + (y * inWidth + xx) * channels + c;
              if (x[i]! > best) {
                best = x[i]!;
                at = i;
              }
            }
          }
          if (at >= 0) out[at] = out[at]! + g[o + c]!;
        }
      }
    }
  }
  return dx;
}

export function makeMaxPoolGradConfig(): tf.KernelConfig {
  return { kernelName: tf.MaxPoolGrad, backendName: 'wasm', kernelFunc: maxPoolGrad };
}
