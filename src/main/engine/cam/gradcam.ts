// Grad-CAM (Selvaraju et al., 2017): each channel weighted by the spatial mean of its gradient.
// Engine process.
import * as tf from '@tensorflow/tfjs-core';
import { BaseCam } from './base';

export class GradCam extends BaseCam {
  /** @returns `[1, 1, 1, channels]`: mean over height and width of the gradient */
  weights(_activations: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor4D {
    return tf.mean(gradients, [1, 2], true);
  }
}
