// The models Segscope can train, keyed by id, with how each expects its input scaled.
// Runs in the engine process.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { AtrousConv2D } from './customLayers';
import { buildDeconvNet } from './deconvnet';
import { buildDeepLabV3, deeplabCamLayer } from './deeplabv3';
import { buildFcn } from './fcn';
import { buildFcnResNet18, FCN_RESNET18_CAM_LAYER } from './fcnResnet';
import { buildUNet } from './unet';
import { buildUNetVgg16 } from './unetVgg16';

/**
 * How RGB pixels 0..255 become model input.
 * - `zero-one`: divided by 255.
 * - `imagenet-caffe`: RGB → BGR, minus the ImageNet means (103.939, 116.779, 123.68); what Keras's VGG16
 *   and ResNet50 ImageNet weights expect.
 */
export type Normalization = 'zero-one' | 'imagenet-caffe';

export type ModelId =
  | 'unet'
  | 'unet-small'
  | 'unet-vgg16'
  | 'fcn32s'
  | 'fcn16s'
  | 'fcn8s'
  | 'deconvnet'
  | 'deconvnet-4096'
  | 'deeplabv3'
  | 'deeplabv3-resnet18'
  | 'fcn-resnet18';

/**
 * DeconvNet's fc6/fc7 width in the registry. The paper's 4096 makes 252M parameters (1 GB of weights);
 * even 1024 (82M) exhausts the wasm heap once Adam's moments and the gradients are added.
 */
export const DECONVNET_FC_WIDTH = 256;

export interface ModelBuildOptions {
  numClasses: number;
  /** A side, or `[height, width]`; each must be a multiple of the spec's `sizeMultiple`. */
  inputSize: number | readonly [number, number];
  seed?: number;
}

export interface ModelSpec {
  id: ModelId;
  title: string;
  /** Input sides must be multiples of this. */
  sizeMultiple: number;
  normalization: Normalization;
  /**
   * Grad-CAM's default layer: the encoder's last conv, the deepest map that still has spatial detail
   * (`block5_conv3` on VGG16 backbones, the bottleneck's last conv on the U-Nets, the last conv of conv5's
   * last block on the ResNets).
   */
  camLayer: string;
  /** A model mapping `[batch, height, width, 3]` to logits `[batch, height, width, numClasses]`. */
  build(opts: ModelBuildOptions): tfl.LayersModel;
  /**
   * For a model too large to build just to be listed: an earlier registry model with the same layer
   * names, and its parameter count turned into this one's.
   */
  listing?: { like: ModelId; params(listed: number): number };
  /** Backends whose memory cannot hold the model while it trains: training there is refused up front. */
  tooLargeFor?: readonly string[];
}

/**
 * DeconvNet's parameters grow with the fc width w as 50186·w + w² (fc6 7×7×512·w, deconv6 7×7·w×512,
 * fc7 w², their biases and the two batch norms' four vectors): the count at 4096 from the count at 256.
 */
function deconvNetParamsAt(width: number, countAt256: number): number {
  const extra = (w: number) => 50186 * w + w * w;
  return countAt256 + extra(width) - extra(DECONVNET_FC_WIDTH);
}

export const MODELS: Readonly<Record<ModelId, ModelSpec>> = {
  unet: {
    id: 'unet',
    title: 'U-Net (Ronneberger 2015, padded convs)',
    sizeMultiple: 16,
    normalization: 'zero-one',
    camLayer: 'bottom_conv2',
    build: (opts) => buildUNet(opts),
  },
  'unet-small': {
    id: 'unet-small',
    title: 'U-Net with 8 base filters (0.49M parameters), for quick runs on a CPU',
    sizeMultiple: 16,
    normalization: 'zero-one',
    camLayer: 'bottom_conv2',
    build: (opts) => buildUNet({ ...opts, baseFilters: 8 }),
  },
  'unet-vgg16': {
    id: 'unet-vgg16',
    title: 'U-Net with VGG16 encoder, bilinear upsampling',
    sizeMultiple: 16,
    normalization: 'imagenet-caffe',
    camLayer: 'block5_conv3',
    build: (opts) => buildUNetVgg16(opts),
  },
  fcn32s: {
    id: 'fcn32s',
    title: 'FCN-32s (VGG16)',
    sizeMultiple: 32,
    normalization: 'imagenet-caffe',
    camLayer: 'block5_conv3',
    build: (opts) => buildFcn(32, opts),
  },
  fcn16s: {
    id: 'fcn16s',
    title: 'FCN-16s (VGG16)',
    sizeMultiple: 32,
    normalization: 'imagenet-caffe',
    camLayer: 'block5_conv3',
    build: (opts) => buildFcn(16, opts),
  },
  fcn8s: {
    id: 'fcn8s',
    title: 'FCN-8s (VGG16)',
    sizeMultiple: 32,
    normalization: 'imagenet-caffe',
    camLayer: 'block5_conv3',
    build: (opts) => buildFcn(8, opts),
  },
  deconvnet: {
    id: 'deconvnet',
    title: `DeconvNet (VGG16 with batch norm, max-unpooling decoder; fc6/fc7 ${DECONVNET_FC_WIDTH} wide, 4096 in the paper)`,
    sizeMultiple: 32,
    normalization: 'imagenet-caffe',
    camLayer: 'block5_conv3',
    build: (opts) => buildDeconvNet({ ...opts, fcWidth: DECONVNET_FC_WIDTH }),
  },
  'deconvnet-4096': {
    id: 'deconvnet-4096',
    title:
      'DeconvNet as published (fc6/fc7 4096 wide, 252M parameters, 1 GB of weights): for a GPU; refused on wasm',
    sizeMultiple: 32,
    normalization: 'imagenet-caffe',
    camLayer: 'block5_conv3',
    build: (opts) => buildDeconvNet({ ...opts, fcWidth: 4096 }),
    listing: { like: 'deconvnet', params: (listed) => deconvNetParamsAt(4096, listed) },
    // 1 GB of weights, as much again for the gradients and twice that for Adam's moments: past wasm's 4 GB.
    tooLargeFor: ['wasm'],
  },
  deeplabv3: {
    id: 'deeplabv3',
    title: 'DeepLabv3 (ResNet-50, output stride 16, ASPP)',
    sizeMultiple: 16,
    normalization: 'imagenet-caffe',
    camLayer: deeplabCamLayer(50),
    build: (opts) => buildDeepLabV3({ ...opts, backbone: 50 }),
  },
  'deeplabv3-resnet18': {
    id: 'deeplabv3-resnet18',
    title: 'DeepLabv3 with a ResNet-18 backbone (lighter)',
    sizeMultiple: 16,
    normalization: 'imagenet-caffe',
    camLayer: deeplabCamLayer(18),
    build: (opts) => buildDeepLabV3({ ...opts, backbone: 18 }),
  },
  'fcn-resnet18': {
    id: 'fcn-resnet18',
    title: 'FCN on ResNet-18 (d2l): 1×1 scores, one ×32 bilinear-initialised transposed conv',
    sizeMultiple: 32,
    normalization: 'imagenet-caffe',
    camLayer: FCN_RESNET18_CAM_LAYER,
    build: (opts) => buildFcnResNet18(opts),
  },
};

export const MODEL_IDS = Object.keys(MODELS) as ModelId[];

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
