// A fix for the cpu backend's ResizeBilinearGrad, which labels its result [batch, width, height, depth]
// (tfjs 4.22), so any non-square bilinear upsampling fails to train. Runs in the engine process.
import * as tf from '@tensorflow/tfjs-core';

/**
 * Wraps the stock cpu kernel: its values are already laid out as `images` is ([batch, height, width,
 * depth], indexed by the images' strides); only the reported shape is swapped, so the shape is restored.
 */
export function makeResizeBilinearGradCpuConfig(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    ...stock,
    kernelFunc: (args) => {
      const out = stock.kernelFunc(args);
      if (Array.isArray(out)) throw new Error('ResizeBilinearGrad: expected one output');
      const { images } = args.inputs as { images: tf.TensorInfo };
      return { ...out, shape: images.shape.slice() };
    },
  };
}
