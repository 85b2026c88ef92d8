// Training losses over label maps: softmax cross-entropy and soft Dice, both leaving VOC's void (255) out.
// Runs in the engine process.
import * as tf from '@tensorflow/tfjs-core';

/** The label value that marks a pixel as void: no loss, no metrics. */
export const VOID_LABEL = 255;

/**
 * The labelled-pixel mask and labels safe to one-hot (void → class 0, masked out by `valid`).
 *
 * Built only from ops whose wasm kernels behave: OneHot's result is cast (the wasm OneHot ignores its dtype
 * argument), and void labels are zeroed by an int32 multiply rather than a Select, which on wasm
 * reinterprets bits when its branches differ in dtype.
 *
 * @returns `valid` `[pixels]` float32 1/0 and `target` `[pixels, classes]` float32 one-hot
 */
function flatTargets(labels: tf.Tensor3D, classes: number): { valid: tf.Tensor1D; target: tf.Tensor2D } {
  const isValid = tf.notEqual(labels, tf.scalar(VOID_LABEL, 'int32'));
  const safe = tf.mul(tf.cast(labels, 'int32'), tf.cast(isValid, 'int32'));
  return {
    valid: tf.cast(tf.reshape(isValid, [-1]), 'float32') as tf.Tensor1D,
    target: tf.cast(tf.oneHot(tf.reshape(safe, [-1]), classes), 'float32') as tf.Tensor2D,
  };
}

/**
 * Softmax cross-entropy averaged over the pixels whose label is not 255; 0 when every pixel is void.
 * With `classWeights`, pixel i counts w[yᵢ] times and the mean divides by Σ w[yᵢ] (PyTorch's convention).
 *
 * @param logits `[batch, height, width, classes]` float32
 * @param labels `[batch, height, width]` int32 class indices, 255 for void
 * @param classWeights `[classes]` float32, optional
 * @returns a scalar
 */
export function maskedCrossEntropy(
  logits: tf.Tensor4D,
  labels: tf.Tensor3D,
  classWeights?: tf.Tensor1D,
): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[3];
    const { valid, target } = flatTargets(labels, classes);
    const logProbs = tf.logSoftmax(tf.reshape(logits, [-1, classes]));
    const nll = tf.neg(tf.sum(tf.mul(target, logProbs), -1));
    const weight =
      classWeights == null
        ? valid
        : tf.mul(valid, tf.sum(tf.mul(target, tf.reshape(classWeights, [1, classes])), -1));
    // max(…, ε) rather than max(…, 1): class weights may sum to less than 1 over a batch.
    const denominator = tf.maximum(tf.sum(weight), 1e-12);
    return tf.div(tf.sum(tf.mul(nll, weight)), denominator) as tf.Scalar;
  });
}

/**
 * Soft Dice loss: 1 − mean over classes of (2·Σ p·g + 1) / (Σ p + Σ g + 1), with p the softmax, g the
 * one-hot labels and the sums over labelled pixels only. The +1 smoothing makes a class absent from both
 * labels and prediction score 1, and keeps the gradient finite.
 *
 * @param logits `[batch, height, width, classes]` float32
 * @param labels `[batch, height, width]` int32 class indices, 255 for void
 * @returns a scalar in [0, 1)
 */
export function softDiceLoss(logits: tf.Tensor4D, labels: tf.Tensor3D): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[3];
    const { valid, target } = flatTargets(labels, classes);
    const mask = tf.reshape(valid, [-1, 1]);
    const probs = tf.mul(tf.softmax(tf.reshape(logits, [-1, classes])), mask);
    const g = tf.mul(target, mask);
    const intersection = tf.sum(tf.mul(probs, g), 0);
    const sizes = tf.add(tf.sum(probs, 0), tf.sum(g, 0));
    const dice = tf.div(tf.add(tf.mul(intersection, 2), 1), tf.add(sizes, 1));
    return tf.sub(1, tf.mean(dice)) as tf.Scalar;
  });
}
