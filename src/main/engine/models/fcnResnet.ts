// The fully convolutional network of Dive into Deep Learning's chapter "Fully Convolutional Networks": a
// ResNet-18 without its global pooling and classifier, a 1×1 conv to the classes and one transposed conv
// that upsamples ×32, initialised as bilinear interpolation. Runs in the engine process.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { bilinearKernel } from './bilinear';
import { apply, assertDivisible, glorot, inputDims, Seeds } from './layers';
import { resnetEncoder } from './resnet';

export interface FcnResNetOptions {
  numClasses: number;
  /** A side, or `[height, width]`; each must be divisible by 32, the backbone's output stride. */
  inputSize: number | readonly [number, number];
  /** The backbone's first width (64 as published); tests use fewer. */
  baseFilters?: number;
  seed?: number;
}

/**
 * ResNet-18 (`resnetEncoder`, output stride 32) → `final_conv` (1×1 to the classes) → `transpose_conv`
 * (kernel 64, stride 32, with bias, its kernel set to `bilinearKernel(64, classes)` as d2l's
 * `bilinear_kernel` sets it).
 *
 * PyTorch's `ConvTranspose2d(k=64, s=32, padding=16)` maps n to (n − 1)·32 − 2·16 + 64 = 32n. tfjs's
 * 'same' conv2dTranspose is the gradient of a 'same' conv from 32n to n, whose total padding is
 * (n − 1)·32 + 64 − 32n = 32, split 16 before and 16 after: the same padding 16 on every side, so the
 * output is exactly the input's size and output pixel o sums x[i]·w[o + 16 − 32i], as in PyTorch.
 *
 * @returns a model mapping `[batch, height, width, 3]` to logits `[batch, height, width, numClasses]`
 */
export function buildFcnResNet18(opts: FcnResNetOptions): tfl.LayersModel {
  const [height, width] = inputDims(opts.inputSize);
  assertDivisible('fcn-resnet18', [height, width], 32);
  const seeds = new Seeds(opts.seed);
  const classes = opts.numClasses;

  const input = tfl.input({ name: 'input', shape: [height, width, 3] });
  const { stages } = resnetEncoder(input, {
    depth: 18,
    outputStride: 32,
    baseFilters: opts.baseFilters,
    seeds,
  });
  const features = stages[3];
  if (features == null) throw new Error('fcn-resnet18: the backbone has no conv5');
  const score = apply(
    tfl.layers.conv2d({
      name: 'final_conv',
      filters: classes,
      kernelSize: 1,
      kernelInitializer: glorot(seeds),
    }),
    features,
  );
  const upsample = tfl.layers.conv2dTranspose({
    name: 'transpose_conv',
    filters: classes,
    kernelSize: 64,
    strides: 32,
    padding: 'same',
    useBias: true,
  });
  const model = tfl.model({ name: 'fcn-resnet18', inputs: input, outputs: apply(upsample, score) });
  const kernel = bilinearKernel(64, classes);
  const bias = tf.zeros([classes]);
  try {
    upsample.setWeights([kernel, bias]);
  } finally {
    tf.dispose([kernel, bias]);
  }
  return model;
}
