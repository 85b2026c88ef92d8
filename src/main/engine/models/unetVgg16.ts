// The "improved U-Net": a VGG16 encoder with Keras layer names and a decoder that upsamples bilinearly.
// Runs in the engine process.
import * as tfl from '@tensorflow/tfjs-layers';
import { apply, assertDivisible, he, inputDims, Seeds, type Sym } from './layers';
import { vgg16Encoder } from './vgg16';

export interface UNetVgg16Options {
  numClasses: number;
  /** A side, or `[height, width]`; each must be divisible by 16 (four poolings). */
  inputSize: number | readonly [number, number];
  /** Scales the encoder's and decoder's widths: 1 (VGG16's own) by default; tests use less. */
  widthScale?: number;
  seed?: number;
}

/** Decoder filters at dec4 … dec1, matching the skips block4_conv3 … block1_conv2. */
const DECODER_FILTERS = [512, 256, 128, 64] as const;

/**
 * VGG16 block1_conv1 … block5_conv3 (no block5_pool), then at dec4 … dec1: bilinear ×2 upsampling
 * (`decN_upsample`), concatenation with the skip (`decN_concat`), two 3×3 conv + ReLU (`decN_conv1/2`), and
 * a final 1×1 conv `logits`.
 *
 * The upsampling is tf.layers' UpSampling2D 'bilinear', which resizes with alignCorners and
 * halfPixelCenters both false: the one mode whose ResizeBilinearGrad tfjs computes correctly.
 *
 * @returns a model mapping `[batch, height, width, 3]` to logits `[batch, height, width, numClasses]`
 */
export function buildUNetVgg16(opts: UNetVgg16Options): tfl.LayersModel {
  const [height, width] = inputDims(opts.inputSize);
  assertDivisible('unet-vgg16', [height, width], 16);
  const seeds = new Seeds(opts.seed);

  const input = tfl.input({ name: 'input', shape: [height, width, 3] });
  const scale = opts.widthScale ?? 1;
  const { lastConv } = vgg16Encoder(input, false, seeds, scale);
  let x: Sym | undefined = lastConv[4];
  if (x == null) throw new Error('unet-vgg16: encoder has no block5_conv3');
  DECODER_FILTERS.forEach((filters, i) => {
    const level = 4 - i;
    const skip = lastConv[level - 1];
    if (x == null || skip == null) throw new Error(`unet-vgg16: no skip for dec${level}`);
    const up = tfl.layers.upSampling2d({
      name: `dec${level}_upsample`,
      size: [2, 2],
      interpolation: 'bilinear',
    });
    x = apply(tfl.layers.concatenate({ name: `dec${level}_concat`, axis: -1 }), [apply(up, x), skip]);
    for (const c of [1, 2]) {
      const conv = tfl.layers.conv2d({
        name: `dec${level}_conv${c}`,
        filters: Math.max(1, Math.round(filters * scale)),
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: he(seeds),
      });
      x = apply(conv, x);
    }
  });
  const logits = tfl.layers.conv2d({
    name: 'logits',
    filters: opts.numClasses,
    kernelSize: 1,
    kernelInitializer: tfl.initializers.glorotUniform({ seed: seeds.next() }),
  });
  return tfl.model({ name: 'unet-vgg16', inputs: input, outputs: apply(logits, x) });
}
