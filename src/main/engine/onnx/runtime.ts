// Finds ONNX Runtime (the optional `onnxruntime-node` package), says whether Segscope can use it and
// why not, and runs an exported model in it on every core. Engine process; `ortStatus` is also what
// a diagnostics command can report.
import { availableParallelism } from 'node:os';
import type * as Ort from 'onnxruntime-node';
import { ONNX_INPUT, ONNX_OUTPUT } from './export';

/**
 * How the user wants inference run, from `SEGSCOPE_ORT`:
 * - `auto` (default): ONNX Runtime's CPU provider when the package loads, else tfjs;
 * - `off`: always tfjs;
 * - `cuda`: ONNX Runtime's CUDA provider (needs CUDA 12 and cuDNN 9 on the system and the provider
 *   library that `onnxruntime-node`'s install step downloads), falling back to its CPU provider.
 */
export type OrtMode = 'auto' | 'off' | 'cuda';

export interface OrtStatus {
  /** Whether inference goes through ONNX Runtime. */
  available: boolean;
  /** Why (not), in words. */
  reason: string;
  /** Intra-op threads a session uses: every core, or SEGSCOPE_ORT_THREADS. */
  threads: number;
  /** Execution providers asked for, in order of preference. */
  providers: string[];
  /** The package's version when it loaded. */
  version?: string;
}

export function ortMode(env: NodeJS.ProcessEnv = process.env): OrtMode {
  const v = (env.SEGSCOPE_ORT ?? 'auto').toLowerCase();
  if (v === 'auto' || v === 'off' || v === 'cuda') return v;
  throw new Error(`SEGSCOPE_ORT must be auto, off or cuda; got ${JSON.stringify(env.SEGSCOPE_ORT)}`);
}

const SPECIFIER = 'onnxruntime-node';
let loading: Promise<{ ort: typeof Ort | null; error?: string }> | null = null;

// A variable specifier that neither vite nor electron-vite bundles: the package is optional and native.
async function load(): Promise<{ ort: typeof Ort | null; error?: string }> {
  loading ??= import(/* @vite-ignore */ SPECIFIER).then(
    (m: typeof Ort & { default?: typeof Ort }) => ({ ort: m.InferenceSession ? m : (m.default ?? null) }),
    (err: unknown) => ({ ort: null, error: err instanceof Error ? err.message.split('\n')[0] : String(err) }),
  );
  return loading;
}

/**
 * Intra-op threads for ONNX Runtime's sessions: SEGSCOPE_ORT_THREADS caps them (say, on a machine shared
 * with other work); else every core.
 */
export function ortThreads(env: NodeJS.ProcessEnv = process.env): number {
  const wanted = Number(env.SEGSCOPE_ORT_THREADS);
  return Number.isInteger(wanted) && wanted >= 1 ? wanted : availableParallelism();
}

/** Whether ONNX Runtime will run Segscope's inference here, and why (not). Never throws. */
export async function ortStatus(env: NodeJS.ProcessEnv = process.env): Promise<OrtStatus> {
  const threads = ortThreads(env);
  let mode: OrtMode;
  try {
    mode = ortMode(env);
  } catch (err) {
    return { available: false, reason: (err as Error).message, threads, providers: [] };
  }
  if (mode === 'off') {
    return { available: false, reason: 'SEGSCOPE_ORT=off: inference runs on tfjs', threads, providers: [] };
  }
  const { ort, error } = await load();
  if (!ort) {
    return {
      available: false,
      reason: `${SPECIFIER} is not installed or does not load (${error ?? 'no InferenceSession'}); inference runs on tfjs`,
      threads,
      providers: [],
    };
  }
  const providers = mode === 'cuda' ? ['cuda', 'cpu'] : ['cpu'];
  const version = ort.env.versions?.common;
  return {
    available: true,
    reason: `ONNX Runtime${version ? ` ${version}` : ''} (${providers.join(', ')}) on ${threads} threads`,
    threads,
    providers,
    version,
  };
}

/** An exported model loaded in ONNX Runtime. */
export interface OrtModel {
  /**
   * Logits for a batch of normalised NHWC images.
   * @param input `[batch, size, size, 3]` values
   * @returns `[batch, size, size, classes]` logits
   */
  run(input: Float32Array, dims: [number, number, number, number]): Promise<Float32Array>;
  release(): Promise<void>;
}

/** Loads `model` (an exported `.onnx`, as bytes or a path) with the providers `ortStatus` names. */
export async function createOrtModel(model: Uint8Array | string, status: OrtStatus): Promise<OrtModel> {
  const { ort } = await load();
  if (!ort || !status.available) throw new Error(`ONNX Runtime is not available: ${status.reason}`);
  const options: Ort.InferenceSession.SessionOptions = {
    executionProviders: status.providers as Ort.InferenceSession.ExecutionProviderConfig[],
    intraOpNumThreads: status.threads,
    graphOptimizationLevel: 'all',
  };
  const create = (o: Ort.InferenceSession.SessionOptions) =>
    typeof model === 'string' ? ort.InferenceSession.create(model, o) : ort.InferenceSession.create(model, o);
  let session: Ort.InferenceSession;
  try {
    session = await create(options);
  } catch (err) {
    // The CUDA provider fails to load without CUDA 12, cuDNN 9 or its library: the CPU still works.
    if (!status.providers.includes('cuda')) throw err;
    session = await create({ ...options, executionProviders: ['cpu'] });
  }
  return {
    async run(input, dims) {
      const feeds = { [ONNX_INPUT]: new ort.Tensor('float32', input, dims) };
      const out = await session.run(feeds);
      const logits = out[ONNX_OUTPUT];
      if (!logits) throw new Error(`the ONNX model has no output '${ONNX_OUTPUT}'`);
      const data = logits.data as Float32Array;
      logits.dispose();
      return data;
    },
    release: () => session.release(),
  };
}
