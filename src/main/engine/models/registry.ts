// The models Segscope can train, keyed by id: the facts of shared/modelCatalog.ts (title, size multiple,
// input scaling, backbone, Grad-CAM layer…) with the builder of each. Engine process.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  DECONVNET_FC_WIDTH,
  MODEL_FACTS,
  MODEL_IDS as FACT_IDS,
  type ModelFacts,
  type ModelId,
  type Normalization,
} from '../../../shared/modelCatalog';
import { AtrousConv2D } from './customLayers';
import { buildDeconvNet } from './deconvnet';
import { buildDeepLabV3 } from './deeplabv3';
import { buildFcn } from './fcn';
import { buildFcnResNet18 } from './fcnResnet';
import { buildUNet } from './unet';
import { buildUNetVgg16 } from './unetVgg16';

export type { ModelId, Normalization };
export { DECONVNET_FC_WIDTH };

export interface ModelBuildOptions {
  numClasses: number;
  /** A side, or `[height, width]`; each must be a multiple of the spec's `sizeMultiple`. */
  inputSize: number | readonly [number, number];
  seed?: number;
}

/** How the engine builds a model: the one thing the registry adds to the model facts of shared. */
interface Builder {
  /** A model mapping `[batch, height, width, 3]` to logits `[batch, height, width, numClasses]`. */
  build(opts: ModelBuildOptions): tfl.LayersModel;
  /**
   * For a model too large to build just to be listed: an earlier registry model with the same layer
   * names, and its parameter count turned into this one's.
   */
  listing?: { like: ModelId; params(listed: number): number };
}

/** A model's facts (shared/modelCatalog.ts) with its builder. */
export interface ModelSpec extends ModelFacts, Builder {
  id: ModelId;
}

/**
 * DeconvNet's parameters grow with the fc width w as 50186·w + w² (fc6 7×7×512·w, deconv6 7×7·w×512,
 * fc7 w², their biases and the two batch norms' four vectors): the count at 4096 from the count at 256.
 */
function deconvNetParamsAt(width: number, countAt256: number): number {
  const extra = (w: number) => 50186 * w + w * w;
  return countAt256 + extra(width) - extra(DECONVNET_FC_WIDTH);
}

/** One builder per model id: adding a model is its file, its facts entry and one line here. */
const BUILDERS: Readonly<Record<ModelId, Builder>> = {
  unet: { build: (opts) => buildUNet(opts) },
  'unet-small': { build: (opts) => buildUNet({ ...opts, baseFilters: 8 }) },
  'unet-vgg16': { build: (opts) => buildUNetVgg16(opts) },
  fcn32s: { build: (opts) => buildFcn(32, opts) },
  fcn16s: { build: (opts) => buildFcn(16, opts) },
  fcn8s: { build: (opts) => buildFcn(8, opts) },
  deconvnet: { build: (opts) => buildDeconvNet({ ...opts, fcWidth: DECONVNET_FC_WIDTH }) },
  'deconvnet-4096': {
    build: (opts) => buildDeconvNet({ ...opts, fcWidth: 4096 }),
    listing: { like: 'deconvnet', params: (listed) => deconvNetParamsAt(4096, listed) },
  },
  deeplabv3: { build: (opts) => buildDeepLabV3({ ...opts, backbone: 50 }) },
  'deeplabv3-resnet18': { build: (opts) => buildDeepLabV3({ ...opts, backbone: 18 }) },
  'fcn-resnet18': { build: (opts) => buildFcnResNet18(opts) },
};

export const MODELS: Readonly<Record<ModelId, ModelSpec>> = Object.fromEntries(
  MODEL_FACTS.map((facts) => [facts.id, { ...facts, ...BUILDERS[facts.id] }]),
) as Record<ModelId, ModelSpec>;

export const MODEL_IDS: ModelId[] = [...FACT_IDS];

export function isModelId(id: string): id is ModelId {
  return Object.hasOwn(MODELS, id);
}

/** The spec for `id`, or an Error listing the ids there are. */
export function getModelSpec(id: string): ModelSpec {
  if (!isModelId(id)) throw new Error(`Unknown model '${id}'; known models: ${MODEL_IDS.join(', ')}`);
  return MODELS[id];
}

const CONV_CLASSES = new Set([
  'Conv2D',
  'Conv2DTranspose',
  'SeparableConv2D',
  'DepthwiseConv2D',
  AtrousConv2D.className,
]);

/** Names of the model's convolution layers in build order: the candidates for Grad-CAM's layer picker. */
export function convLayerNames(model: tfl.LayersModel): string[] {
  return model.layers.filter((l) => CONV_CLASSES.has(l.getClassName())).map((l) => l.name);
}

const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68] as const;

/**
 * Scales images as `normalization` says.
 *
 * @param rgb `[batch, height, width, 3]`, RGB 0..255
 * @returns `[batch, height, width, 3]` float32
 */
export function normalizeInput(rgb: tf.Tensor4D, normalization: Normalization): tf.Tensor4D {
  return tf.tidy(() => {
    const x = tf.cast(rgb, 'float32');
    if (normalization === 'zero-one') return tf.div(x, 255);
    const bgr = tf.reverse(x, -1);
    return tf.sub(bgr, tf.tensor1d([...CAFFE_MEAN_BGR]));
  });
}
