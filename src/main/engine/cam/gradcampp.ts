// Grad-CAM++ (Chattopadhay et al., 2018), as pytorch-grad-cam computes it: per-position coefficients
// alpha = g² / (2g² + Σ_spatial(A)·g³ + 1e-7) from the gradient g (0 where g is 0), and channel weights
// Σ_spatial(alpha · ReLU(g)). Engine process.
import * as tf from '@tensorflow/tfjs-core';
import { BaseCam } from './base';

/** pytorch-grad-cam's guard against a zero denominator. */
const EPS = 1e-7;

export class GradCamPlusPlus extends BaseCam {
  /**
   * The 1e-7 is pytorch-grad-cam's, kept although it is not a small change where gradients are small
   * (alpha then shrinks towards g² / 1e-7): the maps must be the ones that definition gives.
   *
   * @returns `[1, 1, 1, channels]`
   */
  weights(activations: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const g2 = tf.square(gradients);
      const g3 = tf.mul(g2, gradients);
      const sumA = tf.sum(activations, [1, 2], true);
      const denominator = tf.add(tf.add(tf.mul(g2, 2), tf.mul(sumA, g3)), EPS);
      const alpha = tf.where(tf.equal(gradients, 0), tf.zerosLike(g2), tf.div(g2, denominator));
      return tf.sum(tf.mul(alpha, tf.relu(gradients)), [1, 2], true) as tf.Tensor4D;
    });
  }
}
