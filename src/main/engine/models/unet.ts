// U-Net (Ronneberger et al., 2015) with padded 3×3 convs, so the output is the input's size. Runs in the
// engine process.
import * as tfl from '@tensorflow/tfjs-layers';
import { apply, assertDivisible, he, inputDims, Seeds, type Sym } from './layers';

export interface UNetOptions {
  numClasses: number;
  /** A side, or `[height, width]`; each must be divisible by 2^depth. */
  inputSize: number | readonly [number, number];
  /** Filters of the first level; doubles at every level. The paper's 64 by default. */
  baseFilters?: number;
  /** Number of 2×2 poolings. The paper's 4 by default. */
  depth?: number;
  seed?: number;
}

function doubleConv(x: Sym, prefix: string, filters: number, seeds: Seeds): Sym {
  for (const i of [1, 2]) {
    const conv = tfl.layers.conv2d({
      name: `${prefix}_conv${i}`,
      filters,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: he(seeds),
    });
    x = apply(conv, x);
  }
  return x;
}

/**
 * Contracting path down1…down{depth} (two 3×3 conv + ReLU, then a 2×2 max pool), a bottom level, and an
 * expanding path up{depth}…up1 (2×2 transposed conv with stride 2 halving the filters, concatenation with the
 * skip, two 3×3 conv + ReLU), then a 1×1 conv `logits`.
 *
 * @returns a model mapping `[batch, height, width, 3]` to logits `[batch, height, width, numClasses]`
 */
export function buildUNet(opts: UNetOptions): tfl.LayersModel {
  const depth = opts.depth ?? 4;
  const base = opts.baseFilters ?? 64;
  const [height, width] = inputDims(opts.inputSize);
  assertDivisible('unet', [height, width], 2 ** depth);
  const seeds = new Seeds(opts.seed);

  const input = tfl.input({ name: 'input', shape: [height, width, 3] });
  const skips: Sym[] = [];
  let x = input;
  for (let l = 1; l <= depth; l++) {
    x = doubleConv(x, `down${l}`, base * 2 ** (l - 1), seeds);
    skips.push(x);
    x = apply(tfl.layers.maxPooling2d({ name: `down${l}_pool`, poolSize: 2, strides: 2 }), x);
  }
  x = doubleConv(x, 'bottom', base * 2 ** depth, seeds);
  for (let l = depth; l >= 1; l--) {
    const filters = base * 2 ** (l - 1);
    const up = tfl.layers.conv2dTranspose({
      name: `up${l}_deconv`,
      filters,
      kernelSize: 2,
      strides: 2,
      padding: 'same',
      kernelInitializer: he(seeds),
    });
    const skip = skips[l - 1];
    if (skip == null) throw new Error(`unet: no skip for level ${l}`);
    x = apply(tfl.layers.concatenate({ name: `up${l}_concat`, axis: -1 }), [skip, apply(up, x)]);
    x = doubleConv(x, `up${l}`, filters, seeds);
  }
  const logits = tfl.layers.conv2d({
    name: 'logits',
    filters: opts.numClasses,
    kernelSize: 1,
    kernelInitializer: tfl.initializers.glorotUniform({ seed: seeds.next() }),
  });
  return tfl.model({ name: 'unet', inputs: input, outputs: apply(logits, x) });
}
