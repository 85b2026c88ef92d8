// The one table of model facts: for every model the engine can build, its id, title, parameter count,
// size multiple, input scaling, backbone (and so which Keras weights it takes and which layers are its
// encoder), Grad-CAM layers and default layer, and the input sizes the panel proposes. The engine's
// registry adds only a builder per id; the catalog the renderer and `segscope models` list is derived
// from this table. Building the big models takes seconds, so their facts are recorded here and checked
// against the built models by tests/unit/main/engine/modelCatalog.test.ts. Runs in any process.

/**
 * How RGB pixels 0..255 become model input.
 * - `zero-one`: divided by 255.
 * - `imagenet-caffe`: RGB → BGR, minus the ImageNet means (103.939, 116.779, 123.68); what Keras's VGG16
 *   and ResNet50 ImageNet weights expect.
 */
export type Normalization = 'zero-one' | 'imagenet-caffe';

/** The Keras ImageNet weights files Segscope can download and load (`weights:download`). */
export type KerasWeights = 'vgg16' | 'resnet50';

/** An ImageNet encoder whose layers follow the Keras applications' names. */
export interface Backbone {
  title: string;
  /** The Keras weights file that fits it; null where Keras publishes none (ResNet-18). */
  weights: KerasWeights | null;
  /** Names of the encoder's layers, weighted or not: what `freezeEpochs` freezes. */
  encoderLayer: RegExp;
  /** Names of the layers a Keras weights file sets (convolutions and batch norms). */
  kerasLayer: RegExp;
  /** The convs the viewer's layer sweep shows, shallow to deep (one per block or residual block). */
  sweepLayer: RegExp;
}

const RESNET_KERAS_LAYER = /^conv1_(?:conv|bn)$|^conv[2-5]_block\d+_[0-3]_(?:conv|bn)$/;
/** The ResNets' stem and the middle conv of each residual block. */
const RESNET_SWEEP_LAYER = /^conv1_conv$|^conv[2-5]_block\d+_2_conv$/;

/** Every backbone, by the id the models name it with. */
export const BACKBONES = {
  vgg16: {
    title: 'VGG16',
    weights: 'vgg16',
    encoderLayer: /^block\d_/,
    kerasLayer: /^block[1-5]_conv[1-3]$/,
    sweepLayer: /^block\d+_conv\d+$/,
  },
  resnet50: {
    title: 'ResNet-50',
    weights: 'resnet50',
    encoderLayer: /^conv[1-5]_/,
    kerasLayer: RESNET_KERAS_LAYER,
    sweepLayer: RESNET_SWEEP_LAYER,
  },
  resnet18: {
    title: 'ResNet-18',
    weights: null,
    encoderLayer: /^conv[1-5]_/,
    kerasLayer: RESNET_KERAS_LAYER,
    sweepLayer: RESNET_SWEEP_LAYER,
  },
} as const satisfies Record<string, Backbone>;

/** A backbone's id, as model facts name it. */
export type BackboneId = keyof typeof BACKBONES;

/** ResNet-50's bottleneck blocks have a third conv (`convN_blockM_3_conv`); ResNet-18's basic blocks do not. */
export const RESNET_BOTTLENECK_LAYER = /^conv\d_block\d+_3_conv$/;

/** What the catalog lists of a model, but its id (the table's key). */
interface CatalogFacts {
  title: string;
  /** Parameters for 21 classes. */
  params: number;
  /** Input sides must be multiples of this. */
  sizeMultiple: number;
  /**
   * The layer Grad-CAM uses by default: the encoder's last conv, the deepest map that still has spatial
   * detail (`block5_conv3` on VGG16 backbones, the bottleneck's last conv on the U-Nets, the last conv of
   * conv5's last block on the ResNets).
   */
  camLayer: string;
  /** Every conv layer, in build order: the Grad-CAM layer picker's list. */
  convLayers: string[];
  /**
   * Floats of layer outputs per input pixel for one image: what the forward pass keeps for the backward
   * one. Measured by summing every layer's output size; used to estimate a run's memory.
   */
  activationsPerPixel: number;
  /** The input side the panel proposes on a CPU backend and on a GPU one. */
  defaultInputSize: { cpu: number; gpu: number };
}

/**
 * DeconvNet's fc6/fc7 width in the registry. The paper's 4096 makes 252M parameters (1 GB of weights);
 * even 1024 (82M) exhausts the wasm heap once Adam's moments and the gradients are added.
 */
export const DECONVNET_FC_WIDTH = 256;

/** One model the engine can build, as the model picker and `segscope models` list it. */
export interface ModelInfo extends CatalogFacts {
  id: ModelId;
}

/** One entry of the table: what the catalog lists, and what only the engine needs. */
interface ModelFactsEntry extends CatalogFacts {
  normalization: Normalization;
  /** The ImageNet encoder it is built on, or null (the U-Nets without one). */
  backbone: BackboneId | null;
  /** Backends whose memory cannot hold the model while it trains: training there is refused up front. */
  tooLargeFor?: readonly string[];
}

/** The U-Nets' conv layers, the same at every width. */
const UNET_CONVS: string[] = [
  'down1_conv1',
  'down1_conv2',
  'down2_conv1',
  'down2_conv2',
  'down3_conv1',
  'down3_conv2',
  'down4_conv1',
  'down4_conv2',
  'bottom_conv1',
  'bottom_conv2',
  'up4_deconv',
  'up4_conv1',
  'up4_conv2',
  'up3_deconv',
  'up3_conv1',
  'up3_conv2',
  'up2_deconv',
  'up2_conv1',
  'up2_conv2',
  'up1_deconv',
  'up1_conv1',
  'up1_conv2',
  'logits',
];

/** The VGG16 encoder's conv layers, which every VGG16-based model starts with. */
const VGG16_CONVS: string[] = [
  'block1_conv1',
  'block1_conv2',
  'block2_conv1',
  'block2_conv2',
  'block3_conv1',
  'block3_conv2',
  'block3_conv3',
  'block4_conv1',
  'block4_conv2',
  'block4_conv3',
  'block5_conv1',
  'block5_conv2',
  'block5_conv3',
];

/** ResNet-18's conv layers (Keras names), which every ResNet-18-based model starts with. */
const RESNET18_CONVS: string[] = [
  'conv1_conv',
  'conv2_block1_1_conv',
  'conv2_block1_2_conv',
  'conv2_block2_1_conv',
  'conv2_block2_2_conv',
  'conv3_block1_1_conv',
  'conv3_block1_0_conv',
  'conv3_block1_2_conv',
  'conv3_block2_1_conv',
  'conv3_block2_2_conv',
  'conv4_block1_1_conv',
  'conv4_block1_0_conv',
  'conv4_block1_2_conv',
  'conv4_block2_1_conv',
  'conv4_block2_2_conv',
  'conv5_block1_1_conv',
  'conv5_block1_0_conv',
  'conv5_block1_2_conv',
  'conv5_block2_1_conv',
  'conv5_block2_2_conv',
];

/** DeconvNet's conv layers, the same at every fc width. */
const DECONVNET_LAYERS: string[] = [
  ...VGG16_CONVS,
  'fc6',
  'fc7',
  'deconv6',
  'deconv5_1',
  'deconv5_2',
  'deconv5_3',
  'deconv4_1',
  'deconv4_2',
  'deconv4_3',
  'deconv3_1',
  'deconv3_2',
  'deconv3_3',
  'deconv2_1',
  'deconv2_2',
  'deconv1_1',
  'deconv1_2',
  'score',
];

/** The table: every model the engine can build, by id, in the order the pickers list them. */
const FACTS = {
  unet: {
    title: 'U-Net (Ronneberger 2015, padded convs)',
    params: 31033045,
    sizeMultiple: 16,
    camLayer: 'bottom_conv2',
    convLayers: UNET_CONVS,
    activationsPerPixel: 902,
    defaultInputSize: { cpu: 256, gpu: 512 },
    normalization: 'zero-one',
    backbone: null,
  },
  'unet-small': {
    title: 'U-Net with 8 base filters (0.49M parameters), for quick runs on a CPU',
    params: 485997,
    sizeMultiple: 16,
    camLayer: 'bottom_conv2',
    convLayers: UNET_CONVS,
    activationsPerPixel: 134,
    defaultInputSize: { cpu: 128, gpu: 256 },
    normalization: 'zero-one',
    backbone: null,
  },
  'unet-vgg16': {
    title: 'U-Net with VGG16 encoder, bilinear upsampling',
    params: 24892437,
    sizeMultiple: 16,
    camLayer: 'block5_conv3',
    convLayers: [
      ...VGG16_CONVS,
      'dec4_conv1',
      'dec4_conv2',
      'dec3_conv1',
      'dec3_conv2',
      'dec2_conv1',
      'dec2_conv2',
      'dec1_conv1',
      'dec1_conv2',
      'logits',
    ],
    activationsPerPixel: 1148,
    defaultInputSize: { cpu: 256, gpu: 512 },
    normalization: 'imagenet-caffe',
    backbone: 'vgg16',
  },
  fcn32s: {
    title: 'FCN-32s (VGG16)',
    params: 136152917,
    sizeMultiple: 32,
    camLayer: 'block5_conv3',
    convLayers: [...VGG16_CONVS, 'fc6', 'fc7', 'score_fr', 'upscore'],
    activationsPerPixel: 341,
    defaultInputSize: { cpu: 256, gpu: 512 },
    normalization: 'imagenet-caffe',
    backbone: 'vgg16',
  },
  fcn16s: {
    title: 'FCN-16s (VGG16)',
    params: 134815994,
    sizeMultiple: 32,
    camLayer: 'block5_conv3',
    convLayers: [...VGG16_CONVS, 'fc6', 'fc7', 'score_fr', 'upscore2', 'score_pool4', 'upscore16'],
    activationsPerPixel: 341,
    defaultInputSize: { cpu: 256, gpu: 512 },
    normalization: 'imagenet-caffe',
    backbone: 'vgg16',
  },
  fcn8s: {
    title: 'FCN-8s (VGG16)',
    params: 134489759,
    sizeMultiple: 32,
    camLayer: 'block5_conv3',
    convLayers: [
      ...VGG16_CONVS,
      'fc6',
      'fc7',
      'score_fr',
      'upscore2',
      'score_pool4',
      'upscore_pool4',
      'score_pool3',
      'upscore8',
    ],
    activationsPerPixel: 342,
    defaultInputSize: { cpu: 256, gpu: 512 },
    normalization: 'imagenet-caffe',
    backbone: 'vgg16',
  },
  deconvnet: {
    title: `DeconvNet (VGG16 with batch norm, max-unpooling decoder; fc6/fc7 ${DECONVNET_FC_WIDTH} wide, 4096 in the paper)`,
    params: 42413141,
    sizeMultiple: 32,
    camLayer: 'block5_conv3',
    convLayers: DECONVNET_LAYERS,
    activationsPerPixel: 1838,
    defaultInputSize: { cpu: 224, gpu: 448 },
    normalization: 'imagenet-caffe',
    backbone: 'vgg16',
  },
  // Built only on a GPU: its 252M parameters are worked out from deconvnet's (the registry's
  // deconvNetParamsAt), and its activations grow by 24 floats per fc channel at side 64 (measured at
  // widths 256 and 320): 7,526,400 + 24 × 3,840 floats over 64².
  'deconvnet-4096': {
    title:
      'DeconvNet as published (fc6/fc7 4096 wide, 252M parameters, 1 GB of weights): for a GPU; refused on wasm',
    params: 251839061,
    sizeMultiple: 32,
    camLayer: 'block5_conv3',
    convLayers: DECONVNET_LAYERS,
    activationsPerPixel: 1860,
    defaultInputSize: { cpu: 224, gpu: 448 },
    normalization: 'imagenet-caffe',
    backbone: 'vgg16',
    // 1 GB of weights, as much again for the gradients and twice that for Adam's moments: past wasm's 4 GB.
    tooLargeFor: ['wasm'],
  },
  deeplabv3: {
    title: 'DeepLabv3 (ResNet-50, output stride 16, ASPP)',
    params: 39722133,
    sizeMultiple: 16,
    camLayer: 'conv5_block3_3_conv',
    convLayers: [
      'conv1_conv',
      'conv2_block1_1_conv',
      'conv2_block1_2_conv',
      'conv2_block1_0_conv',
      'conv2_block1_3_conv',
      'conv2_block2_1_conv',
      'conv2_block2_2_conv',
      'conv2_block2_3_conv',
      'conv2_block3_1_conv',
      'conv2_block3_2_conv',
      'conv2_block3_3_conv',
      'conv3_block1_1_conv',
      'conv3_block1_2_conv',
      'conv3_block1_0_conv',
      'conv3_block1_3_conv',
      'conv3_block2_1_conv',
      'conv3_block2_2_conv',
      'conv3_block2_3_conv',
      'conv3_block3_1_conv',
      'conv3_block3_2_conv',
      'conv3_block3_3_conv',
      'conv3_block4_1_conv',
      'conv3_block4_2_conv',
      'conv3_block4_3_conv',
      'conv4_block1_1_conv',
      'conv4_block1_2_conv',
      'conv4_block1_0_conv',
      'conv4_block1_3_conv',
      'conv4_block2_1_conv',
      'conv4_block2_2_conv',
      'conv4_block2_3_conv',
      'conv4_block3_1_conv',
      'conv4_block3_2_conv',
      'conv4_block3_3_conv',
      'conv4_block4_1_conv',
      'conv4_block4_2_conv',
      'conv4_block4_3_conv',
      'conv4_block5_1_conv',
      'conv4_block5_2_conv',
      'conv4_block5_3_conv',
      'conv4_block6_1_conv',
      'conv4_block6_2_conv',
      'conv4_block6_3_conv',
      'conv5_block1_1_conv',
      'conv5_block1_2_conv',
      'conv5_block1_0_conv',
      'conv5_block1_3_conv',
      'conv5_block2_1_conv',
      'conv5_block2_2_conv',
      'conv5_block2_3_conv',
      'conv5_block3_1_conv',
      'conv5_block3_2_conv',
      'conv5_block3_3_conv',
      'aspp_pool_conv',
      'aspp_1x1_conv',
      'aspp_rate6_conv',
      'aspp_rate12_conv',
      'aspp_rate18_conv',
      'aspp_project_conv',
      'head_conv',
      'classifier',
    ],
    activationsPerPixel: 906,
    defaultInputSize: { cpu: 256, gpu: 512 },
    normalization: 'imagenet-caffe',
    backbone: 'resnet50',
  },
  'deeplabv3-resnet18': {
    title: 'DeepLabv3 with a ResNet-18 backbone (lighter)',
    params: 15922069,
    sizeMultiple: 16,
    camLayer: 'conv5_block2_2_conv',
    convLayers: [
      ...RESNET18_CONVS,
      'aspp_pool_conv',
      'aspp_1x1_conv',
      'aspp_rate6_conv',
      'aspp_rate12_conv',
      'aspp_rate18_conv',
      'aspp_project_conv',
      'head_conv',
      'classifier',
    ],
    activationsPerPixel: 274,
    defaultInputSize: { cpu: 256, gpu: 512 },
    normalization: 'imagenet-caffe',
    backbone: 'resnet18',
  },
  'fcn-resnet18': {
    title: 'FCN on ResNet-18 (d2l): 1\u00d71 scores, one \u00d732 bilinear-initialised transposed conv',
    params: 13008042,
    sizeMultiple: 32,
    camLayer: 'conv5_block2_2_conv',
    convLayers: [...RESNET18_CONVS, 'final_conv', 'transpose_conv'],
    activationsPerPixel: 220,
    defaultInputSize: { cpu: 320, gpu: 512 },
    normalization: 'imagenet-caffe',
    backbone: 'resnet18',
  },
} satisfies Record<string, ModelFactsEntry>;

/** Every model id: the keys of the table, so a new model is one new entry. */
export type ModelId = keyof typeof FACTS;

/** Everything the table records of a model, with its id. */
export interface ModelFacts extends ModelFactsEntry {
  id: ModelId;
}

/** Every model with all its facts, in the table's order (the registry's and the pickers'). */
export const MODEL_FACTS: readonly ModelFacts[] = Object.entries(FACTS).map(([id, facts]) => ({
  id: id as ModelId,
  ...facts,
}));

/** Every model as the model picker and `segscope models` list it: the table without the engine's facts. */
export const MODEL_CATALOG: readonly ModelInfo[] = MODEL_FACTS.map(
  ({ normalization: _n, backbone: _b, tooLargeFor: _t, ...info }) => info,
);

/** Every model id, in the table's order. */
export const MODEL_IDS: readonly ModelId[] = MODEL_FACTS.map((m) => m.id);

/** The catalog entry of `id`, or undefined for an unknown model. */
export function modelInfo(id: string): ModelInfo | undefined {
  return MODEL_CATALOG.find((m) => m.id === id);
}

/** Every fact of model `id`, or undefined for an unknown model. */
export function modelFacts(id: string): ModelFacts | undefined {
  return MODEL_FACTS.find((m) => m.id === id);
}

/** The backbone of model `id`, or null when it has none (or is unknown). */
export function modelBackbone(id: string): Backbone | null {
  const b = modelFacts(id)?.backbone;
  return b ? BACKBONES[b] : null;
}

/** The Keras weights file that fits model `id`'s encoder, or null when none does. */
export function weightsFor(id: string): KerasWeights | null {
  return modelBackbone(id)?.weights ?? null;
}

/** The U-Nets' encoder convs the layer sweep shows: the contracting path and the bottleneck. */
const UNET_SWEEP_LAYER = /^(?:down\d+_conv\d+|bottom_conv\d+)$/;

/**
 * The layers of `layers` the viewer's sweep shows for model `id`, in their order (shallow to deep): its
 * backbone's, or the U-Net's contracting path where it has none. An unknown model gets every family's.
 */
export function sweepLayers(id: string, layers: readonly string[]): string[] {
  const facts = modelFacts(id);
  const patterns = !facts
    ? [...Object.values(BACKBONES).map((b) => b.sweepLayer), UNET_SWEEP_LAYER]
    : [facts.backbone ? BACKBONES[facts.backbone].sweepLayer : UNET_SWEEP_LAYER];
  return layers.filter((l) => patterns.some((p) => p.test(l)));
}
