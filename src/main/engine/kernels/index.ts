// Registers the kernels Segscope supplies: wasm kernels tfjs 4.22 lacks or runs slowly, and a cpu kernel
// fix. Runs in the engine process, before the backend is activated (registration is idempotent).
import * as tf from '@tensorflow/tfjs-core';
import { registerBatchNormGrad } from './batchNormGrad';
import { makeConv2dBackpropFilterConfig } from './conv2dBackpropFilter';
import { makeConv2dBackpropInputConfig } from './conv2dBackpropInput';
import type { WasmBackendLike } from './kernelScope';
import { nativeConv2d, nativeConv2dBackpropFilter, nativeConv2dBackpropInput } from './nativeConv';
import { makeMaxPoolGradConfig } from './maxPoolGrad';
import { makeResizeBilinearGradCpuConfig } from './resizeBilinearGradCpu';

/** Marks configs registered by Segscope so that a second call changes nothing. */
const MARK = Symbol.for('segscope.kernel');

type MarkedConfig = tf.KernelConfig & { [MARK]?: true };

function isOurs(name: string, backend: string): boolean {
  return (tf.getKernel(name, backend) as MarkedConfig | undefined)?.[MARK] === true;
}

/** Installs the config made from the stock kernel (if any) unless ours is already there. */
function install(
  name: string,
  backend: string,
  make: (stock: tf.KernelConfig | undefined) => tf.KernelConfig | undefined,
): void {
  if (isOurs(name, backend)) return;
  const stock = tf.getKernel(name, backend);
  const config = make(stock);
  if (config == null) return;
  if (stock != null) tf.unregisterKernel(name, backend);
  tf.registerKernel({ ...config, [MARK]: true } as MarkedConfig);
}

/** The kernels `registerWasmKernels` installs, for display and tests. */
export const SEGSCOPE_WASM_KERNELS: readonly string[] = [
  tf.Conv2D,
  tf.FusedConv2D,
  tf.Conv2DBackpropFilter,
  tf.Conv2DBackpropInput,
  tf.MaxPoolGrad,
];

type Native = (args: Parameters<tf.KernelFunc>[0]) => tf.TensorInfo | null;

/**
 * `base` with ONNX Runtime tried first: `native` answers when the native convolutions are on and cover
 * the case, else `base` runs. The wasm setup (which binds the base's wasm function) is kept.
 */
function nativeFirst(base: tf.KernelConfig | undefined, name: string, native: Native): tf.KernelConfig {
  return {
    kernelName: name,
    backendName: 'wasm',
    setupFunc: base?.setupFunc,
    disposeFunc: base?.disposeFunc,
    kernelFunc: (args) => {
      const out = native(args);
      if (out != null) return out;
      if (base == null) throw new Error(`${name}: no wasm kernel to fall back to`);
      return base.kernelFunc(args);
    },
  };
}

/** Whether a kernel's attributes ask for a dilation, which only the ONNX Runtime backprop kernels take. */
const dilated = (attrs: tf.NamedAttrMap): boolean => {
  const d = attrs.dilations as number | [number, number] | undefined;
  return d != null && (Array.isArray(d) ? d.some((v) => v !== 1) : d !== 1);
};

/** Throws where a dilated backprop ran on wasm, whose kernels would silently ignore the dilation. */
function nativeOnlyIfDilated(name: string, out: tf.TensorInfo | null, attrs: tf.NamedAttrMap) {
  if (out == null && dilated(attrs)) throw new Error(`${name}: a dilated gradient needs ONNX Runtime`);
  return out;
}

const backendOf = (args: Parameters<tf.KernelFunc>[0]) => args.backend as WasmBackendLike;
const attrsOf = (args: Parameters<tf.KernelFunc>[0]): tf.NamedAttrMap => args.attrs ?? {};

/** The kernels `registerCpuKernels` replaces. */
export const SEGSCOPE_CPU_KERNELS: readonly string[] = [tf.ResizeBilinearGrad];

/**
 * Installs Segscope's wasm kernels: the four convolution kernels try ONNX Runtime first (when
 * `setUpNativeConvs` enabled it) and fall back to wasm: the stock Conv2D and FusedConv2D, and Segscope's
 * Conv2DBackpropFilter and Conv2DBackpropInput (the latter falling back in turn to the stock one). Safe
 * to call more than once. Also replaces FusedBatchNorm's gradient with one that does not tile
 * (batchNormGrad.ts), and MaxPoolGrad with one that does not lose the gradient of windows of zeros
 * (maxPoolGrad.ts).
 */
export function registerWasmKernels(): void {
  registerBatchNormGrad();
  install(tf.MaxPoolGrad, 'wasm', () => makeMaxPoolGradConfig());
  install(tf.Conv2D, 'wasm', (stock) =>
    nativeFirst(stock, tf.Conv2D, (a) => {
      const { x, filter } = a.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
      return nativeConv2d(backendOf(a), x, filter, attrsOf(a), null, null);
    }),
  );
  install(tf.FusedConv2D, 'wasm', (stock) =>
    nativeFirst(stock, tf.FusedConv2D, (a) => {
      const { x, filter, bias, preluActivationWeights } = a.inputs as Record<
        string,
        tf.TensorInfo | undefined
      >;
      if (preluActivationWeights) return null;
      return nativeConv2d(
        backendOf(a),
        x!,
        filter!,
        attrsOf(a),
        bias ?? null,
        attrsOf(a).activation as string,
      );
    }),
  );
  install(tf.Conv2DBackpropFilter, 'wasm', () =>
    nativeFirst(makeConv2dBackpropFilterConfig('auto'), tf.Conv2DBackpropFilter, (a) => {
      const { x, dy } = a.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const out = nativeConv2dBackpropFilter(backendOf(a), x, dy, attrsOf(a));
      return nativeOnlyIfDilated(tf.Conv2DBackpropFilter, out, attrsOf(a));
    }),
  );
  install(tf.Conv2DBackpropInput, 'wasm', (stock) =>
    nativeFirst(makeConv2dBackpropInputConfig(stock), tf.Conv2DBackpropInput, (a) => {
      const { dy, filter } = a.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const out = nativeConv2dBackpropInput(backendOf(a), dy, filter, attrsOf(a));
      return nativeOnlyIfDilated(tf.Conv2DBackpropInput, out, attrsOf(a));
    }),
  );
}

/** Installs the cpu kernel fixes and the untiled FusedBatchNorm gradient. Safe to call more than once. */
export function registerCpuKernels(): void {
  registerBatchNormGrad();
  install(tf.ResizeBilinearGrad, 'cpu', (stock) =>
    stock ? makeResizeBilinearGradCpuConfig(stock) : undefined,
  );
}

/** Whether `name` on `backend` is Segscope's kernel rather than tfjs's own. */
export function isSegscopeKernel(name: string, backend: string): boolean {
  return isOurs(name, backend);
}
