// The training objective on top of the masked cross-entropy: optional per-class weights and an optional
// soft Dice term, both ignoring void (255) pixels. Engine process.
import * as tf from '@tensorflow/tfjs-core';
import { maskedCrossEntropy, VOID_LABEL } from './loss';

export interface ObjectiveOptions {
  /** `[classes]` weights for the cross-entropy; each valid pixel counts with its class's weight. */
  classWeights?: tf.Tensor1D;
  /** Adds 1 − mean soft Dice over the classes present in the batch. */
  dice?: boolean;
}

/**
 * @param logits `[batch, height, width, classes]`
 * @param labels `[batch, height, width]` int32, 255 = void
 * @returns the scalar loss
 */
export function segmentationLoss(
  logits: tf.Tensor4D,
  labels: tf.Tensor3D,
  options: ObjectiveOptions = {},
): tf.Scalar {
  return tf.tidy(() => {
    let loss = options.classWeights
      ? weightedCrossEntropy(logits, labels, options.classWeights)
      : maskedCrossEntropy(logits, labels);
    if (options.dice) loss = tf.add(loss, softDiceLoss(logits, labels));
    return loss as tf.Scalar;
  });
}

/** Shared by both terms: flattened one-hot targets and the void mask, built from wasm-safe ops. */
function targets(labels: tf.Tensor3D, classes: number): { onehot: tf.Tensor2D; valid: tf.Tensor1D } {
  const flat = tf.reshape(labels, [-1]);
  const valid = tf.notEqual(flat, tf.scalar(VOID_LABEL, 'int32'));
  const safe = tf.mul(tf.cast(flat, 'int32'), tf.cast(valid, 'int32'));
  return {
    onehot: tf.cast(tf.oneHot(safe, classes), 'float32') as tf.Tensor2D,
    valid: tf.cast(valid, 'float32') as tf.Tensor1D,
  };
}

/** Cross-entropy where each valid pixel counts with its class's weight, normalised by the weight sum. */
export function weightedCrossEntropy(
  logits: tf.Tensor4D,
  labels: tf.Tensor3D,
  weights: tf.Tensor1D,
): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[3];
    const { onehot, valid } = targets(labels, classes);
    const logProbs = tf.logSoftmax(tf.reshape(logits, [-1, classes]));
    const nll = tf.neg(tf.sum(tf.mul(onehot, logProbs), -1));
    const pixelWeight = tf.mul(tf.sum(tf.mul(onehot, weights), -1), valid);
    return tf.div(tf.sum(tf.mul(nll, pixelWeight)), tf.maximum(tf.sum(pixelWeight), 1e-6)) as tf.Scalar;
  });
}

/** 1 − the mean soft Dice coefficient over all classes, smoothed by 1 so a class absent from both sides counts as a match. */
export function softDiceLoss(logits: tf.Tensor4D, labels: tf.Tensor3D): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[3];
    const { onehot, valid } = targets(labels, classes);
    const probs = tf.mul(tf.softmax(tf.reshape(logits, [-1, classes])), tf.expandDims(valid, 1));
    const intersection = tf.sum(tf.mul(probs, onehot), 0);
    const sums = tf.add(tf.sum(probs, 0), tf.sum(onehot, 0));
    const dice = tf.div(tf.add(tf.mul(intersection, 2), 1), tf.add(sums, 1));
    return tf.sub(1, tf.mean(dice)) as tf.Scalar;
  });
}
