// Bilinear upsampling kernels for transposed convolutions, as FCN initialises its upscore layers.
// Runs in the engine process.
import * as tf from '@tensorflow/tfjs-core';

/**
 * The 1-D bilinear weights of Long et al.'s `upsample_filt`: 1 − |i − centre| / factor, with
 * factor = ⌈size / 2⌉ and the centre on a pixel for odd sizes and between two for even ones.
 */
export function bilinearWeights1d(size: number): Float32Array {
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`bilinear kernel size must be a positive integer, got ${size}`);
  const factor = Math.ceil(size / 2);
  const centre = size % 2 === 1 ? factor - 1 : factor - 0.5;
  const w = new Float32Array(size);
  for (let i = 0; i < size; i++) w[i] = 1 - Math.abs(i - centre) / factor;
  return w;
}

/**
 * A conv2dTranspose kernel that upsamples each channel bilinearly and independently: the outer product of
 * the 1-D weights on the diagonal (channel c → channel c), zero elsewhere. With a stride of size/2 and
 * 'same' padding it is exact bilinear interpolation with half-pixel centres away from the border.
 *
 * @returns `[size, size, channels, channels]` (the caller disposes it)
 */
export function bilinearKernel(size: number, channels: number): tf.Tensor4D {
  const w = bilinearWeights1d(size);
  const values = new Float32Array(size * size * channels * channels);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = (w[y] ?? 0) * (w[x] ?? 0);
      const base = (y * size + x) * channels * channels;
      for (let c = 0; c < channels; c++) values[base + c * channels + c] = v;
    }
  }
  return tf.tensor4d(values, [size, size, channels, channels]);
}
