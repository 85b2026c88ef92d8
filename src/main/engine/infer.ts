// Segmentation of whole images with a trained model: letterbox onto the grey square, softmax, crop
// the letterbox away, resize the probabilities to the original size, argmax. Also writes the palette
// PNG and the blend, and evaluates a split at full resolution. Engine process.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ClassProbabilities } from '../../shared/draftRefine';
import { encodeLabelPng } from '../../shared/labelPng';
import { letterbox } from '../../shared/letterbox';
import { ConfusionMatrix, computeMetrics, type SegmentationMetrics } from '../../shared/metrics';
import { letterboxPair } from './data/augment';
import { readLabel, readRgb, type RgbImage } from './data/samples';
import { normalizeInput, type Normalization } from './models/registry';
import type { OrtModel } from './onnx/runtime';

/** A loaded model with what inference needs to know about it. */
export interface Predictor {
  model: tfl.LayersModel;
  inputSize: number;
  normalization: Normalization;
  /** The same checkpoint exported and loaded in ONNX Runtime: when set, `segment` takes logits from it. */
  ort?: OrtModel;
}

/** What segmentation needs: a tfjs model, or its ONNX export in ONNX Runtime, or both. */
export type Segmenter = Omit<Predictor, 'model'> & { model?: tfl.LayersModel };

/** Logits `[1, size, size, classes]` for normalised input, from ONNX Runtime when the segmenter has it. */
async function logitsOf(p: Segmenter, x: tf.Tensor4D): Promise<tf.Tensor4D> {
  if (p.ort) {
    const [, h, w] = x.shape;
    const out = await p.ort.run((await x.data()) as Float32Array, [1, h, w, 3]);
    return tf.tensor4d(out, [1, h, w, out.length / (h * w)]);
  }
  if (!p.model) throw new Error('segment: neither a tfjs model nor an ONNX Runtime session');
  return p.model.predict(x) as tf.Tensor4D;
}

/** One image's segmentation at its original size. */
export interface Segmentation {
  width: number;
  height: number;
  /** Argmax class per pixel. */
  labels: Uint8Array;
  /** Softmax probability of the argmax class per pixel. */
  confidence: Float32Array;
  /**
   * Mean over the image's pixels of the softmax's normalised entropy H / ln(C), 0 (certain) to 1
   * (uniform); 0 for a one-class model.
   */
  meanEntropy: number;
}

/** The network's softmax over `image`'s letterboxed input, as a tensor; the caller disposes it. */
async function softmaxOf(p: Segmenter, image: RgbImage): Promise<tf.Tensor4D> {
  const size = p.inputSize;
  const { image: boxed } = letterboxPair(image, null, size);
  const x = tf.tidy(() =>
    normalizeInput(tf.tensor4d(Float32Array.from(boxed), [1, size, size, 3]), p.normalization),
  );
  let logits: tf.Tensor4D;
  try {
    logits = await logitsOf(p, x);
  } finally {
    x.dispose();
  }
  try {
    return tf.tidy(() => tf.softmax(logits));
  } finally {
    logits.dispose();
  }
}

/**
 * The class probabilities of `image` at the model's resolution, the letterbox cropped away: what
 * `refineDraft` turns into a draft at the image's size.
 */
export async function classProbabilities(p: Segmenter, image: RgbImage): Promise<ClassProbabilities> {
  const box = letterbox(image.width, image.height, p.inputSize);
  const probs = await softmaxOf(p, image);
  const cropped = tf.tidy(() => tf.slice(probs, [0, box.top, box.left, 0], [1, box.height, box.width, -1]));
  probs.dispose();
  try {
    return {
      width: box.width,
      height: box.height,
      classes: cropped.shape[3],
      data: Float32Array.from(await cropped.data()),
    };
  } finally {
    cropped.dispose();
  }
}

/**
 * Segments `image`.
 * @returns labels and confidences at the image's own size, and the mean normalised entropy there
 */
export async function segment(p: Segmenter, image: RgbImage): Promise<Segmentation> {
  const box = letterbox(image.width, image.height, p.inputSize);
  const probs = await softmaxOf(p, image);
  const classes = probs.shape[3];
  const [labelsT, confT, entropyT] = tf.tidy(() => {
    const cropped = tf.slice(probs, [0, box.top, box.left, 0], [1, box.height, box.width, -1]);
    const full = tf.image.resizeBilinear(cropped as tf.Tensor4D, [image.height, image.width], false, true);
    // -Σ p ln p at the image's size; the floor keeps 0·ln 0 at 0 rather than NaN. Reduced on the
    // backend to one number, so only the labels and confidences are read back per pixel.
    const entropy =
      classes > 1
        ? tf.div(tf.neg(tf.sum(tf.mul(full, tf.log(tf.maximum(full, 1e-12))), -1)), Math.log(classes))
        : tf.zeros([1, image.height, image.width]);
    return [tf.argMax(full, -1), tf.max(full, -1), tf.mean(entropy)];
  });
  probs.dispose();
  try {
    const [labels, confidence, entropy] = await Promise.all([labelsT.data(), confT.data(), entropyT.data()]);
    return {
      width: image.width,
      height: image.height,
      labels: Uint8Array.from(labels),
      confidence: Float32Array.from(confidence),
      meanEntropy: entropy[0]!,
    };
  } finally {
    tf.dispose([labelsT, confT, entropyT]);
  }
}

/**
 * The blend of an image with its colour-coded labels: `alpha` of the class colour over the photo.
 * Background (0) leaves the photo as it is, as the viewer's blend does.
 */
export function blend(image: RgbImage, labels: Uint8Array, colormap: Uint8Array, alpha = 0.7): Uint8Array {
  const out = new Uint8Array(image.width * image.height * 3);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]! * 3;
    const a = c === 0 ? 0 : alpha;
    for (let k = 0; k < 3; k++) {
      out[i * 3 + k] = Math.round(image.data[i * 3 + k]! * (1 - a) + colormap[c + k]! * a);
    }
  }
  return out;
}

/** Segments each image file, writing `<name>.png` (palette) and with `withBlend` `<name>_blend.jpg`. */
export async function predictFiles(
  p: Segmenter,
  files: string[],
  outDir: string,
  colormap: Uint8Array,
  withBlend: boolean,
  onProgress: (done: number, total: number) => void,
): Promise<{ written: string[] }> {
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const [i, file] of files.entries()) {
    const image = await readRgb(file);
    const seg = await segment(p, image);
    const name = basename(file, extname(file));
    const png = join(outDir, `${name}.png`);
    await writeFile(
      png,
      encodeLabelPng({ width: seg.width, height: seg.height, indices: seg.labels }, colormap),
    );
    written.push(png);
    if (withBlend) {
      const path = join(outDir, `${name}_blend.jpg`);
      await sharp(Buffer.from(blend(image, seg.labels, colormap)), {
        raw: { width: image.width, height: image.height, channels: 3 },
      })
        .jpeg({ quality: 90 })
        .toFile(path);
      written.push(path);
    }
    onProgress(i + 1, files.length);
  }
  return { written };
}

/** Metrics over labelled images at their original resolution. */
export async function evaluateFiles(
  p: Segmenter,
  pairs: { image: string; label: string }[],
  classNames: string[],
  colormap: Uint8Array,
  onProgress: (done: number, total: number) => void,
): Promise<SegmentationMetrics> {
  const cm = new ConfusionMatrix(classNames.length);
  for (const [i, pair] of pairs.entries()) {
    const image = await readRgb(pair.image);
    const gt = await readLabel(pair.label, colormap, image.width, image.height);
    const seg = await segment(p, image);
    cm.add(gt, seg.labels);
    onProgress(i + 1, pairs.length);
  }
  return computeMetrics(cm, classNames);
}
