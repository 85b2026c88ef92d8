// Lets a wasm kernel of ours call the backend's own kernels and free every intermediate it made.
// Runs in the engine process, inside tfjs kernel execution, where the public ops API must not be used.
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * The wasm backend as a composite kernel sees it. Outputs of kernels are TensorInfos whose data the
 * backend reference-counts: every kernel output starts at one reference and `disposeData` drops one.
 */
export type WasmBackendLike = BackendWasm;

/** A kernel's attributes as tfjs passes them. */
export type Attrs = tf.NamedAttrMap;

/**
 * Runs backend kernels on behalf of one composite kernel. Each output is tracked; `dispose` drops every one
 * except those handed back with `keep`. The composite's own inputs are never tracked, so they stay alive.
 */
export class KernelScope {
  private readonly made: tf.TensorInfo[] = [];

  constructor(
    readonly backend: WasmBackendLike,
    readonly backendName = 'wasm',
  ) {}

  /** Runs the registered kernel `name` of this backend and tracks its single output. */
  run(name: string, inputs: tf.NamedTensorInfoMap | tf.TensorInfo[], attrs: Attrs = {}): tf.TensorInfo {
    const config = tf.getKernel(name, this.backendName);
    if (config == null)
      throw new Error(`Kernel '${name}' is not registered for backend '${this.backendName}'`);
    // Concat takes its inputs as an array; the kernel registry's type only names the map form.
    const out = config.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, backend: this.backend, attrs });
    if (Array.isArray(out)) {
      for (const t of out) this.made.push(t);
      throw new Error(`Kernel '${name}' returned ${out.length} outputs; KernelScope.run expects one`);
    }
    this.made.push(out);
    return out;
  }

  /** Uploads a small constant (e.g. gather indices) as a tracked tensor. */
  constant(values: Int32Array | Float32Array, shape: number[]): tf.TensorInfo {
    const dtype = values instanceof Int32Array ? 'int32' : 'float32';
    const info: tf.TensorInfo = { dataId: this.backend.write(values, shape, dtype), shape, dtype };
    this.made.push(info);
    return info;
  }

  /** A fresh, uninitialised float32 tensor in wasm memory, tracked like a kernel output. */
  output(shape: number[]): tf.TensorInfo {
    const info = this.backend.makeOutput(shape, 'float32');
    this.made.push(info);
    return info;
  }

  /**
   * The float32 values of `t`, as a view on wasm memory. Take views only after the last allocation:
   * growing the wasm heap detaches earlier views.
   */
  view(t: tf.TensorInfo): Float32Array {
    const values = this.backend.typedArrayFromHeap(t);
    if (!(values instanceof Float32Array)) throw new Error(`expected float32 data, got ${t.dtype}`);
    return values;
  }

  /** Frees a tracked intermediate now rather than at the end, to bound peak memory in loops. */
  drop(t: tf.TensorInfo): void {
    const i = this.made.lastIndexOf(t);
    if (i < 0) throw new Error('KernelScope.drop: tensor was not made in this scope');
    this.made.splice(i, 1);
    this.backend.disposeData(t.dataId);
  }

  /** A view of `x` with another shape that shares its data (the backend's Reshape bumps the count). */
  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  /** Stops tracking `t` so that `dispose` leaves it for the caller (normally the kernel's output). */
  keep(t: tf.TensorInfo): tf.TensorInfo {
    const i = this.made.lastIndexOf(t);
    if (i < 0) throw new Error('KernelScope.keep: tensor was not made in this scope');
    this.made.splice(i, 1);
    return t;
  }

  /** Drops one reference for every tracked output. */
  dispose(): void {
    for (const t of this.made.splice(0)) this.backend.disposeData(t.dataId);
  }
}

/**
 * Runs `body` in a fresh scope and returns the TensorInfo it returns, freeing everything else it made, also
 * when it throws.
 */
export function withKernelScope(
  backend: WasmBackendLike,
  body: (scope: KernelScope) => tf.TensorInfo,
): tf.TensorInfo {
  const scope = new KernelScope(backend);
  try {
    const out = body(scope);
    return scope.keep(out);
  } finally {
    scope.dispose();
  }
}
