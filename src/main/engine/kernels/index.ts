// Registers the kernels Segscope supplies: wasm kernels tfjs 4.22 lacks or runs slowly, and a cpu kernel
// fix. Runs in the engine process, before the backend is activated (registration is idempotent).
import * as tf from '@tensorflow/tfjs-core';
import { makeConv2dBackpropFilterConfig } from './conv2dBackpropFilter';
import { makeConv2dBackpropInputConfig } from './conv2dBackpropInput';
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
export const SEGSCOPE_WASM_KERNELS: readonly string[] = [tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput];

/** The kernels `registerCpuKernels` replaces. */
export const SEGSCOPE_CPU_KERNELS: readonly string[] = [tf.ResizeBilinearGrad];

/**
 * Installs Segscope's wasm kernels. The stock Conv2DBackpropInput stays reachable as the fallback for cases
 * the fast path does not cover. Safe to call more than once.
 */
export function registerWasmKernels(): void {
  install(tf.Conv2DBackpropFilter, 'wasm', () => makeConv2dBackpropFilterConfig('auto'));
  install(tf.Conv2DBackpropInput, 'wasm', (stock) => makeConv2dBackpropInputConfig(stock));
}

/** Installs the cpu kernel fixes. Safe to call more than once. */
export function registerCpuKernels(): void {
  install(tf.ResizeBilinearGrad, 'cpu', (stock) =>
    stock ? makeResizeBilinearGradCpuConfig(stock) : undefined,
  );
}

/** Whether `name` on `backend` is Segscope's kernel rather than tfjs's own. */
export function isSegscopeKernel(name: string, backend: string): boolean {
  return isOurs(name, backend);
}
