// Chooses the tfjs backend once, at the engine's entry point, and says why the faster ones were skipped.
// Runs in the engine process; model and training code never know which backend they got.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
// tfjs-core's Node bundle registers no gradients; tfjs-layers' bundle registers them all.
import '@tensorflow/tfjs-layers';
import { registerCpuKernels, registerWasmKernels } from './kernels';
import { enableWasmThreads, unrefWasmThreads, wasmThreadCount } from './wasmThreads';

/** A backend Segscope can run on, fastest first. */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** What the user asked for: a backend by name, or the fastest one that loads. */
export type BackendPreference = 'auto' | BackendName;

/** The backend in use, why, and why each faster one was passed over. */
export interface BackendChoice {
  name: BackendName;
  reason: string;
  skipped: { name: string; reason: string }[];
}

/** Loads a native tfjs package; tests substitute one to reach the load-error paths. */
export type NativeImporter = (specifier: string) => Promise<unknown>;

export interface SelectBackendOptions {
  importNative?: NativeImporter;
}

/** Fastest first: the order `auto` tries. */
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

const NATIVE_PACKAGES = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
} as const;

// Not called `require`: electron-vite injects `const require = createRequire(import.meta.url)` into bundles.
const requireFromHere = createRequire(import.meta.url);

// The specifier is a variable and the import is marked so that neither vite nor electron-vite tries to
// bundle or pre-resolve these optional packages: they are absent wherever their binary download failed.
const defaultImportNative: NativeImporter = (specifier) => import(/* @vite-ignore */ specifier);

class Unavailable extends Error {}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.message;
  if (typeof err === 'object' && err !== null && 'message' in err) return String(err.message);
  return String(err);
}

function isInstalled(specifier: string): boolean {
  try {
    requireFromHere.resolve(`${specifier}/package.json`);
    return true;
  } catch (err) {
    // A package whose "exports" hides package.json is still installed; only a missing one is not.
    return (err as { code?: string }).code !== 'MODULE_NOT_FOUND';
  }
}

async function activate(tfName: string): Promise<void> {
  // setBackend resolves false (rather than throwing) when the factory fails, e.g. a missing .wasm file.
  const ok = await tf.setBackend(tfName);
  if (!ok) throw new Unavailable(`the ${tfName} backend failed to initialise`);
  await tf.ready();
  if (tf.getBackend() !== tfName) throw new Unavailable(`tfjs reports ${tf.getBackend()} after setBackend`);
}

async function tryNative(
  name: 'tensorflow-gpu' | 'tensorflow',
  importNative: NativeImporter,
): Promise<string> {
  const specifier = NATIVE_PACKAGES[name];
  if (importNative === defaultImportNative && !isInstalled(specifier)) {
    throw new Unavailable(`${specifier} is not installed`);
  }
  try {
    await importNative(specifier);
  } catch (err) {
    throw new Unavailable(`${specifier} failed to load: ${messageOf(err)}`);
  }
  // Both native packages register their backend as 'tensorflow'. If they brought their own copy of
  // tfjs-core, the backend landed in that copy's registry, not ours.
  if (tf.findBackendFactory('tensorflow') == null) {
    throw new Unavailable(`${specifier} loaded but registered no 'tensorflow' backend with this tfjs-core`);
  }
  await activate('tensorflow');
  return name === 'tensorflow-gpu'
    ? `${specifier} loaded (libtensorflow built for CUDA)`
    : `${specifier} loaded (libtensorflow on the CPU)`;
}

/** The folder holding tfjs-backend-wasm's .wasm binaries, with a trailing separator as setWasmPaths wants. */
export function wasmBinaryDir(): string {
  const pkg = requireFromHere.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return path.join(path.dirname(pkg), 'dist') + path.sep;
}

let wasmPathsSet = false;

async function tryWasm(): Promise<string> {
  registerWasmKernels();
  if (!wasmPathsSet) {
    // In Node the binary is read from disk; once bundled, the package's own guess of its folder is wrong.
    setWasmPaths(wasmBinaryDir());
    wasmPathsSet = true;
  }
  const started = enableWasmThreads(wasmThreadCount());
  try {
    await activate('wasm');
  } catch (err) {
    if (err instanceof Unavailable) throw err;
    throw new Unavailable(`the wasm backend failed to initialise: ${messageOf(err)}`);
  } finally {
    started();
  }
  unrefWasmThreads(tf.backend());
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  const count = threads ? getThreadsCount() : 1;
  return `WebAssembly (${simd ? 'SIMD' : 'no SIMD'}, ${count > 1 ? `${count} threads` : 'single-threaded'}) with Segscope's training kernels`;
}

async function tryCpu(): Promise<string> {
  registerCpuKernels();
  await activate('cpu');
  return 'plain JavaScript kernels: always available, and the slowest';
}

async function tryBackend(name: BackendName, importNative: NativeImporter): Promise<string> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow':
      return tryNative(name, importNative);
    case 'wasm':
      return tryWasm();
    case 'cpu':
      return tryCpu();
  }
}

/**
 * Activates a tfjs backend. With `auto`, tries tensorflow-gpu, tensorflow, wasm and cpu in that order and
 * keeps the first that loads, recording why each earlier one was skipped. A named preference that cannot be
 * had rejects with an Error that says why.
 */
export async function selectBackend(
  preference: BackendPreference,
  options: SelectBackendOptions = {},
): Promise<BackendChoice> {
  const importNative = options.importNative ?? defaultImportNative;
  if (preference !== 'auto') {
    try {
      return { name: preference, reason: await tryBackend(preference, importNative), skipped: [] };
    } catch (err) {
      throw new Error(`Backend '${preference}' is unavailable: ${messageOf(err)}`, { cause: err });
    }
  }
  const skipped: BackendChoice['skipped'] = [];
  for (const name of BACKEND_ORDER) {
    try {
      return { name, reason: await tryBackend(name, importNative), skipped };
    } catch (err) {
      skipped.push({ name, reason: messageOf(err) });
    }
  }
  throw new Error(`No tfjs backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}
