// The wasm backend's convolutions on ONNX Runtime's native CPU kernels (MLAS), on every core. tfjs keeps
// the graph, autodiff and every other op; each Conv2D, FusedConv2D, Conv2DBackpropFilter and
// Conv2DBackpropInput whose case is covered runs as a tiny ONNX graph, one session per shape, reading and
// writing the wasm heap in place. Engine process.
//
// Why this and not tfjs-wasm's threaded build or data-parallel workers: convolutions are 94% of a
// unet-vgg16 training step on wasm, and ONNX Runtime runs them 2–6× faster on one thread than XNNPACK
// does, before it uses a second core. Threads in wasm would keep XNNPACK's slower kernels; workers would
// copy the model and every batch and average gradients, and still run XNNPACK.
import * as tf from '@tensorflow/tfjs-core';
import { ortMode, ortThreads } from '../onnx/runtime';
import { createSyncSession, loadSyncBinding, type SyncSession } from '../onnx/syncSession';
import type { WasmBackendLike } from './kernelScope';
import {
  filterGradGraph,
  forwardGraph,
  geometryOf,
  inputGradGraph,
  inputGradSupported,
  type ConvGeometry,
  type FusedActivation,
} from './nativeConvGraphs';

/** Whether convolutions go to ONNX Runtime, on how many threads, and why (not). */
export interface NativeConvStatus {
  enabled: boolean;
  threads: number;
  reason: string;
}

let status: NativeConvStatus = { enabled: false, threads: 1, reason: 'not set up' };
/** Whether set-up found ONNX Runtime usable, so that the convolutions may be switched on. */
let usable = false;

/** Sessions by graph, most recently used last; bounded so that changing sizes cannot grow it forever. */
const sessions = new Map<string, SyncSession>();
const MAX_SESSIONS = 192;

function clearSessions(): void {
  for (const s of sessions.values()) s.dispose();
  sessions.clear();
}

/** The settings the current status was made from, so that choosing the backend again keeps it. */
let setUpFrom: string | null = null;

/**
 * Decides whether the wasm backend's convolutions run on ONNX Runtime: SEGSCOPE_ORT=off (or a value
 * ortMode refuses) keeps them on wasm, and so does a wasm backend on `wasmThreads` > 1 (the threaded build's heap is a
 * SharedArrayBuffer, which ONNX Runtime's binding refuses); SEGSCOPE_ORT_THREADS caps the threads
 * (default: every core). Called each time wasm is chosen; with unchanged settings it keeps the sessions
 * and the status. Never throws; the status says why when the answer is no.
 */
export function setUpNativeConvs(env: NodeJS.ProcessEnv = process.env, wasmThreads = 1): NativeConvStatus {
  const from = `${env.SEGSCOPE_ORT ?? ''}|${env.SEGSCOPE_ORT_THREADS ?? ''}|${wasmThreads}`;
  if (from === setUpFrom) return status;
  setUpFrom = from;
  const threads = ortThreads(env);
  clearSessions();
  usable = false;
  let mode;
  try {
    mode = ortMode(env);
  } catch (err) {
    status = { enabled: false, threads, reason: `${(err as Error).message}: convolutions run on wasm` };
    return status;
  }
  if (mode === 'off') {
    status = { enabled: false, threads, reason: 'SEGSCOPE_ORT=off: convolutions run on wasm' };
    return status;
  }
  if (wasmThreads > 1) {
    status = {
      enabled: false,
      threads,
      reason: `wasm runs ${wasmThreads} threads, whose shared heap ONNX Runtime cannot read: convolutions run on wasm`,
    };
    return status;
  }
  const ort = loadSyncBinding();
  if ('error' in ort) {
    status = { enabled: false, threads, reason: `${ort.error}: convolutions run on wasm` };
    return status;
  }
  usable = true;
  status = {
    enabled: true,
    threads,
    reason: `convolutions on ONNX Runtime ${ort.version} (${threads} thread${threads > 1 ? 's' : ''})`,
  };
  return status;
}

/**
 * Turns the native convolutions off (or back on, where set-up allowed them) and returns the previous
 * setting; for tests and benches that compare both paths in one process.
 */
export function setNativeConvsEnabled(on: boolean): boolean {
  if (on && !usable) throw new Error(status.reason);
  const was = status.enabled;
  status = { ...status, enabled: on };
  return was;
}

export function nativeConvStatus(): NativeConvStatus {
  return status;
}

/** How many times each kind of convolution ran on ONNX Runtime, for tests and benches. */
const runs = { forward: 0, filterGrad: 0, inputGrad: 0 };

export function nativeConvRuns(): Readonly<typeof runs> {
  return { ...runs };
}

/** Graphs ONNX Runtime refused, by key: those cases stay on wasm (said once on stderr). */
const refused = new Set<string>();

/** The session for `key`, built on first use; null when ONNX Runtime refuses the graph. */
function session(key: string, build: () => Uint8Array): SyncSession | null {
  let s = sessions.get(key);
  if (s) {
    sessions.delete(key);
  } else {
    if (refused.has(key)) return null;
    try {
      s = createSyncSession(build(), status.threads);
    } catch (err) {
      refused.add(key);
      console.warn(`native conv ${key} stays on wasm: ${(err as Error).message.split('\n')[0]}`);
      return null;
    }
    if (sessions.size >= MAX_SESSIONS) {
      const [oldest, dropped] = sessions.entries().next().value as [string, SyncSession];
      sessions.delete(oldest);
      dropped.dispose();
    }
  }
  sessions.set(key, s);
  return s;
}

const geometryKey = (g: ConvGeometry): string => Object.values(g).join(',');

/**
 * Whether the wasm heap holding `t` can be handed to ONNX Runtime: the threaded wasm build's heap is a
 * SharedArrayBuffer, which its binding refuses (the backend then keeps its own kernels).
 */
function readable(backend: WasmBackendLike, t: tf.TensorInfo): boolean {
  return !(backend.typedArrayFromHeap(t).buffer instanceof SharedArrayBuffer);
}

function view(backend: WasmBackendLike, t: tf.TensorInfo): Float32Array {
  const v = backend.typedArrayFromHeap(t);
  if (!(v instanceof Float32Array)) throw new Error(`native conv: expected float32 data, got ${t.dtype}`);
  return v;
}

type Shape4 = [number, number, number, number];

/**
 * The geometry of a conv of input `inShape` with filter `filterShape` under a kernel's attributes; null
 * for data the graphs do not take (NCHW, non-float32) or for an empty conv.
 */
function geometryFor(
  inShape: Shape4,
  filterShape: Shape4,
  attrs: tf.NamedAttrMap,
  dtypes: tf.DataType[],
): ConvGeometry | null {
  if (attrs.dataFormat !== 'NHWC' || dtypes.some((d) => d !== 'float32')) return null;
  const g = geometryOf(
    tf.backend_util.computeConv2DInfo(
      inShape,
      filterShape,
      attrs.strides as [number, number],
      (attrs.dilations as [number, number] | undefined) ?? 1,
      attrs.pad as 'same',
      attrs.dimRoundingMode as 'floor' | undefined,
    ),
  );
  return g.batch * g.outHeight * g.outWidth * g.inChannels * g.outChannels === 0 ? null : g;
}

/** NHWC shape of the conv's output. */
const outShapeOf = (g: ConvGeometry): Shape4 => [g.batch, g.outHeight, g.outWidth, g.outChannels];

/**
 * Conv2D (bias and activation null) or FusedConv2D on ONNX Runtime; null where it does not apply
 * (disabled, a layout or activation the graphs lack), so that the caller runs the wasm kernel.
 */
export function nativeConv2d(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  attrs: tf.NamedAttrMap,
  bias: tf.TensorInfo | null,
  activation: string | null,
): tf.TensorInfo | null {
  if (!status.enabled || !readable(backend, x)) return null;
  const act = (activation ?? 'linear') as FusedActivation;
  if (act !== 'linear' && act !== 'relu') return null;
  if (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1)) return null;
  const g = geometryFor(x.shape as Shape4, filter.shape as Shape4, attrs, [x.dtype, filter.dtype]);
  if (!g) return null;
  const s = session(`f${bias ? 'b' : ''}${act}:${geometryKey(g)}`, () => forwardGraph(g, bias != null, act));
  if (!s) return null;
  const out = backend.makeOutput(outShapeOf(g), 'float32');
  // Views only after the last wasm allocation: growing the heap detaches them.
  const feeds = {
    x: { data: view(backend, x), dims: x.shape },
    w: { data: view(backend, filter), dims: filter.shape },
    ...(bias ? { b: { data: view(backend, bias), dims: bias.shape } } : {}),
  };
  s.run(feeds, { y: { data: view(backend, out), dims: out.shape } });
  runs.forward++;
  return out;
}

/**
 * The largest filter (height × width) whose gradient runs natively: the graph has a slice and a product per
 * tap, so FCN's 16×16 and 64×64 up-sampling filters (hundreds of taps, seconds to build) stay on wasm,
 * where they are a small share of the step. 7×7 (49 taps, FCN's fc6) is the largest other filter.
 */
export const MAX_FILTER_GRAD_TAPS = 49;

/** Conv2DBackpropFilter on ONNX Runtime; or null. */
export function nativeConv2dBackpropFilter(
  backend: WasmBackendLike,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo | null {
  if (!status.enabled || !readable(backend, x)) return null;
  const filterShape = attrs.filterShape as Shape4;
  const g = geometryFor(x.shape as Shape4, filterShape, attrs, [x.dtype, dy.dtype]);
  if (!g || dy.shape[1] !== g.outHeight || dy.shape[2] !== g.outWidth) return null;
  if (g.filterHeight * g.filterWidth > MAX_FILTER_GRAD_TAPS) return null;
  const s = session(`w:${geometryKey(g)}`, () => filterGradGraph(g));
  if (!s) return null;
  const out = backend.makeOutput(filterShape, 'float32');
  s.run(
    { x: { data: view(backend, x), dims: x.shape }, dy: { data: view(backend, dy), dims: dy.shape } },
    { dw: { data: view(backend, out), dims: filterShape } },
  );
  runs.filterGrad++;
  return out;
}

/** Conv2DBackpropInput (also conv2dTranspose's forward pass) on ONNX Runtime; or null. */
export function nativeConv2dBackpropInput(
  backend: WasmBackendLike,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo | null {
  if (!status.enabled || !readable(backend, dy)) return null;
  const inputShape = attrs.inputShape as Shape4;
  const g = geometryFor(inputShape, filter.shape as Shape4, attrs, [dy.dtype, filter.dtype]);
  if (!g || dy.shape[1] !== g.outHeight || dy.shape[2] !== g.outWidth || !inputGradSupported(g)) return null;
  const s = session(`i:${geometryKey(g)}`, () => inputGradGraph(g));
  if (!s) return null;
  const out = backend.makeOutput(inputShape, 'float32');
  s.run(
    {
      dy: { data: view(backend, dy), dims: dy.shape },
      w: { data: view(backend, filter), dims: filter.shape },
    },
    { dx: { data: view(backend, out), dims: inputShape } },
  );
  runs.inputGrad++;
  return out;
}
