// HiResCAM (Draelos and Carin, 2020): the gradient itself weights the activations position by position,
// ReLU(Σ_k G_k ⊙ A_k), so the map shows exactly what raised the score, without Grad-CAM's averaging.
// Engine process.
import type * as tf from '@tensorflow/tfjs-core';
import { BaseCam } from './base';

export class HiResCam extends BaseCam {
  /** @returns the gradient: `[1, height, width, channels]`, one weight per position and channel */
  weights(_activations: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor4D {
    return gradients;
  }
}
