// The gradient of FusedBatchNorm without tfjs 4.22's Tile: its stock gradient tiles 1/√(var+ε) out to the
// whole input's shape before multiplying, which was a quarter of a resnet18 training step on wasm
// (bench/engine/epoch.ts). Here the multiply broadcasts the per-channel factor instead; every element
// gets the same two float32 products in the same order, so the gradients are bit for bit the stock ones.
// Runs in the engine process (the gradient registry is global, not per backend).
import * as tf from '@tensorflow/tfjs-core';

/** FusedBatchNorm's gradient: the stock one's formulas, with broadcasting where it tiled. */
export const fusedBatchNormGradConfig: tf.GradConfig = {
  kernelName: tf.FusedBatchNorm,
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy, saved, attrs) => {
    const dyT = dy as tf.Tensor;
    const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    const scaleValue = scale == null ? tf.scalar(1) : scale;
    const axes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
    const perChannel = mean.rank === 1;
    const xMinusMean = tf.sub(x, mean);
    const dyTimesScale = tf.mul(dyT, scaleValue);
    const rstd = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    const minusHalfRCube = tf.mul(tf.mul(tf.mul(rstd, rstd), rstd), tf.scalar(-0.5));
    const reduce = (t: tf.Tensor) => (perChannel ? tf.sum(t, axes) : t);
    return {
      // A rank-1 `rstd` broadcasts along the last (channel) axis, as the stock tile laid it out.
      x: () => tf.reshape(tf.mul(tf.mul(dyT, rstd), scaleValue), x.shape),
      mean: () => tf.reshape(reduce(tf.mul(tf.mul(rstd, tf.scalar(-1)), dyTimesScale)), mean.shape),
      variance: () =>
        tf.reshape(reduce(tf.mul(tf.mul(minusHalfRCube, xMinusMean), dyTimesScale)), mean.shape),
      scale: () => tf.reshape(reduce(tf.mul(dyT, tf.mul(xMinusMean, rstd))), mean.shape),
      offset: () => tf.reshape(reduce(dyT), mean.shape),
    };
  },
};

const MARK = Symbol.for('segscope.gradient');

/** Installs the gradient above in place of tfjs's own. Safe to call more than once. */
export function registerBatchNormGrad(): void {
  const current = tf.getGradient(tf.FusedBatchNorm) as (tf.GradConfig & { [MARK]?: true }) | undefined;
  if (current?.[MARK]) return;
  tf.registerGradient({ ...fusedBatchNormGradConfig, [MARK]: true } as tf.GradConfig);
}
