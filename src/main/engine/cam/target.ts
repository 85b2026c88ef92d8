// What Grad-CAM differentiates for segmentation: the sum of one class's logits over the pixels the model
// assigns to that class (pytorch-grad-cam's SegmentationTarget), with the mask taken from the same forward
// pass behind a stop-gradient. Engine process.
import * as tf from '@tensorflow/tfjs-core';

/** pytorch-grad-cam's `SegmentationTarget(category, mask)`: the class logits summed inside the mask. */
export class SegmentationTarget {
  /**
   * @param classIndex the class whose logits are summed
   * @param mask `[1, height, width]`, 1 inside, 0 outside (float32)
   */
  constructor(
    readonly classIndex: number,
    readonly mask: tf.Tensor3D,
  ) {}

  /**
   * @param logits `[1, height, width, classes]`
   * @returns a scalar: Σ over pixels of logits[…, classIndex] · mask
   */
  score(logits: tf.Tensor4D): tf.Scalar {
    return tf.tidy(() => {
      const classLogits = tf.squeeze(
        tf.slice(logits, [0, 0, 0, this.classIndex], [-1, -1, -1, 1]),
        [3],
      ) as tf.Tensor3D;
      return tf.sum(tf.mul(classLogits, this.mask));
    });
  }
}

/**
 * The mask of pixels whose argmax is `classIndex`, restricted to `area`, taken from `logits` behind a
 * stop-gradient: to the tape it is a constant, as pytorch-grad-cam computes its mask without gradients.
 * (tfjs has no `stopGradient`; a custom gradient of zeros is one, and the ops inside it, argmax and
 * equal, which have no gradients of their own, are not recorded.)
 *
 * @param logits `[1, height, width, classes]`
 * @param area `[1, height, width]` float32, 1 where the image is (not the letterbox padding)
 * @returns `mask`: `[1, height, width]` float32, 0 or 1; `labels`: the argmax `[1, height, width]` int32,
 *   kept out of any tidy (the caller disposes it)
 */
export function predictionMask(
  logits: tf.Tensor4D,
  classIndex: number,
  area: tf.Tensor3D,
): { mask: tf.Tensor3D; labels: tf.Tensor3D } {
  let labels: tf.Tensor3D | null = null;
  const masked = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const l = args[0] as tf.Tensor4D;
    labels = tf.keep(tf.argMax(l, -1) as tf.Tensor3D);
    const value = tf.mul(tf.cast(tf.equal(labels, classIndex), 'float32'), area) as tf.Tensor3D;
    return { value, gradFunc: () => tf.zerosLike(l) };
  });
  const mask = masked(logits) as tf.Tensor3D;
  return { mask, labels: labels! };
}

/** The requested class has no pixel in the prediction, so there is nothing for Grad-CAM to explain. */
export class ClassNotPredictedError extends Error {
  constructor(
    readonly classIndex: number,
    readonly present: number[],
    classNames?: readonly string[],
  ) {
    const name = (i: number) => classNames?.[i] ?? `class ${i}`;
    const which = classNames?.[classIndex]
      ? `class ${classIndex} (${classNames[classIndex]})`
      : `class ${classIndex}`;
    super(
      `${which} is not in the prediction for this image; classes present: ${present.map(name).join(', ') || 'none'}`,
    );
    this.name = 'ClassNotPredictedError';
  }
}
