// FCN-32s, FCN-16s and FCN-8s (Long, Shelhamer and Darrell) on a VGG16 backbone with Keras layer names.
// Runs in the engine process.
import * as tfl from '@tensorflow/tfjs-layers';
import { apply, assertDivisible, glorot, inputDims, Seeds, type Sym } from './layers';
import { bilinearKernel } from './bilinear';
import { vgg16Encoder } from './vgg16';

/** The output stride of the final upsampling: 32, 16 or 8. */
export type FcnVariant = 32 | 16 | 8;

export interface FcnOptions {
  numClasses: number;
  /**
   * A side, or `[height, width]`; each must be divisible by 32. Then block5_pool is exactly 1/32 of the
   * input, every fusion adds maps of equal size, and each 'same'-padded upsampling lands exactly on the
   * input's size with no crop, which is why no Crop layers appear.
   */
  inputSize: number | readonly [number, number];
  /** Channels of fc6 (a 7×7 conv) and fc7 (1×1). The paper's 4096 by default; tests use fewer. */
  fcWidth?: number;
  /** Scales the VGG16 encoder's widths: 1 (VGG16's own) by default; tests use less. */
  vggWidthScale?: number;
  /** Dropout after fc6 and fc7, active only in training. The paper's 0.5 by default. */
  dropout?: number;
  seed?: number;
}

/**
 * A trainable transposed conv of kernel 2·stride, without bias as in the paper, whose weights are set to
 * bilinear upsampling once the model exists.
 */
function upscore(name: string, numClasses: number, stride: number): tfl.layers.Layer {
  return tfl.layers.conv2dTranspose({
    name,
    filters: numClasses,
    kernelSize: 2 * stride,
    strides: stride,
    padding: 'same',
    useBias: false,
    trainable: true,
  });
}

/** A 1×1 class scorer on a pooling layer, zero-initialised as in the paper so fusion starts as a no-op. */
function scorePool(name: string, numClasses: number): tfl.layers.Layer {
  return tfl.layers.conv2d({ name, filters: numClasses, kernelSize: 1, kernelInitializer: 'zeros' });
}

/**
 * VGG16 block1_conv1 … block5_pool; fc6 (7×7, ReLU, dropout `drop6`), fc7 (1×1, ReLU, `drop7`), `score_fr`.
 * Then, by variant:
 * - 32s: `upscore` (×32).
 * - 16s: `upscore2` (×2) + `score_pool4` → `fuse_pool4`, then `upscore16` (×16).
 * - 8s: as 16s to `fuse_pool4`, then `upscore_pool4` (×2) + `score_pool3` → `fuse_pool3`, then `upscore8`.
 *
 * @returns a model mapping `[batch, height, width, 3]` to logits `[batch, height, width, numClasses]`
 */
export function buildFcn(variant: FcnVariant, opts: FcnOptions): tfl.LayersModel {
  const [height, width] = inputDims(opts.inputSize);
  const id = `fcn${variant}s`;
  assertDivisible(id, [height, width], 32);
  const fcWidth = opts.fcWidth ?? 4096;
  const rate = opts.dropout ?? 0.5;
  const classes = opts.numClasses;
  const seeds = new Seeds(opts.seed);

  const input = tfl.input({ name: 'input', shape: [height, width, 3] });
  const { pools } = vgg16Encoder(input, true, seeds, opts.vggWidthScale);
  const [, , pool3, pool4, pool5] = pools;
  if (pool3 == null || pool4 == null || pool5 == null) throw new Error(`${id}: VGG16 pools missing`);

  let x = apply(
    tfl.layers.conv2d({
      name: 'fc6',
      filters: fcWidth,
      kernelSize: 7,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: glorot(seeds),
    }),
    pool5,
  );
  x = apply(tfl.layers.dropout({ name: 'drop6', rate }), x);
  x = apply(
    tfl.layers.conv2d({
      name: 'fc7',
      filters: fcWidth,
      kernelSize: 1,
      activation: 'relu',
      kernelInitializer: glorot(seeds),
    }),
    x,
  );
  x = apply(tfl.layers.dropout({ name: 'drop7', rate }), x);
  x = apply(
    tfl.layers.conv2d({
      name: 'score_fr',
      filters: classes,
      kernelSize: 1,
      kernelInitializer: glorot(seeds),
    }),
    x,
  );

  const upsamplers: { layer: tfl.layers.Layer; stride: number }[] = [];
  const up = (name: string, stride: number, from: Sym): Sym => {
    const layer = upscore(name, classes, stride);
    upsamplers.push({ layer, stride });
    return apply(layer, from);
  };

  let out: Sym;
  if (variant === 32) {
    out = up('upscore', 32, x);
  } else {
    const fuse4 = apply(tfl.layers.add({ name: 'fuse_pool4' }), [
      up('upscore2', 2, x),
      apply(scorePool('score_pool4', classes), pool4),
    ]);
    if (variant === 16) {
      out = up('upscore16', 16, fuse4);
    } else {
      const fuse3 = apply(tfl.layers.add({ name: 'fuse_pool3' }), [
        up('upscore_pool4', 2, fuse4),
        apply(scorePool('score_pool3', classes), pool3),
      ]);
      out = up('upscore8', 8, fuse3);
    }
  }

  const model = tfl.model({ name: id, inputs: input, outputs: out });
  for (const { layer, stride } of upsamplers) {
    const kernel = bilinearKernel(2 * stride, classes);
    try {
      layer.setWeights([kernel]);
    } finally {
      kernel.dispose();
    }
  }
  return model;
}
