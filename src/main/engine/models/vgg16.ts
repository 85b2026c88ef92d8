// The VGG16 convolutional encoder with Keras's layer names, so that Keras ImageNet weights map onto it by
// name. Shared by unet-vgg16 and the FCNs; runs in the engine process.
import * as tfl from '@tensorflow/tfjs-layers';
import { apply, glorot, type Seeds, type Sym } from './layers';

/** Filters per VGG16 block and convs per block. */
export const VGG16_BLOCKS: readonly { filters: number; convs: number }[] = [
  { filters: 64, convs: 2 },
  { filters: 128, convs: 2 },
  { filters: 256, convs: 3 },
  { filters: 512, convs: 3 },
  { filters: 512, convs: 3 },
];

/** The feature maps decoders tap, by Keras layer name. */
export interface Vgg16Features {
  /** Last conv of each block: block1_conv2 … block5_conv3, at 1, 1/2, 1/4, 1/8, 1/16 of the input. */
  lastConv: Sym[];
  /** block1_pool … block5_pool (block5_pool only when asked for), at 1/2 … 1/32 of the input. */
  pools: Sym[];
}

/**
 * Builds block1_conv1 … block5_conv3 (3×3, same padding, ReLU) with 2×2 max pools block1_pool …
 * block4_pool, and block5_pool when `withBlock5Pool`.
 *
 * @param input `[batch, height, width, 3]`
 * @param widthScale multiplies every block's filters (1, VGG16's own, by default; tests use less)
 */
export function vgg16Encoder(
  input: Sym,
  withBlock5Pool: boolean,
  seeds: Seeds,
  widthScale = 1,
): Vgg16Features {
  const lastConv: Sym[] = [];
  const pools: Sym[] = [];
  let x = input;
  VGG16_BLOCKS.forEach(({ filters, convs }, b) => {
    const block = `block${b + 1}`;
    for (let c = 1; c <= convs; c++) {
      const conv = tfl.layers.conv2d({
        name: `${block}_conv${c}`,
        filters: Math.max(1, Math.round(filters * widthScale)),
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: glorot(seeds),
      });
      x = apply(conv, x);
    }
    lastConv.push(x);
    if (b < 4 || withBlock5Pool) {
      x = apply(tfl.layers.maxPooling2d({ name: `${block}_pool`, poolSize: 2, strides: 2 }), x);
      pools.push(x);
    }
  });
  return { lastConv, pools };
}
