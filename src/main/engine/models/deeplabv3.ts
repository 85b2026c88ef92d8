// DeepLabv3 (Chen et al., 2017): an atrous ResNet at output stride 16 and Atrous Spatial Pyramid Pooling,
// with torchvision's DeepLabHead on top. Runs in the engine process.
import * as tfl from '@tensorflow/tfjs-layers';
import { apply, assertDivisible, glorot, inputDims, Seeds, type Sym } from './layers';
import { batchNorm, conv, relu, resnetEncoder, type ResNetDepth } from './resnet';

export interface DeepLabV3Options {
  numClasses: number;
  /** A side, or `[height, width]`; each must be divisible by 16, the output stride. */
  inputSize: number | readonly [number, number];
  /** ResNet-50 (bottleneck blocks 3-4-6-3) by default; ResNet-18 (basic blocks 2-2-2-2) is the light one. */
  backbone?: ResNetDepth;
  /** The backbone's first width (64 as published); tests use fewer. */
  baseFilters?: number;
  /** Channels of every ASPP branch, the projection and the head conv: 256 as published. */
  asppFilters?: number;
  /** The three atrous rates at output stride 16: 6, 12, 18 as published. */
  rates?: readonly [number, number, number];
  /** Dropout after the ASPP projection, active only in training: torchvision's 0.5. */
  dropout?: number;
  seed?: number;
}

/** conv → BN → ReLU, the conv without bias (the BN's β is the bias), as torchvision's ASPP has it. */
function convBnRelu(
  x: Sym,
  prefix: string,
  filters: number,
  kernel: number,
  seeds: Seeds,
  dilation = 1,
): Sym {
  const y = conv(x, `${prefix}_conv`, filters, kernel, seeds, { dilation, useBias: false });
  return apply(relu(`${prefix}_relu`), apply(batchNorm(`${prefix}_bn`), y));
}

/**
 * The atrous ResNet (`resnetEncoder` at output stride 16), then torchvision's DeepLabHead:
 * - ASPP on `conv5_block*_out`: `aspp_1x1` (1×1), `aspp_rate6`, `aspp_rate12`, `aspp_rate18` (3×3 atrous)
 *   and image pooling (`aspp_pool` global average → `aspp_pool_conv` 1×1 → BN, ReLU →
 *   `aspp_pool_upsample` back to the feature map's size), each conv followed by BN and ReLU;
 * - `aspp_concat`, `aspp_project` (1×1, BN, ReLU), `aspp_dropout`;
 * - `head` (3×3, BN, ReLU), `classifier` (1×1 to the classes, with bias);
 * - `upsample`: bilinear ×16 to the input size (UpSampling2D, the one bilinear mode whose gradient tfjs
 *   computes correctly).
 * The convs of the head have no bias, as in torchvision; the backbone's have Keras's.
 *
 * @returns a model mapping `[batch, height, width, 3]` to logits `[batch, height, width, numClasses]`
 */
export function buildDeepLabV3(opts: DeepLabV3Options): tfl.LayersModel {
  const backbone = opts.backbone ?? 50;
  const id = backbone === 50 ? 'deeplabv3' : `deeplabv3-resnet${backbone}`;
  const [height, width] = inputDims(opts.inputSize);
  assertDivisible(id, [height, width], 16);
  const seeds = new Seeds(opts.seed);
  const filters = opts.asppFilters ?? 256;
  const rates = opts.rates ?? [6, 12, 18];

  const input = tfl.input({ name: 'input', shape: [height, width, 3] });
  const { stages } = resnetEncoder(input, {
    depth: backbone,
    outputStride: 16,
    baseFilters: opts.baseFilters,
    seeds,
  });
  const features = stages[3];
  if (features == null) throw new Error(`${id}: the backbone has no conv5`);
  const channels = features.shape[3];
  const [fh, fw] = [height / 16, width / 16];

  const branches: Sym[] = [convBnRelu(features, 'aspp_1x1', filters, 1, seeds)];
  for (const rate of rates) branches.push(convBnRelu(features, `aspp_rate${rate}`, filters, 3, seeds, rate));
  let pool = apply(tfl.layers.globalAveragePooling2d({ name: 'aspp_pool' }), features);
  pool = apply(tfl.layers.reshape({ name: 'aspp_pool_reshape', targetShape: [1, 1, channels ?? -1] }), pool);
  pool = convBnRelu(pool, 'aspp_pool', filters, 1, seeds);
  // From 1×1, nearest and bilinear upsampling agree: the branch is constant over the map.
  branches.push(apply(tfl.layers.upSampling2d({ name: 'aspp_pool_upsample', size: [fh, fw] }), pool));

  let x = apply(tfl.layers.concatenate({ name: 'aspp_concat', axis: -1 }), branches);
  x = convBnRelu(x, 'aspp_project', filters, 1, seeds);
  x = apply(tfl.layers.dropout({ name: 'aspp_dropout', rate: opts.dropout ?? 0.5 }), x);
  x = convBnRelu(x, 'head', filters, 3, seeds);
  x = apply(
    tfl.layers.conv2d({
      name: 'classifier',
      filters: opts.numClasses,
      kernelSize: 1,
      kernelInitializer: glorot(seeds),
    }),
    x,
  );
  const out = apply(
    tfl.layers.upSampling2d({ name: 'upsample', size: [16, 16], interpolation: 'bilinear' }),
    x,
  );
  return tfl.model({ name: id, inputs: input, outputs: out });
}
