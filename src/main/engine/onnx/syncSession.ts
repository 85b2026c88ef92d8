// ONNX Runtime sessions that run synchronously, for kernels that tfjs calls synchronously (the wasm
// backend's convolutions). Engine process.
//
// onnxruntime-node's public `InferenceSession.run` only wraps its native binding's synchronous `run` in a
// promise (setImmediate). A tfjs kernel cannot await, so Segscope calls that binding directly. It is the
// package's internal module: `loadSyncBinding` checks its shape and says what is wrong when a future
// version moves it, and the caller then keeps the wasm kernels.
import { createRequire } from 'node:module';
import type * as Ort from 'onnxruntime-node';

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, Ort.Tensor>, fetches: Record<string, Ort.Tensor>, options: object): unknown;
  dispose(): void;
}

interface Binding {
  binding: { InferenceSession: new () => NativeSession };
  initOrt: () => void;
}

interface Loaded {
  binding: Binding;
  Tensor: typeof Ort.Tensor;
  version: string;
}

// Not called `require`: electron-vite injects its own `require` into bundles.
const requireFromHere = createRequire(import.meta.url);

let loaded: Loaded | { error: string } | null = null;

/** A module loader: `require` here, a stand-in in tests of a package that moved or broke. */
export type ModuleLoader = (specifier: string) => unknown;

/** onnxruntime-node's synchronous binding as `load` finds it, or why it cannot be used. Never throws. */
export function findSyncBinding(load: ModuleLoader): Loaded | { error: string } {
  try {
    const ort = load('onnxruntime-node') as typeof Ort;
    const binding = load('onnxruntime-node/dist/binding') as Partial<Binding> | null;
    if (typeof binding?.initOrt !== 'function' || typeof binding.binding?.InferenceSession !== 'function') {
      return { error: 'this onnxruntime-node has no synchronous session binding (dist/binding)' };
    }
    return { binding: binding as Binding, Tensor: ort.Tensor, version: ort.env?.versions?.common ?? '' };
  } catch (err) {
    const message = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
    return { error: `onnxruntime-node is not installed or does not load (${message})` };
  }
}

/** The installed onnxruntime-node's synchronous binding (looked up once), or why it cannot be used. */
export function loadSyncBinding(): Loaded | { error: string } {
  loaded ??= findSyncBinding(requireFromHere);
  return loaded;
}

/** A float32 value fed to or fetched from a session: its data (any view, also on wasm memory) and dims. */
export interface SyncValue {
  data: Float32Array;
  dims: readonly number[];
}

export interface SyncSession {
  /** Runs the graph, reading `feeds` and writing each output into the matching `outputs` buffer. */
  run(feeds: Record<string, SyncValue>, outputs: Record<string, SyncValue>): void;
  dispose(): void;
}

/**
 * Loads a serialized ONNX model into a session on ONNX Runtime's CPU provider with `threads` intra-op
 * threads. Throws when the binding is unavailable or the model is refused.
 */
export function createSyncSession(model: Uint8Array, threads: number): SyncSession {
  const ort = loadSyncBinding();
  if ('error' in ort) throw new Error(ort.error);
  ort.binding.initOrt();
  const session = new ort.binding.binding.InferenceSession();
  session.loadModel(model.buffer, model.byteOffset, model.byteLength, {
    executionProviders: [{ name: 'cpu' }],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // One session per conv shape: without an arena each frees its scratch (im2col columns, transposes)
    // after every run instead of holding its peak for the process's lifetime.
    enableCpuMemArena: false,
    // Sessions run one after another; a pool spinning after its run would steal the next one's cores.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const tensor = (v: SyncValue): Ort.Tensor => new ort.Tensor('float32', v.data, v.dims);
  return {
    run(feeds, outputs) {
      const f: Record<string, Ort.Tensor> = {};
      for (const [name, v] of Object.entries(feeds)) f[name] = tensor(v);
      const o: Record<string, Ort.Tensor> = {};
      for (const [name, v] of Object.entries(outputs)) o[name] = tensor(v);
      // Pre-allocated outputs: ONNX Runtime writes straight into the caller's buffers.
      session.run(f, o, {});
    },
    dispose: () => session.dispose(),
  };
}
