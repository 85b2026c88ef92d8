// DeconvNet (Noh, Hong and Han, 2015): a VGG16 encoder with batch norm, fc6/fc7 as convolutions, and a
// mirrored decoder of transposed convolutions and max-unpooling through the pooling switches. Runs in the
// engine process.
import * as tfl from '@tensorflow/tfjs-layers';
import { MaxPoolingWithSwitches2D, MaxUnpooling2D } from './customLayers';
import { apply, assertDivisible, glorot, inputDims, Seeds, type Sym } from './layers';
import { batchNorm, relu } from './resnet';
import { VGG16_BLOCKS } from './vgg16';

export interface DeconvNetOptions {
  numClasses: number;
  /**
   * A side, or `[height, width]`; each must be divisible by 32, so that each of the five 2×2 poolings halves
   * an even size and every unpooling restores it exactly.
   */
  inputSize: number | readonly [number, number];
  /**
   * Channels of fc6 (7×7), fc7 (1×1) and the input of `deconv6`: the paper's 4096 by default (251.8M
   * parameters for 21 classes, 1 GB of float32 weights), which the registry offers as `deconvnet-4096`;
   * `deconvnet` uses DECONVNET_FC_WIDTH.
   */
  fcWidth?: number;
  /** block1's width, 64 as in VGG16; every block scales with it (64-128-256-512-512). Tests use fewer. */
  baseFilters?: number;
  seed?: number;
}

/**
 * Encoder: VGG16's 13 convs with Keras names (`block1_conv1` … `block5_conv3`, 3×3, with bias so that
 * Keras VGG16 weights map onto them), each followed by `blockN_bnM` and `blockN_reluM`; a
 * `MaxPoolingWithSwitches2D` `blockN_pool` closes each block. Then `fc6` (7×7, 'same' so that any input
 * size works where the paper's 224 gives 1×1) and `fc7` (1×1), each with BN and ReLU.
 *
 * Decoder, the encoder mirrored: `deconv6` (7×7 transposed, to block5's width, BN, ReLU), then for blocks 5 …
 * 1 a `MaxUnpooling2D` `unpoolN` fed the block's switches and as many 3×3 transposed convs as the block
 * has convs (`deconvN_M`, BN, ReLU), the last narrowing to the width of the block below; `score` (1×1 to
 * the classes).
 *
 * @returns a model mapping `[batch, height, width, 3]` to logits `[batch, height, width, numClasses]`
 */
export function buildDeconvNet(opts: DeconvNetOptions): tfl.LayersModel {
  const [height, width] = inputDims(opts.inputSize);
  assertDivisible('deconvnet', [height, width], 32);
  const fcWidth = opts.fcWidth ?? 4096;
  const scale = (opts.baseFilters ?? 64) / 64;
  const widths = VGG16_BLOCKS.map(({ filters }) => Math.max(1, Math.round(filters * scale)));
  const seeds = new Seeds(opts.seed);

  const bnRelu = (x: Sym, bn: string, act: string) => apply(relu(act), apply(batchNorm(bn), x));

  const input = tfl.input({ name: 'input', shape: [height, width, 3] });
  let x: Sym = input;
  const switches: Sym[] = [];
  VGG16_BLOCKS.forEach(({ convs }, b) => {
    const block = `block${b + 1}`;
    for (let c = 1; c <= convs; c++) {
      const layer = tfl.layers.conv2d({
        name: `${block}_conv${c}`,
        filters: widths[b] ?? 1,
        kernelSize: 3,
        padding: 'same',
        kernelInitializer: glorot(seeds),
      });
      x = bnRelu(apply(layer, x), `${block}_bn${c}`, `${block}_relu${c}`);
    }
    const pooled = new MaxPoolingWithSwitches2D({ name: `${block}_pool` }).apply(x);
    if (!Array.isArray(pooled) || pooled.length !== 2) throw new Error(`${block}_pool: expected two outputs`);
    const [values, where] = pooled as [Sym, Sym];
    x = values;
    switches.push(where);
  });

  const fc = (name: string, filters: number, kernelSize: number) =>
    tfl.layers.conv2d({ name, filters, kernelSize, padding: 'same', kernelInitializer: glorot(seeds) });
  x = bnRelu(apply(fc('fc6', fcWidth, 7), x), 'fc6_bn', 'fc6_relu');
  x = bnRelu(apply(fc('fc7', fcWidth, 1), x), 'fc7_bn', 'fc7_relu');

  const deconv = (name: string, filters: number, kernelSize: number) =>
    tfl.layers.conv2dTranspose({
      name,
      filters,
      kernelSize,
      padding: 'same',
      kernelInitializer: glorot(seeds),
    });
  x = bnRelu(apply(deconv('deconv6', widths[4] ?? 1, 7), x), 'deconv6_bn', 'deconv6_relu');
  for (let b = 4; b >= 0; b--) {
    const n = b + 1;
    const where = switches[b];
    if (where == null) throw new Error(`deconvnet: no switches for block${n}`);
    x = apply(new MaxUnpooling2D({ name: `unpool${n}` }), [x, where]);
    const convs = VGG16_BLOCKS[b]?.convs ?? 0;
    for (let c = 1; c <= convs; c++) {
      const filters = c < convs ? (widths[b] ?? 1) : (widths[Math.max(b - 1, 0)] ?? 1);
      const name = `deconv${n}_${c}`;
      x = bnRelu(apply(deconv(name, filters, 3), x), `${name}_bn`, `${name}_relu`);
    }
  }
  const score = tfl.layers.conv2d({
    name: 'score',
    filters: opts.numClasses,
    kernelSize: 1,
    kernelInitializer: glorot(seeds),
  });
  return tfl.model({ name: 'deconvnet', inputs: input, outputs: apply(score, x) });
}
