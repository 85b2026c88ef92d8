// Small helpers for building named functional tfjs-layers models, shared by the architectures.
// Runs in the engine process.
import * as tfl from '@tensorflow/tfjs-layers';

/** A symbolic feature map `[batch, height, width, channels]`. */
export type Sym = tfl.SymbolicTensor;

/** Applies a layer to one or more symbolic tensors and insists on a single symbolic output. */
export function apply(layer: tfl.layers.Layer, x: Sym | Sym[]): Sym {
  const out = layer.apply(x);
  if (!(out instanceof tfl.SymbolicTensor)) {
    throw new Error(`layer ${layer.name} did not produce one symbolic tensor`);
  }
  return out;
}

/** Initialiser seeds derived from one model seed, so that layers never share a stream. */
export class Seeds {
  private n = 0;
  constructor(private readonly seed: number | undefined) {}
  next(): number | undefined {
    return this.seed == null ? undefined : this.seed * 1000 + this.n++;
  }
}

/** Glorot-uniform, as Keras initialises VGG16 before ImageNet weights replace it. */
export function glorot(seeds: Seeds) {
  return tfl.initializers.glorotUniform({ seed: seeds.next() });
}

/** He-normal, the U-Net paper's Gaussian with std √(2/N), for ReLU layers trained from scratch. */
export function he(seeds: Seeds) {
  return tfl.initializers.heNormal({ seed: seeds.next() });
}

/** Input height and width from the registry's `inputSize` (a side, or `[height, width]`). */
export function inputDims(inputSize: number | readonly [number, number]): [number, number] {
  return typeof inputSize === 'number' ? [inputSize, inputSize] : [inputSize[0], inputSize[1]];
}

/** Throws unless both sides are positive multiples of `multiple`, naming the model and the constraint. */
export function assertDivisible(model: string, [h, w]: [number, number], multiple: number): void {
  if (!(h > 0 && w > 0 && h % multiple === 0 && w % multiple === 0)) {
    throw new Error(`${model} needs an input height and width divisible by ${multiple}; got ${h}×${w}`);
  }
}
