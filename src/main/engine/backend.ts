// Chooses the tfjs backend once, at the engine's entry point, and says why the faster ones were skipped.
// Runs in the engine process; model and training code never know which backend they got.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
// tfjs-core's Node bundle registers no gradients; tfjs-layers' bundle registers them all.
import '@tensorflow/tfjs-layers';
import { BACKENDS } from '../../shared/backends';
import {
  describeAdapter,
  type BackendInfo,
  type BackendName,
  type Diagnosis,
  type GpuAdapterInfo,
  type BackendPreference,
} from '../../shared/training';
import {
  closeGpu,
  findAdapter,
  gpuSession,
  hasVulkanLoader,
  loadDawn,
  openDevice,
  type AdapterSource,
} from './gpu';
import { registerCpuKernels, registerWasmKernels } from './kernels';
import { nativeConvStatus, setUpNativeConvs } from './kernels/nativeConv';
import { enableWasmThreads, unrefWasmThreads, wasmThreadCount } from './wasmThreads';

export type { BackendName, BackendPreference };

/** The backend in use, why, why each faster one was passed over, and the GPU adapter on webgpu. */
export type BackendChoice = BackendInfo;

/** Loads a native tfjs package; tests substitute one to reach the load-error paths. */
export type NativeImporter = (specifier: string) => Promise<unknown>;

export interface SelectBackendOptions {
  importNative?: NativeImporter;
  /**
   * Which GPU adapter an explicit `webgpu` may use: `any` (the default) takes a hardware adapter if there
   * is one, else a software one; `software` goes straight to Mesa's llvmpipe through OpenGL ES, as the
   * tests do. Defaults to the environment variable SEGSCOPE_WEBGPU_ADAPTER when that is set. `auto`
   * ignores both and never takes a software adapter.
   */
  webgpuAdapter?: 'any' | 'software';
  /** Loads Dawn's `webgpu` package; tests substitute one to reach the missing-package path. */
  importDawn?: NativeImporter;
}

/** Fastest first: the order `auto` tries. */
export const BACKEND_ORDER: readonly BackendName[] = BACKENDS;

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
  // With the convolutions on ONNX Runtime's threads, wasm's own threads gain nothing (and their shared
  // heap is one ONNX Runtime cannot read): one thread unless SEGSCOPE_WASM_THREADS asks for more, or
  // ONNX Runtime is not there.
  const asked = process.env.SEGSCOPE_WASM_THREADS ? wasmThreadCount() : null;
  const native = setUpNativeConvs(process.env, asked ?? 1);
  const wanted = asked ?? (native.enabled ? 1 : wasmThreadCount());
  const started = enableWasmThreads(wanted);
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
  return (
    `WebAssembly (${simd ? 'SIMD' : 'no SIMD'}, ${count > 1 ? `${count} threads` : 'single-threaded'}) ` +
    `with Segscope's training kernels; ${native.reason}`
  );
}

async function tryCpu(): Promise<string> {
  registerCpuKernels();
  await activate('cpu');
  return 'plain JavaScript kernels: always available, and the slowest';
}

type AdapterPolicy = 'hardware' | 'any' | 'software';

function explicitPolicy(option: SelectBackendOptions['webgpuAdapter']): AdapterPolicy {
  const env = process.env.SEGSCOPE_WEBGPU_ADAPTER;
  return option ?? (env === 'software' ? 'software' : 'any');
}

/**
 * Finds an adapter allowed by `policy`, makes its device and registers a WebGPUBackend on it. Each call
 * starts from a fresh device, so a run after a lost device gets a working one.
 */
async function tryWebgpu(
  policy: AdapterPolicy,
  importDawn: NativeImporter | undefined,
): Promise<Omit<BackendInfo, 'skipped'>> {
  let dawnModule;
  try {
    dawnModule = await loadDawn(importDawn);
  } catch (err) {
    throw new Unavailable(messageOf(err));
  }
  const sources: AdapterSource[] = policy === 'software' ? ['software'] : ['native'];
  if (policy === 'any') sources.push('software');
  let found: Awaited<ReturnType<typeof findAdapter>> = null;
  let softwareOnly: string | null = null;
  for (const source of sources) {
    if (source === 'native' && !hasVulkanLoader()) continue;
    const candidate = await findAdapter(dawnModule, source);
    if (!candidate) continue;
    if (candidate.info.software && policy === 'hardware') {
      softwareOnly = describeAdapter(candidate.info);
      continue;
    }
    found = candidate;
    break;
  }
  if (!found) {
    if (softwareOnly) throw new Unavailable(`only a software adapter (${softwareOnly}), slower than wasm`);
    if (sources.includes('native') && !hasVulkanLoader()) {
      throw new Unavailable(
        'no Vulkan loader (libvulkan.so.1): install your GPU driver with Vulkan support (Debian: libvulkan1)',
      );
    }
    throw new Unavailable(
      policy === 'software'
        ? 'no software adapter: install Mesa (Debian: libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri)'
        : 'no GPU adapter: Dawn found no GPU with a working driver',
    );
  }
  // The package's own factory registers only where `navigator.gpu` exists and asks for default limits;
  // ours hands it the device made with the adapter's limits.
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  const gpu = await openDevice(found.adapter, found.info);
  const rawInfo = gpu.rawInfo;
  const device = gpu.device;
  tf.registerBackend('webgpu', () => new WebGPUBackend(device as never, rawInfo as never));
  try {
    await activate('webgpu');
  } catch (err) {
    closeGpu();
    throw err;
  }
  const where = describeAdapter(found.info);
  return {
    name: 'webgpu',
    reason: found.info.software
      ? `WebGPU through Dawn on a software adapter, ${where}: correct but slow, for tests`
      : `WebGPU through Dawn on ${where}`,
    adapter: found.info,
  };
}

async function tryBackend(
  name: BackendName,
  options: SelectBackendOptions,
  policy: AdapterPolicy,
): Promise<Omit<BackendInfo, 'skipped'>> {
  const importNative = options.importNative ?? defaultImportNative;
  switch (name) {
    case 'webgpu':
      return tryWebgpu(policy, options.importDawn);
    case 'tensorflow-gpu':
    case 'tensorflow':
      return { name, reason: await tryNative(name, importNative) };
    case 'wasm':
      return { name, reason: await tryWasm() };
    case 'cpu':
      return { name, reason: await tryCpu() };
  }
}

/**
 * Activates a tfjs backend. With `auto`, tries tensorflow-gpu, webgpu, tensorflow, wasm and cpu in that order and
 * keeps the first that loads, recording why each earlier one was skipped. A named preference that cannot be
 * had rejects with an Error that says why.
 */
export async function selectBackend(
  preference: BackendPreference,
  options: SelectBackendOptions = {},
): Promise<BackendChoice> {
  // One backend per run: a GPU device from an earlier choice is released when another backend is picked.
  const leaving = (name: BackendName): void => {
    if (name !== 'webgpu' && gpuSession()) {
      if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
      closeGpu();
    }
  };
  if (preference !== 'auto') {
    try {
      const got = await tryBackend(preference, options, explicitPolicy(options.webgpuAdapter));
      leaving(got.name);
      return { ...got, skipped: [] };
    } catch (err) {
      throw new Error(`Backend '${preference}' is unavailable: ${messageOf(err)}`, { cause: err });
    }
  }
  const skipped: BackendChoice['skipped'] = [];
  for (const name of BACKEND_ORDER) {
    try {
      const got = await tryBackend(name, options, 'hardware');
      leaving(got.name);
      return { ...got, skipped };
    } catch (err) {
      skipped.push({ name, reason: messageOf(err) });
    }
  }
  throw new Error(`No tfjs backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

/**
 * The backend for the next job: `choice` itself, or, when its GPU device has failed (an error or a lost
 * device ends the job that saw it), the same kind of adapter with a fresh device. Returns a new object
 * exactly when the device was replaced, so that the caller drops models held on the old one.
 */
export async function healthyBackend(choice: BackendChoice): Promise<BackendChoice> {
  if (choice.name !== 'webgpu') return choice;
  const session = gpuSession();
  if (session && !session.fault) return choice;
  const again = await selectBackend('webgpu', {
    webgpuAdapter: choice.adapter?.api === 'OpenGL ES' ? 'software' : 'any',
  });
  return { ...again, skipped: choice.skipped };
}

function versionOf(specifier: string): string | null {
  try {
    const file = requireFromHere.resolve(`${specifier}/package.json`);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return isInstalled(specifier) ? 'installed' : null;
  }
}

/**
 * What `segscope doctor` shows: the backend `auto` picks (activating it), why each other one was or was
 * not used, every GPU adapter Dawn can see, and the optional packages.
 */
export async function diagnose(choice?: BackendChoice): Promise<Diagnosis> {
  const backend = choice ?? (await selectBackend('auto'));
  const backends = BACKEND_ORDER.map((name): Diagnosis['backends'][number] => {
    if (name === backend.name) return { name, status: 'in use', reason: backend.reason };
    const skipped = backend.skipped.find((s) => s.name === name);
    if (skipped) return { name, status: 'skipped', reason: skipped.reason };
    return { name, status: 'not tried', reason: `${backend.name} comes first` };
  });
  const adapters: GpuAdapterInfo[] = [];
  try {
    const mod = await loadDawn();
    for (const source of ['native', 'software'] as const) {
      if (source === 'native' && !hasVulkanLoader()) continue;
      const found = await findAdapter(mod, source);
      if (found) adapters.push(found.info);
    }
  } catch {
    // No Dawn: the webgpu line of `backends` already says why.
  }
  const why = (name: BackendName): string => backends.find((b) => b.name === name)!.reason;
  const packages: Diagnosis['packages'] = [
    { name: 'webgpu', role: "Dawn for Node, the webgpu backend's GPU", why: why('webgpu') },
    { name: '@tensorflow/tfjs-node-gpu', role: 'libtensorflow with CUDA', why: why('tensorflow-gpu') },
    { name: '@tensorflow/tfjs-node', role: 'libtensorflow on the CPU', why: why('tensorflow') },
    {
      name: 'onnxruntime-node',
      role: "ONNX Runtime: native CPU inference, and wasm training's convolutions",
      why: backend.name === 'wasm' ? nativeConvStatus().reason : null,
    },
  ].map(({ name, role, why: reason }) => {
    const version = versionOf(name);
    const note = !version ? `not installed (${role})` : reason ? `${role}: ${reason}` : role;
    return { name, version, note };
  });
  return { backend, backends, adapters, packages };
}
