// The machinery the CAM methods share (pytorch-grad-cam's BaseCAM): gathers a layer's activations and the
// gradients of the segmentation target with respect to them, then asks the method for its weights and
// turns the weighted sum into a 0..1 map at the image's size. Engine process.
//
// tfjs-layers has no hooks, so they are injected: the chosen layer's `call` is wrapped for the duration
// of one pass so that its output A is captured and a zero "probe" Δ of A's shape is added (A + Δ). The
// gradient of the target with respect to Δ at Δ = 0 is ∂target/∂A, whatever the graph does with A
// afterwards (skip connections included), from one forward and one backward pass.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { normalizeCam } from '../../../shared/camColormap';
import { letterbox, type Letterbox } from '../../../shared/letterbox';
import { letterboxPair } from '../data/augment';
import type { RgbImage } from '../data/samples';
import type { Predictor } from '../infer';
import { normalizeInput } from '../models/registry';
import { ClassNotPredictedError, predictionMask, SegmentationTarget } from './target';

/** What one pass gathers, per probed layer, in the order the layers were named. */
export interface Gathered {
  /** Each `[1, height, width, channels]`: the layer's output. */
  activations: tf.Tensor4D[];
  /** Each the shape of its activations: ∂score/∂activations. */
  gradients: tf.Tensor4D[];
}

type LayerCall = tfl.layers.Layer['call'];

function probeShape(layer: tfl.layers.Layer): [number, number, number, number] {
  const shape = layer.outputShape;
  const dims = shape.slice(1);
  if (Array.isArray(shape[0]) || dims.length !== 3 || dims.some((d) => typeof d !== 'number')) {
    throw new Error(
      `layer ${layer.name} has no single [height, width, channels] output, so it cannot be probed`,
    );
  }
  return [1, ...(dims as [number, number, number])];
}

/**
 * Runs `model` on `input` once forward and once backward, and returns the outputs of `layerNames` and the
 * gradients of `score(logits)` with respect to them. Every returned tensor belongs to the caller.
 *
 * @param input `[1, height, width, 3]`, already normalised
 * @param score the target, from the logits `[1, height, width, classes]` to a scalar; it runs inside
 *   the forward pass; it should not throw (tfjs then leaks the tensors its tape has kept)
 */
export function activationsAndGradients(
  model: tfl.LayersModel,
  input: tf.Tensor4D,
  layerNames: readonly string[],
  score: (logits: tf.Tensor4D) => tf.Scalar,
): Gathered {
  const layers = layerNames.map((name) => model.getLayer(name));
  const shapes = layers.map(probeShape);
  const captured: (tf.Tensor4D | null)[] = layers.map(() => null);
  const probes = shapes.map((s) => tf.zeros(s));
  let live: tf.Tensor[] = probes;
  const restores = layers.map((layer, i) => {
    const own = Object.hasOwn(layer, 'call');
    const original = layer.call;
    const wrapped: LayerCall = (inputs, kwargs) => {
      const out = original.call(layer, inputs, kwargs);
      if (Array.isArray(out)) throw new Error(`layer ${layer.name} has several outputs`);
      if (captured[i]) throw new Error(`layer ${layer.name} runs more than once in the model`);
      if (!tf.util.arraysEqual(out.shape, shapes[i]!)) {
        throw new Error(
          `layer ${layer.name}: output [${out.shape}] differs from its declared [${shapes[i]}]`,
        );
      }
      captured[i] = tf.keep(out as tf.Tensor4D);
      return tf.add(out, live[i]!);
    };
    layer.call = wrapped;
    return () => {
      if (own) layer.call = original;
      else Reflect.deleteProperty(layer, 'call');
    };
  });
  try {
    const { value, grads } = tf.valueAndGrads((...deltas: tf.Tensor[]) => {
      live = deltas;
      return score(model.apply(input) as tf.Tensor4D);
    })(probes);
    value.dispose();
    const missing = captured.findIndex((a) => a === null);
    if (missing >= 0) {
      tf.dispose(grads);
      throw new Error(`layer ${layerNames[missing]} did not run in the forward pass`);
    }
    return { activations: captured as tf.Tensor4D[], gradients: grads as tf.Tensor4D[] };
  } catch (err) {
    tf.dispose(captured.filter((a): a is tf.Tensor4D => a !== null));
    throw err;
  } finally {
    // Last wrapped, first restored: a layer named twice ends up with its own `call` again.
    for (const restore of restores.reverse()) restore();
    tf.dispose(probes);
  }
}

/** One CAM at the size it was asked for. */
export interface CamOutput {
  layer: string;
  width: number;
  height: number;
  /** 0..1, row-major; all zeros where the weighted sum is nowhere positive. */
  cam: Float32Array;
  /** Pixels of the input square (inside the letterbox) in the target's mask. */
  classPixels: number;
  /** The weighted sum is nowhere positive: nothing at the layer raises the score, and `cam` is all 0. */
  empty: boolean;
}

export interface CamRequest {
  classIndex: number;
  /** Layers to explain, from one forward and one backward pass. */
  layers: readonly string[];
  /** Names by class index, for the message when the class is absent. */
  classNames?: readonly string[];
  /** Downsizes every map so that its longer side is at most this (the image's own size by default). */
  maxSide?: number;
}

/** `[1, size, size]`: 1 on the letterboxed image, 0 on the grey padding. */
function areaMask(box: Letterbox): tf.Tensor3D {
  return tf.tidy(() =>
    tf.pad(tf.ones([1, box.height, box.width]), [
      [0, 0],
      [box.top, box.size - box.top - box.height],
      [box.left, box.size - box.left - box.width],
    ]),
  ) as tf.Tensor3D;
}

/** Classes of `labels` (`[1, size, size]`) inside the letterbox, ascending. */
async function presentClasses(labels: tf.Tensor3D, box: Letterbox): Promise<number[]> {
  // Read asynchronously: synchronous reads throw on webgpu in Node.
  const data = await labels.data();
  const seen = new Set<number>();
  for (let y = box.top; y < box.top + box.height; y++) {
    for (let x = box.left; x < box.left + box.width; x++) seen.add(data[y * box.size + x]!);
  }
  return [...seen].sort((a, b) => a - b);
}

/**
 * A layer's map `[1, h, w]` upsampled bilinearly to the input square, the letterbox cropped away, and
 * resized to `width`×`height`: `[1, height, width, 1]`.
 */
function toImage(cam: tf.Tensor3D, box: Letterbox, width: number, height: number): tf.Tensor4D {
  return tf.tidy(() => {
    const map = tf.expandDims(cam, -1) as tf.Tensor4D;
    const square =
      map.shape[1] === box.size && map.shape[2] === box.size
        ? map
        : tf.image.resizeBilinear(map, [box.size, box.size], false, true);
    const crop = tf.slice(square, [0, box.top, box.left, 0], [1, box.height, box.width, 1]);
    return tf.image.resizeBilinear(crop, [height, width], false, true);
  });
}

/** `width`×`height` scaled down, if need be, so that the longer side is at most `maxSide`. */
export function fitInside(width: number, height: number, maxSide?: number): [number, number] {
  if (maxSide === undefined || Math.max(width, height) <= maxSide) return [width, height];
  const scale = maxSide / Math.max(width, height);
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
}

/**
 * A CAM method. Subclasses say how to weight the activations; the base gathers activations and
 * gradients, combines them as ReLU(Σ_k w_k ⊙ A_k), and maps the result onto the image.
 */
export abstract class BaseCam {
  /**
   * The weights of the activations: `[1, 1, 1, channels]` per channel, or the activations' own shape
   * per position.
   *
   * @param activations `[1, height, width, channels]`
   * @param gradients the same shape: ∂target/∂activations
   */
  abstract weights(activations: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor4D;

  /**
   * The CAM at the layer's resolution, before normalisation: ReLU(Σ_k w_k ⊙ A_k).
   *
   * @returns `[1, height, width]`
   */
  combine(activations: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() =>
      tf.relu(tf.sum(tf.mul(this.weights(activations, gradients), activations), -1)),
    ) as tf.Tensor3D;
  }

  /**
   * The CAMs of `req.classIndex` for `image` at each of `req.layers`, each normalised to 0..1 over the
   * image (the letterbox padding left out) at the image's size, or smaller with `maxSide`.
   *
   * @throws ClassNotPredictedError when no pixel of the image is predicted as the class
   */
  async compute(p: Predictor, image: RgbImage, req: CamRequest): Promise<CamOutput[]> {
    const classes = p.model.outputs[0]?.shape.at(-1);
    if (
      !Number.isInteger(req.classIndex) ||
      req.classIndex < 0 ||
      (classes != null && req.classIndex >= classes)
    ) {
      throw new Error(`class index ${req.classIndex} is out of range: the model has ${classes} classes`);
    }
    const size = p.inputSize;
    const box = letterbox(image.width, image.height, size);
    const { image: boxed } = letterboxPair(image, null, size);
    const input = tf.tidy(() =>
      normalizeInput(tf.tensor4d(Float32Array.from(boxed), [1, size, size, 3]), p.normalization),
    );
    const area = areaMask(box);
    // The score runs inside the forward pass, which is synchronous, so what it learns about the mask is
    // kept as tensors and read after the pass (synchronous reads throw on webgpu in Node).
    let pixelCount: tf.Scalar | null = null;
    let predicted: tf.Tensor3D | null = null;
    const score = (logits: tf.Tensor4D): tf.Scalar => {
      const { mask, labels } = predictionMask(logits, req.classIndex, area);
      predicted = labels;
      pixelCount = tf.keep(tf.sum(mask) as tf.Scalar);
      return new SegmentationTarget(req.classIndex, mask).score(logits);
    };
    let gathered: Gathered;
    let classPixels = 0;
    try {
      gathered = activationsAndGradients(p.model, input, req.layers, score);
      classPixels = pixelCount ? (await (pixelCount as tf.Scalar).data())[0]! : 0;
      // An absent class would give an all-zero map that looks like an answer. (Throwing from inside the
      // forward pass would save the backward pass, but tfjs then leaks the tensors its tape kept.)
      if (classPixels === 0) {
        const present = predicted ? await presentClasses(predicted, box) : [];
        tf.dispose([...gathered.activations, ...gathered.gradients]);
        throw new ClassNotPredictedError(req.classIndex, present, req.classNames);
      }
    } finally {
      tf.dispose([input, area]);
      if (pixelCount) (pixelCount as tf.Scalar).dispose();
      if (predicted) (predicted as tf.Tensor3D).dispose();
    }
    const [width, height] = fitInside(image.width, image.height, req.maxSide);
    const maps: tf.Tensor4D[] = [];
    try {
      for (let i = 0; i < req.layers.length; i++) {
        maps.push(
          tf.tidy(() =>
            toImage(this.combine(gathered.activations[i]!, gathered.gradients[i]!), box, width, height),
          ),
        );
      }
      tf.dispose([...gathered.activations, ...gathered.gradients]);
      const values = await Promise.all(maps.map((m) => m.data() as Promise<Float32Array>));
      return values.map((v, i) => ({
        layer: req.layers[i]!,
        width,
        height,
        empty: !v.some((x) => x > 0),
        cam: normalizeCam(Float32Array.from(v)),
        classPixels,
      }));
    } finally {
      tf.dispose([...gathered.activations, ...gathered.gradients, ...maps]);
    }
  }
}
