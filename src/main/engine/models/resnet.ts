// ResNet-18 and ResNet-50 encoders with the layer names of Keras's ResNet50 (`conv1_conv`,
// `conv2_block1_1_conv`, …, `conv5_block3_out`), so that Keras ImageNet weights map onto them by name, and
// with conv5's stride optionally traded for dilation (output stride 16, as DeepLabv3 uses them). Shared by
// deeplabv3 and fcn-resnet18; runs in the engine process.
import * as tfl from '@tensorflow/tfjs-layers';
import { AtrousConv2D } from './customLayers';
import { apply, he, type Seeds, type Sym } from './layers';

export type ResNetDepth = 18 | 50;

/** Residual blocks per stage conv2 … conv5. */
export const RESNET_BLOCKS: Readonly<Record<ResNetDepth, readonly number[]>> = {
  18: [2, 2, 2, 2],
  50: [3, 4, 6, 3],
};

/** Keras ResNet50's batch-norm epsilon. */
export const BN_EPSILON = 1.001e-5;
/** The moving averages' momentum: PyTorch's 0.1 in Keras's convention, quicker to settle than Keras's 0.99. */
export const BN_MOMENTUM = 0.9;

/** A batch norm over channels with the epsilon and momentum above. */
export function batchNorm(name: string): tfl.layers.Layer {
  return tfl.layers.batchNormalization({ name, axis: -1, epsilon: BN_EPSILON, momentum: BN_MOMENTUM });
}

export function relu(name: string): tfl.layers.Layer {
  return tfl.layers.activation({ name, activation: 'relu' });
}

export interface ConvOptions {
  stride?: number;
  /** > 1 makes an `AtrousConv2D` (stride 1 only). */
  dilation?: number;
  /**
   * 'same' for stride 1, 'valid' after an explicit ZeroPadding2D or for 1×1 convs. Default: 'same' when the
   * stride is 1, else 'valid'.
   */
  padding?: 'same' | 'valid';
  useBias?: boolean;
}

/** A square conv without activation: Conv2D, or AtrousConv2D when dilated. He-normal initialised. */
export function conv(
  x: Sym,
  name: string,
  filters: number,
  kernelSize: number,
  seeds: Seeds,
  opts: ConvOptions = {},
): Sym {
  const stride = opts.stride ?? 1;
  const dilation = opts.dilation ?? 1;
  const useBias = opts.useBias ?? true;
  if (dilation > 1) {
    if (stride !== 1) throw new Error(`${name}: a dilated conv must have stride 1`);
    return apply(
      new AtrousConv2D({
        name,
        filters,
        kernelSize,
        dilationRate: dilation,
        useBias,
        kernelInitializer: he(seeds),
      }),
      x,
    );
  }
  return apply(
    tfl.layers.conv2d({
      name,
      filters,
      kernelSize,
      strides: stride,
      padding: opts.padding ?? (stride === 1 ? 'same' : 'valid'),
      useBias,
      kernelInitializer: he(seeds),
    }),
    x,
  );
}

export interface ResNetOptions {
  depth: ResNetDepth;
  /**
   * 32: the classification network. 16: conv5 keeps conv4's resolution, its stride replaced by dilation 2
   * in every conv after the one that had the stride (DeepLab's atrous ResNet).
   */
  outputStride: 16 | 32;
  /** Channels of conv1 and of conv2's blocks; each later stage doubles them. 64 as published. */
  baseFilters?: number;
  /** Biases on every conv, as Keras's ResNet50 has them (torchvision's have none; BN makes them redundant). */
  convBias?: boolean;
  seeds: Seeds;
}

export interface ResNetFeatures {
  /** `conv2_blockN_out` … `conv5_blockN_out`, at 1/4, 1/8, 1/16 and 1/32 (or 1/16) of the input. */
  stages: Sym[];
  /** The name of the last conv of the last block (`conv5_block3_3_conv`, `conv5_block2_2_conv`). */
  lastConv: string;
}

/** The number of output channels of a stage's blocks. */
export function stageChannels(depth: ResNetDepth, base: number, stage: number): number {
  return base * 2 ** stage * (depth === 50 ? 4 : 1);
}

/**
 * Keras ResNet50's bottleneck (ResNet v1, the stride on the first 1×1 conv): `_0_conv`/`_0_bn` shortcut when
 * asked, 1×1 `_1_`, 3×3 `_2_` (dilated by `dilation`), 1×1 `_3_` to 4·filters, `_add`, ReLU `_out`.
 */
function bottleneck(
  x: Sym,
  name: string,
  filters: number,
  stride: number,
  dilation: number,
  convShortcut: boolean,
  bias: boolean,
  seeds: Seeds,
): Sym {
  const shortcut = convShortcut
    ? apply(
        batchNorm(`${name}_0_bn`),
        conv(x, `${name}_0_conv`, 4 * filters, 1, seeds, { stride, useBias: bias }),
      )
    : x;
  let y = conv(x, `${name}_1_conv`, filters, 1, seeds, { stride, useBias: bias });
  y = apply(relu(`${name}_1_relu`), apply(batchNorm(`${name}_1_bn`), y));
  y = conv(y, `${name}_2_conv`, filters, 3, seeds, { dilation, useBias: bias });
  y = apply(relu(`${name}_2_relu`), apply(batchNorm(`${name}_2_bn`), y));
  y = conv(y, `${name}_3_conv`, 4 * filters, 1, seeds, { useBias: bias });
  y = apply(batchNorm(`${name}_3_bn`), y);
  return apply(relu(`${name}_out`), apply(tfl.layers.add({ name: `${name}_add` }), [shortcut, y]));
}

/**
 * ResNet-18's basic block in the same naming: 3×3 `_1_` (with the stride; zero-padded by one on each side
 * first, `_1_pad`, as torchvision pads), 3×3 `_2_`, a 1×1 `_0_` shortcut when the shape changes.
 */
function basic(
  x: Sym,
  name: string,
  filters: number,
  stride: number,
  dilations: [number, number],
  convShortcut: boolean,
  bias: boolean,
  seeds: Seeds,
): Sym {
  const shortcut = convShortcut
    ? apply(
        batchNorm(`${name}_0_bn`),
        conv(x, `${name}_0_conv`, filters, 1, seeds, { stride, useBias: bias }),
      )
    : x;
  let y = x;
  if (stride > 1) {
    y = apply(tfl.layers.zeroPadding2d({ name: `${name}_1_pad`, padding: 1 }), y);
    y = conv(y, `${name}_1_conv`, filters, 3, seeds, { stride, padding: 'valid', useBias: bias });
  } else {
    y = conv(y, `${name}_1_conv`, filters, 3, seeds, { dilation: dilations[0], useBias: bias });
  }
  y = apply(relu(`${name}_1_relu`), apply(batchNorm(`${name}_1_bn`), y));
  y = conv(y, `${name}_2_conv`, filters, 3, seeds, { dilation: dilations[1], useBias: bias });
  y = apply(batchNorm(`${name}_2_bn`), y);
  return apply(relu(`${name}_out`), apply(tfl.layers.add({ name: `${name}_add` }), [shortcut, y]));
}

/**
 * The stem (`conv1_pad` 3, 7×7/2 `conv1_conv`, `conv1_bn`, `conv1_relu`, `pool1_pad` 1, 3×3/2 max
 * `pool1_pool`) and stages conv2 … conv5 with 2-2-2-2 basic or 3-4-6-3 bottleneck blocks; stages 3 and 4
 * halve the resolution in their first block, stage 5 too unless `outputStride` is 16. No global pooling, no
 * classifier.
 *
 * @param input `[batch, height, width, 3]`; height and width divisible by the output stride
 */
export function resnetEncoder(input: Sym, opts: ResNetOptions): ResNetFeatures {
  const base = opts.baseFilters ?? 64;
  const bias = opts.convBias ?? true;
  const { seeds, depth } = opts;
  let x = apply(tfl.layers.zeroPadding2d({ name: 'conv1_pad', padding: 3 }), input);
  x = conv(x, 'conv1_conv', base, 7, seeds, { stride: 2, useBias: bias });
  x = apply(relu('conv1_relu'), apply(batchNorm('conv1_bn'), x));
  x = apply(tfl.layers.zeroPadding2d({ name: 'pool1_pad', padding: 1 }), x);
  x = apply(tfl.layers.maxPooling2d({ name: 'pool1_pool', poolSize: 3, strides: 2, padding: 'valid' }), x);

  const stages: Sym[] = [];
  let lastConv = '';
  RESNET_BLOCKS[depth].forEach((blocks, s) => {
    const stage = `conv${s + 2}`;
    const filters = base * 2 ** s;
    const dilated = s === 3 && opts.outputStride === 16;
    const stride = s === 0 || dilated ? 1 : 2;
    for (let b = 1; b <= blocks; b++) {
      const name = `${stage}_block${b}`;
      const first = b === 1;
      if (depth === 50) {
        x = bottleneck(x, name, filters, first ? stride : 1, dilated ? 2 : 1, first, bias, seeds);
        lastConv = `${name}_3_conv`;
      } else {
        // The conv that had the stride keeps dilation 1; every conv after it sees the denser map.
        const dilations: [number, number] = dilated ? [first ? 1 : 2, 2] : [1, 1];
        x = basic(x, name, filters, first ? stride : 1, dilations, first && s > 0, bias, seeds);
        lastConv = `${name}_2_conv`;
      }
    }
    stages.push(x);
  });
  return { stages, lastConv };
}
