// Grad-CAM for segmentation, as the engine's requests use it: one class, one layer (or a sweep over
// several from the same pass), one method, mapped onto the original image. Engine process.
import type * as tfl from '@tensorflow/tfjs-layers';
import { CAM_METHODS, isCamMethod, type CamMethod } from '../../../shared/camMethods';
import type { RgbImage } from '../data/samples';
import type { Predictor } from '../infer';
import { convLayerNames, getModelSpec, MODELS, MODEL_IDS } from '../models/registry';
import { BaseCam, type CamOutput } from './base';
import { GradCam } from './gradcam';
import { GradCamPlusPlus } from './gradcampp';
import { HiResCam } from './hirescam';

export { activationsAndGradients, BaseCam, fitInside, type CamOutput, type Gathered } from './base';
export { ClassNotPredictedError, predictionMask, SegmentationTarget } from './target';
export { GradCam, GradCamPlusPlus, HiResCam };
export { CAM_METHODS };

/** The class of each method of the one list (shared/camMethods.ts). */
const METHOD_CLASSES: Readonly<Record<CamMethod, new () => BaseCam>> = {
  gradcam: GradCam,
  gradcampp: GradCamPlusPlus,
  hirescam: HiResCam,
};

/** The method object for `method`, or an Error naming the methods there are. */
export function camMethod(method: string): BaseCam {
  if (!isCamMethod(method))
    throw new Error(`unknown CAM method '${method}'; methods: ${CAM_METHODS.join(', ')}`);
  return new METHOD_CLASSES[method]();
}

/** The layers Grad-CAM can explain: the model's conv layers in build order (the layer picker's list). */
export function camLayers(model: tfl.LayersModel): string[] {
  return convLayerNames(model);
}

/**
 * The layer Grad-CAM uses when none is named: the registry spec's `camLayer` (the encoder's last conv).
 * Without `modelId`, the first spec `camLayer` the model has; failing that, its last conv layer that does
 * not produce the output (the output's own conv explains nothing beyond the logits).
 */
export function defaultCamLayer(model: tfl.LayersModel, modelId?: string): string {
  const names = camLayers(model);
  if (modelId !== undefined) {
    const layer = getModelSpec(modelId).camLayer;
    if (names.includes(layer)) return layer;
  }
  for (const id of MODEL_IDS) if (names.includes(MODELS[id].camLayer)) return MODELS[id].camLayer;
  const outputs = new Set(model.outputLayers.map((l) => l.name));
  const inner = names.filter((n) => !outputs.has(n));
  const layer = inner.at(-1) ?? names.at(-1);
  if (layer === undefined) throw new Error(`model ${model.name} has no conv layer for Grad-CAM`);
  return layer;
}

/** An Error naming `layer` and the choices, unless the model has it as a conv layer. */
export function assertCamLayer(model: tfl.LayersModel, layer: string): void {
  const names = camLayers(model);
  if (!names.includes(layer)) {
    throw new Error(`unknown layer '${layer}' for Grad-CAM; conv layers: ${names.join(', ')}`);
  }
}

export interface CamOptions {
  classIndex: number;
  /** Defaults to `defaultCamLayer(p.model)`. */
  layer?: string;
  method: CamMethod;
  /** Names by class index, for the message when the class is absent. */
  classNames?: readonly string[];
}

/**
 * Grad-CAM (or Grad-CAM++, HiResCAM) of one class for `image`: one forward and one backward pass.
 *
 * @returns the map at the image's size, 0..1, with the layer used and the class's pixel count in the
 *   input square
 * @throws ClassNotPredictedError when no pixel is predicted as the class, naming the classes that are
 */
export async function computeCam(p: Predictor, image: RgbImage, options: CamOptions): Promise<CamOutput> {
  const layer = options.layer ?? defaultCamLayer(p.model);
  assertCamLayer(p.model, layer);
  const [out] = await camMethod(options.method).compute(p, image, {
    classIndex: options.classIndex,
    layers: [layer],
    classNames: options.classNames,
  });
  return out!;
}

export interface CamSweepOptions {
  classIndex: number;
  method: CamMethod;
  layers: readonly string[];
  /** Each map's longer side is at most this. */
  maxSide: number;
  classNames?: readonly string[];
}

/**
 * One CAM per layer of `options.layers`, all from the same forward and backward pass, each downsized so
 * that its longer side is at most `maxSide`: the layer grid of the viewer.
 */
export async function computeCamSweep(
  p: Predictor,
  image: RgbImage,
  options: CamSweepOptions,
): Promise<CamOutput[]> {
  if (options.layers.length === 0) throw new Error('a CAM sweep needs at least one layer');
  for (const layer of options.layers) assertCamLayer(p.model, layer);
  if (!(options.maxSide >= 1)) throw new Error(`maxSide must be at least 1, not ${options.maxSide}`);
  const unique = [...new Set(options.layers)];
  const maps = await camMethod(options.method).compute(p, image, {
    classIndex: options.classIndex,
    layers: unique,
    classNames: options.classNames,
    maxSide: Math.floor(options.maxSide),
  });
  return options.layers.map((layer) => maps[unique.indexOf(layer)]!);
}
