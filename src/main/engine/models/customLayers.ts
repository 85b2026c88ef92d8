// Layers tfjs-layers lacks, written so that they train on every backend (wasm included) and survive
// `model.save` / `tfl.loadLayersModel`: a dilated ("atrous") convolution that tfjs can differentiate, and
// max pooling that records its switches with the unpooling that puts values back at them (DeconvNet).
// Importing this module registers the classes for deserialisation. Runs in the engine process.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { nativeConvStatus } from '../kernels/nativeConv';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;
type Kwargs = Parameters<tfl.layers.Layer['call']>[1];
type Initializer = ReturnType<typeof tfl.initializers.glorotUniform>;
type ConfigDict = tf.serialization.ConfigDict;

// ---------------------------------------------------------------------------------------------------------
// Atrous convolution
// ---------------------------------------------------------------------------------------------------------

/**
 * A stride-1, 'same'-padded convolution with dilation `rate`, computed as TensorFlow's
 * `with_space_to_batch` does: pad by (k − 1)·rate as 'same' would (the extra rows that make the size a
 * multiple of `rate` go at the end), `spaceToBatchND` splits the padded map into rate² interleaved
 * sub-maps, an ordinary 'valid' conv2d runs on each, and `batchToSpaceND` interleaves them back and crops
 * the extra rows. Every op has a gradient in tfjs, unlike conv2d with `dilations` > 1, whose gradient
 * tfjs 4.22 refuses outright.
 *
 * @param x `[batch, height, width, inChannels]`
 * @param kernel `[kh, kw, inChannels, outChannels]`
 * @returns `[batch, height, width, outChannels]`, equal to `tf.conv2d(x, kernel, 1, 'same', 'NHWC', rate)`
 */
export function atrousConv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, rate: number): tf.Tensor4D {
  if (!Number.isInteger(rate) || rate < 1)
    throw new Error(`atrous rate must be a positive integer, got ${rate}`);
  if (rate === 1) return tf.conv2d(x, kernel, 1, 'same');
  // On wasm with ONNX Runtime's convolutions, the dilated conv and both its gradients run there directly:
  // the space-to-batch shuffles around a conv of rate² times the batch were two thirds of a
  // deeplabv3-resnet18 step (bench/engine/epoch.ts).
  if (tf.getBackend() === 'wasm' && nativeConvStatus().enabled) return nativeAtrous(x, kernel, rate);
  return spaceToBatchAtrous(x, kernel, rate);
}

function spaceToBatchAtrous(x: tf.Tensor4D, kernel: tf.Tensor4D, rate: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [, height, width] = x.shape;
    const [kh, kw] = kernel.shape;
    const padH = (kh - 1) * rate;
    const padW = (kw - 1) * rate;
    const top = Math.floor(padH / 2);
    const left = Math.floor(padW / 2);
    const extraH = (rate - (height % rate)) % rate;
    const extraW = (rate - (width % rate)) % rate;
    const split = tf.spaceToBatchND(
      x,
      [rate, rate],
      [
        [top, padH - top + extraH],
        [left, padW - left + extraW],
      ],
    );
    const y = tf.conv2d(split, kernel, 1, 'valid');
    return tf.batchToSpaceND(
      y,
      [rate, rate],
      [
        [0, extraH],
        [0, extraW],
      ],
    );
  });
}

/**
 * tfjs's forward dilated conv2d with a gradient of its own: the two backprop kernels with the dilation in
 * their attributes, which Segscope's wasm kernels hand to ONNX Runtime (kernels/index.ts). Where ONNX
 * Runtime declines one (they then throw rather than ignore the dilation), the space-to-batch form's
 * gradient is used instead.
 */
function nativeAtrous(x: tf.Tensor4D, kernel: tf.Tensor4D, rate: number): tf.Tensor4D {
  const f = tf.customGrad((a, b, save) => {
    const xa = a as tf.Tensor4D;
    const kb = b as tf.Tensor4D;
    (save as tf.GradSaveFunc)([xa, kb]);
    return {
      value: tf.conv2d(xa, kb, 1, 'same', 'NHWC', rate),
      gradFunc: (dy, saved) => {
        const [xs, ks] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dy4 = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor4D;
        const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [rate, rate] };
        try {
          const dx = tf
            .engine()
            .runKernel(
              tf.Conv2DBackpropInput,
              { dy: dy4, filter: ks },
              { ...attrs, inputShape: xs.shape },
            ) as tf.Tensor;
          const dk = tf
            .engine()
            .runKernel(
              tf.Conv2DBackpropFilter,
              { x: xs, dy: dy4 },
              { ...attrs, filterShape: ks.shape },
            ) as tf.Tensor;
          return [dx, dk];
        } catch {
          return tf.grads((p: tf.Tensor, q: tf.Tensor) =>
            spaceToBatchAtrous(p as tf.Tensor4D, q as tf.Tensor4D, rate),
          )([xs, ks], dy4);
        }
      },
    };
  });
  return f(x, kernel) as tf.Tensor4D;
}

/** An initializer from its `{className, config}` form (a saved config) or as is. */
function toInitializer(value: unknown, fallback: () => Initializer): Initializer {
  if (value == null) return fallback();
  if (typeof (value as Initializer).apply === 'function') return value as Initializer;
  const { className, config } = value as { className?: string; config?: ConfigDict };
  const entry = className ? tf.serialization.SerializationMap.getMap().classNameMap[className] : undefined;
  if (!entry) throw new Error(`unknown initializer ${JSON.stringify(value)}`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, config ?? {}) as Initializer;
}

function serializeInitializer(init: Initializer): ConfigDict {
  return { className: init.getClassName(), config: init.getConfig() };
}

export interface AtrousConv2DArgs extends LayerArgs {
  filters: number;
  kernelSize: number;
  /** The dilation; 1 is an ordinary 'same' conv. */
  dilationRate: number;
  useBias?: boolean;
  /** An initializer, or its saved `{className, config}` form. Glorot-uniform by default, as Keras. */
  kernelInitializer?: Initializer | ConfigDict;
}

/**
 * A square, stride-1, 'same'-padded Conv2D with dilation, trainable in tfjs (see `atrousConv2d`). Its
 * weights are `kernel` `[k, k, in, filters]` and `bias` `[filters]`, named and shaped as a Keras Conv2D's,
 * so Keras weights map onto it by layer name.
 */
export class AtrousConv2D extends tfl.layers.Layer {
  static className = 'AtrousConv2D';
  readonly filters: number;
  readonly kernelSize: number;
  readonly dilationRate: number;
  readonly useBias: boolean;
  private readonly kernelInitializer: Initializer;
  private kernel: tfl.LayerVariable | null = null;
  private bias: tfl.LayerVariable | null = null;

  constructor(args: AtrousConv2DArgs) {
    super(args);
    if (!(Number.isInteger(args.filters) && args.filters > 0))
      throw new Error(`AtrousConv2D: filters must be a positive integer, got ${args.filters}`);
    if (!(Number.isInteger(args.kernelSize) && args.kernelSize > 0))
      throw new Error(`AtrousConv2D: kernelSize must be a positive integer, got ${args.kernelSize}`);
    if (!(Number.isInteger(args.dilationRate) && args.dilationRate > 0))
      throw new Error(`AtrousConv2D: dilationRate must be a positive integer, got ${args.dilationRate}`);
    this.filters = args.filters;
    this.kernelSize = args.kernelSize;
    this.dilationRate = args.dilationRate;
    this.useBias = args.useBias ?? true;
    this.kernelInitializer = toInitializer(args.kernelInitializer, () => tfl.initializers.glorotUniform({}));
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = single(inputShape, this.name);
    const channels = shape[3];
    if (channels == null) throw new Error(`AtrousConv2D ${this.name}: the input's channels must be known`);
    const k = this.kernelSize;
    this.kernel = this.addWeight('kernel', [k, k, channels, this.filters], 'float32', this.kernelInitializer);
    if (this.useBias) {
      this.bias = this.addWeight('bias', [this.filters], 'float32', tfl.initializers.zeros());
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [batch, height, width] = single(inputShape, this.name);
    return [batch ?? null, height ?? null, width ?? null, this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = one(inputs, this.name) as tf.Tensor4D;
      if (this.kernel == null) throw new Error(`AtrousConv2D ${this.name} is not built`);
      const y = atrousConv2d(x, this.kernel.read() as tf.Tensor4D, this.dilationRate);
      return this.bias ? tf.add(y, this.bias.read()) : y;
    });
  }

  override getConfig(): ConfigDict {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: this.kernelSize,
      dilationRate: this.dilationRate,
      useBias: this.useBias,
      kernelInitializer: serializeInitializer(this.kernelInitializer),
    };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Max pooling with switches, and max-unpooling
// ---------------------------------------------------------------------------------------------------------

/** Nearest-neighbour ×2: each value of `[b, h, w, c]` fills its 2×2 cell of `[b, 2h, 2w, c]`. */
function repeat2x2(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape;
  return tf.image.resizeNearestNeighbor(x, [2 * h, 2 * w]);
}

/**
 * The switches of a 2×2, stride-2 max pool: a float32 mask of `x`'s shape with a 1 where each window's
 * maximum sits and 0 elsewhere, exactly one 1 per window and channel. Ties go to the first of the window in
 * row-major order (top-left, top-right, bottom-left, bottom-right), as Caffe's pooling records them.
 * Built only from rank-4 ops present on every backend: the max, the positions equal to it, and a priority
 * 4/3/2/1 over the window whose maximum among those positions picks one.
 *
 * @param x `[batch, height, width, channels]`, height and width even
 */
export function poolSwitches(x: tf.Tensor4D): tf.Tensor4D {
  const [, height, width] = x.shape;
  if (height % 2 !== 0 || width % 2 !== 0)
    throw new Error(`max pooling with switches needs an even height and width; got ${height}×${width}`);
  return tf.tidy(() => {
    const isMax = tf.cast(tf.equal(x, repeat2x2(tf.maxPool(x, 2, 2, 'valid'))), 'float32');
    const priority = tf.tile(tf.tensor4d([4, 3, 2, 1], [1, 2, 2, 1]), [1, height / 2, width / 2, 1]);
    const score = tf.mul(isMax, priority) as tf.Tensor4D;
    const best = repeat2x2(tf.maxPool(score, 2, 2, 'valid'));
    return tf.cast(tf.equal(score, best), 'float32') as tf.Tensor4D;
  });
}

/**
 * Max-unpooling: puts each value of `y` at its window's switch in `switches` and zeros elsewhere. Its
 * gradient with respect to `y` is the gradient at the switch positions (the sum over each window of
 * dy · switches); `switches` are constants to it, so no gradient flows into the pooling's mask.
 *
 * @param y `[batch, h, w, channels]`
 * @param switches `[batch, 2h, 2w, channels]` from `poolSwitches`
 * @returns `[batch, 2h, 2w, channels]`
 */
export function maxUnpool(y: tf.Tensor4D, switches: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = y.shape;
  const [sb, sh, sw, sc] = switches.shape;
  if (sb !== b || sh !== 2 * h || sw !== 2 * w || sc !== c) {
    throw new Error(
      `max-unpooling of [${y.shape}] needs switches of [${[b, 2 * h, 2 * w, c]}]; got [${switches.shape}]`,
    );
  }
  const unpool = tf.customGrad((value: tf.Tensor | tf.GradSaveFunc, save: tf.Tensor | tf.GradSaveFunc) => {
    // Saved rather than closed over: tfjs-layers disposes a layer's outputs once their last consumer has
    // run, before the backward pass of a non-training call (Grad-CAM).
    (save as tf.GradSaveFunc)([switches]);
    return {
      value: tf.mul(repeat2x2(value as tf.Tensor4D), switches),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const mask = saved[0] ?? switches;
        // One switch per window: the window's sum is 4 × its mean, exact for the single non-zero term.
        return tf.mul(tf.avgPool(tf.mul(dy, mask) as tf.Tensor4D, 2, 2, 'valid'), 4);
      },
    };
  });
  return unpool(y) as tf.Tensor4D;
}

/**
 * A 2×2, stride-2 max pool and its switches. The pooled map's gradient goes to the switches, so pooling and
 * unpooling agree on ties, and it does not rely on the wasm MaxPoolGrad, which (tfjs 4.22) sends the
 * gradient of a window whose maximum is negative to the window's first element and drops that of a window
 * whose maximum is 0.
 *
 * @param x `[batch, height, width, channels]`, height and width even
 * @returns `pooled` `[batch, height/2, width/2, channels]` and `switches` of `x`'s shape
 */
export function maxPoolWithSwitches(x: tf.Tensor4D): { pooled: tf.Tensor4D; switches: tf.Tensor4D } {
  const switches = poolSwitches(x);
  const pool = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc, save: tf.Tensor | tf.GradSaveFunc) => {
    (save as tf.GradSaveFunc)([switches]);
    return {
      value: tf.maxPool(input as tf.Tensor4D, 2, 2, 'valid'),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.mul(repeat2x2(dy as tf.Tensor4D), saved[0] ?? switches),
    };
  });
  return { pooled: pool(x) as tf.Tensor4D, switches };
}

/**
 * A 2×2, stride-2 max pool with two outputs: the pooled map `[b, h/2, w/2, c]` and its switches
 * `[b, h, w, c]` (see `maxPoolWithSwitches`), for the matching `MaxUnpooling2D`. Only the pooled map
 * carries a gradient.
 */
export class MaxPoolingWithSwitches2D extends tfl.layers.Layer {
  static className = 'MaxPoolingWithSwitches2D';

  constructor(args: LayerArgs = {}) {
    super(args);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape[] {
    const [batch, height, width, channels] = single(inputShape, this.name);
    if ((height != null && height % 2 !== 0) || (width != null && width % 2 !== 0)) {
      throw new Error(
        `${this.name}: max pooling with switches needs an even height and width; got ${height}×${width}`,
      );
    }
    const half = (d: number | null | undefined) => (d == null ? null : d / 2);
    return [
      [batch ?? null, half(height), half(width), channels ?? null],
      [batch ?? null, height ?? null, width ?? null, channels ?? null],
    ];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor[] {
    return tf.tidy(() => {
      const { pooled, switches } = maxPoolWithSwitches(one(inputs, this.name) as tf.Tensor4D);
      return [pooled, switches];
    });
  }
}

/** Max-unpooling of `[values, switches]`: values `[b, h, w, c]` back to `[b, 2h, 2w, c]` at the switches. */
export class MaxUnpooling2D extends tfl.layers.Layer {
  static className = 'MaxUnpooling2D';

  constructor(args: LayerArgs = {}) {
    super(args);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    if (!Array.isArray(inputShape[0]) || inputShape.length !== 2) {
      throw new Error(`${this.name}: MaxUnpooling2D takes [values, switches]`);
    }
    const [values, switches] = inputShape as tfl.Shape[];
    const [batch, height, width] = switches ?? [];
    return [batch ?? null, height ?? null, width ?? null, values?.[3] ?? null];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) {
      throw new Error(`${this.name}: MaxUnpooling2D takes [values, switches]`);
    }
    const [values, switches] = inputs as [tf.Tensor4D, tf.Tensor4D];
    return maxUnpool(values, switches);
  }
}

function single(shape: tfl.Shape | tfl.Shape[], layer: string): tfl.Shape {
  const s = Array.isArray(shape[0]) ? (shape as tfl.Shape[]) : [shape as tfl.Shape];
  if (s.length !== 1 || s[0]?.length !== 4) throw new Error(`${layer}: expected one 4-D input`);
  return s[0];
}

function one(inputs: tf.Tensor | tf.Tensor[], layer: string): tf.Tensor {
  const list = Array.isArray(inputs) ? inputs : [inputs];
  if (list.length !== 1 || list[0] == null) throw new Error(`${layer}: expected one input`);
  return list[0];
}

/** The custom layer classes, registered for deserialisation when this module loads. */
export const CUSTOM_LAYER_CLASSES = [AtrousConv2D, MaxPoolingWithSwitches2D, MaxUnpooling2D] as const;

for (const cls of CUSTOM_LAYER_CLASSES) tf.serialization.registerClass(cls);
