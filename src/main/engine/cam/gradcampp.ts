// Grad-CAM++ (Chattopadhay et al., 2018), as pytorch-grad-cam computes it: per-position coefficients
// alpha = g² / (2g² + Σ_spatial(A)·g³) from the gradient g, and channel weights Σ_spatial(alpha · ReLU(g)).
// Engine process.
import * as tf from '@tensorflow/tfjs-core';
import { BaseCam } from './base';

export class GradCamPlusPlus extends BaseCam {
  /**
   * Where the denominator is 0 (which includes wherever g is 0) alpha is 0; pytorch-grad-cam adds 1e-7 to
   * the denominator instead, which differs only where the denominator is within a hair of 0.
   *
   * @returns `[1, 1, 1, channels]`
   */
  weights(activations: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const g2 = tf.square(gradients);
      const g3 = tf.mul(g2, gradients);
      const sumA = tf.sum(activations, [1, 2], true);
      const denominator = tf.add(tf.mul(g2, 2), tf.mul(sumA, g3));
      const zero = tf.equal(denominator, 0);
      const alpha = tf.where(
        zero,
        tf.zerosLike(g2),
        tf.div(g2, tf.where(zero, tf.onesLike(denominator), denominator)),
      );
      return tf.sum(tf.mul(alpha, tf.relu(gradients)), [1, 2], true) as tf.Tensor4D;
    });
  }
}
