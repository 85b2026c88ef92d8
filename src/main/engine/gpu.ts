// The GPU under the webgpu backend: finds a Dawn adapter, makes the device with the adapter's limits, and
// watches it, so that a GPU error or a lost device fails the job instead of letting it go on with
// garbage. Engine process.
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { GpuAdapterInfo } from '../../shared/training';

// Just the parts of the WebGPU API Segscope touches: the `webgpu` package and its types are optional.
interface GpuLimits {
  readonly [name: string]: unknown;
}
interface GpuError {
  message: string;
  constructor: { name: string };
}
export interface GpuDevice {
  readonly limits: GpuLimits;
  readonly lost: Promise<{ reason: string; message: string }>;
  addEventListener(type: 'uncapturederror', listener: (e: { error: GpuError }) => void): void;
  destroy(): void;
}
interface RawAdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface GpuAdapter {
  readonly limits: GpuLimits;
  readonly features: ReadonlySet<string>;
  readonly info: RawAdapterInfo;
  requestDevice(descriptor: {
    requiredLimits: Record<string, number>;
    requiredFeatures: string[];
  }): Promise<GpuDevice>;
}
interface Gpu {
  requestAdapter(options?: {
    powerPreference?: 'high-performance';
    featureLevel?: 'compatibility';
  }): Promise<GpuAdapter | null>;
}
interface DawnModule {
  create(flags: string[]): Gpu;
  globals: object;
}

/** Why there is no GPU to use; the message says what the user can change. */
export class NoGpu extends Error {}

/** What went wrong on the GPU, in the words WebGPU uses. */
export type GpuFaultKind = 'out-of-memory' | 'validation' | 'internal' | 'lost';

/** A GPU error or a lost device: whatever the GPU computed since is not to be trusted. */
export class GpuFault extends Error {
  constructor(
    readonly kind: GpuFaultKind,
    readonly detail: string,
  ) {
    super(`${kind === 'lost' ? 'the GPU device was lost' : `GPU ${kind} error`}: ${detail}`);
  }
}

/** The adapter and device in use, and the first fault seen on it. */
export interface GpuSession {
  device: GpuDevice;
  adapter: GpuAdapterInfo;
  rawInfo: RawAdapterInfo;
  fault: GpuFault | null;
}

let session: GpuSession | null = null;

/** The current GPU session, or null when webgpu is not in use. */
export function gpuSession(): GpuSession | null {
  return session;
}

/** The session's fault once pending GPU events have arrived, or null. */
export async function settledGpuFault(): Promise<GpuFault | null> {
  if (!session) return null;
  const s = session;
  await new Promise((resolve) => setImmediate(resolve));
  return s.fault;
}

/** Throws the session's fault, if any. The training loop calls it before it trusts a result. */
export function throwIfGpuFault(): void {
  if (session?.fault) throw session.fault;
}

/**
 * Settles outstanding GPU events, then throws the session's fault, if any. Dawn delivers error and
 * device-lost events as callbacks after the call that caused them; one macrotask lets them arrive.
 */
export async function checkGpu(): Promise<void> {
  if (!session) return;
  await new Promise((resolve) => setImmediate(resolve));
  throwIfGpuFault();
}

const SOFTWARE = /llvmpipe|softpipe|swiftshader|lavapipe|software rasterizer|microsoft basic render/i;

function summarize(info: RawAdapterInfo, api: GpuAdapterInfo['api']): GpuAdapterInfo {
  const fields = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
  };
  const software =
    info.isFallbackAdapter === true ||
    SOFTWARE.test(`${fields.vendor} ${fields.architecture} ${fields.device} ${fields.description}`);
  return { ...fields, software, api };
}

function nativeApi(): GpuAdapterInfo['api'] {
  if (process.platform === 'darwin') return 'Metal';
  if (process.platform === 'win32') return 'D3D12';
  return 'Vulkan';
}

/** Where a training run was when the GPU failed, for a message that says what to change. */
export interface FailureContext {
  batch: number;
  inputSize: number;
  epoch: number;
  step: number;
  /** The epoch the run's `last` checkpoint holds. */
  lastEpoch: number;
}

/** The GPU fault as a person can act on it: what happened, what to change, and what was kept. */
export function gpuFailureMessage(fault: GpuFault, at: FailureContext): string {
  const where = `at batch ${at.batch}, ${at.inputSize}²`;
  const kept = `the run stopped at epoch ${at.epoch}, step ${at.step}; checkpoint 'last' (epoch ${at.lastEpoch}) is intact, so the run can be resumed`;
  if (fault.kind === 'out-of-memory') {
    const advice =
      at.batch > 1
        ? `try batch ${Math.floor(at.batch / 2)}`
        : `try input size ${Math.max(32, at.inputSize / 2)} or a smaller model`;
    return `out of GPU memory ${where}: ${advice} (${fault.detail}); ${kept}`;
  }
  if (fault.kind === 'lost') {
    return (
      `the GPU device was lost ${where} (${fault.detail}): the driver reset or the GPU went away, often from ` +
      `running out of memory or a watchdog timeout; try a smaller batch, or another backend; ${kept}`
    );
  }
  if (/maximum storage buffer binding size/.test(fault.detail)) {
    return (
      `a tensor ${where} is larger than this GPU lets one buffer binding hold (${fault.detail}): ` +
      `try batch ${Math.max(1, Math.floor(at.batch / 2))} or a smaller input size; ${kept}`
    );
  }
  return (
    `a GPU ${fault.kind} error ${where} (${fault.detail}); this is a bug in a GPU kernel or the driver: ` +
    `try --backend wasm, and report it with the output of \`segscope doctor --json\`; ${kept}`
  );
}

/**
 * Whether the Vulkan loader (libvulkan.so.1) can be found, which Dawn needs on Linux. Looks where the
 * dynamic linker looks: LD_LIBRARY_PATH, the ld.so cache, and the usual library folders.
 */
export function hasVulkanLoader(): boolean {
  if (process.platform !== 'linux') return true;
  const lib = 'libvulkan.so.1';
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    '/usr/lib64',
    '/usr/lib',
    '/lib64',
    '/lib',
    '/usr/local/lib',
  ];
  if (dirs.some((d) => existsSync(path.join(d, lib)))) return true;
  try {
    return readFileSync('/etc/ld.so.cache').includes(lib);
  } catch {
    return false;
  }
}

/** Where the adapter comes from: the platform's own GPU API, or Mesa's llvmpipe through OpenGL ES. */
export type AdapterSource = 'native' | 'software';

let dawn: DawnModule | null = null;
const instances = new Map<AdapterSource, Gpu>();

/** Loads Dawn's Node binding; a NoGpu says whether it is missing or failed to load. */
export async function loadDawn(importer?: (specifier: string) => Promise<unknown>): Promise<DawnModule> {
  if (dawn && !importer) return dawn;
  let mod: DawnModule;
  try {
    mod = (await (importer ?? ((s: string) => import(/* @vite-ignore */ s)))('webgpu')) as DawnModule;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new NoGpu('the webgpu package (Dawn) is not installed', { cause: err });
    }
    const first = (err as Error).message?.split('\n')[0] ?? String(err);
    throw new NoGpu(`the webgpu package (Dawn) failed to load: ${first}`, { cause: err });
  }
  // tfjs-backend-webgpu reads `navigator.gpu` and the GPU* classes (GPUBuffer, GPUBufferUsage…) as globals.
  Object.assign(globalThis, mod.globals);
  dawn = mod;
  return mod;
}

function instance(mod: DawnModule, source: AdapterSource): Gpu {
  let gpu = instances.get(source);
  if (!gpu) {
    if (source === 'software') {
      // Mesa's EGL must not look for a display server; it reads this when Dawn opens the display.
      process.env.EGL_PLATFORM ??= 'surfaceless';
      gpu = mod.create(['backend=opengles']);
    } else {
      gpu = mod.create([]);
    }
    instances.set(source, gpu);
  }
  return gpu;
}

/** The first adapter of `source`, or null when there is none. */
export async function findAdapter(
  mod: DawnModule,
  source: AdapterSource,
): Promise<{ adapter: GpuAdapter; info: GpuAdapterInfo } | null> {
  const gpu = instance(mod, source);
  const adapter =
    source === 'software'
      ? await gpu.requestAdapter({ featureLevel: 'compatibility' })
      : await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return null;
  return { adapter, info: summarize(adapter.info, source === 'software' ? 'OpenGL ES' : nativeApi()) };
}

function numericLimits(limits: GpuLimits): Record<string, number> {
  const out: Record<string, number> = {};
  // The limits are accessors on the prototype, so walk it rather than the object's own keys.
  for (let o: object | null = limits; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      const v = (limits as Record<string, unknown>)[key];
      if (typeof v === 'number' && !(key in out)) out[key] = v;
    }
  }
  return out;
}

/**
 * Makes the device with every limit the adapter allows (the defaults reject tfjs's 256-wide workgroups)
 * and starts watching it. Replaces any earlier session, whose device is destroyed.
 */
export async function openDevice(adapter: GpuAdapter, info: GpuAdapterInfo): Promise<GpuSession> {
  const requiredFeatures = ['timestamp-query'].filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({
    requiredLimits: numericLimits(adapter.limits),
    requiredFeatures,
  });
  closeGpu();
  exposeNavigatorGpu();
  const s: GpuSession = { device, adapter: info, rawInfo: adapter.info, fault: null };
  device.addEventListener('uncapturederror', (e) => {
    s.fault ??= new GpuFault(faultKind(e.error), e.error.message.split('\n')[0] ?? e.error.message);
  });
  void device.lost.then((l) => {
    // Our own closeGpu() destroys the device on purpose; that is no fault.
    if (session !== s) return;
    s.fault ??= new GpuFault('lost', l.message || l.reason);
  });
  session = s;
  return s;
}

/**
 * WebGPUBackend's constructor refuses to run unless `navigator.gpu` exists, which Node 20 lacks (and
 * Node 22's navigator has no `gpu`). It only checks for presence; the device is what it uses.
 */
function exposeNavigatorGpu(): void {
  const g = globalThis as { navigator?: object };
  g.navigator ??= {};
  const gpu = instances.get('native') ?? instances.get('software');
  if (!('gpu' in g.navigator)) {
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  }
}

function faultKind(error: GpuError): GpuFaultKind {
  const name = error.constructor.name;
  if (name === 'GPUOutOfMemoryError') return 'out-of-memory';
  if (name === 'GPUValidationError') return 'validation';
  return 'internal';
}

const MB = 1024 * 1024;

/**
 * Refuses, before any work, a model with a weight larger than the GPU lets one shader binding see (a
 * software adapter allows 128 MB; FCN's fc6 kernel is 392 MB). On other backends it does nothing.
 */
export function assertWeightsFitGpu(
  modelId: string,
  weights: readonly { name: string; shape: readonly (number | null)[] }[],
): void {
  const limit = session?.device.limits.maxStorageBufferBindingSize;
  if (typeof limit !== 'number') return;
  for (const w of weights) {
    const bytes = 4 * w.shape.reduce<number>((a, d) => a * (d ?? 1), 1);
    if (bytes > limit) {
      throw new Error(
        `${modelId} cannot run on this GPU: its weight ${w.name} takes ${(bytes / MB).toFixed(0)} MB, more ` +
          `than the ${(limit / MB).toFixed(0)} MB one GPU buffer binding may hold here (${describeAdapterOf(session!)}); ` +
          'pick a smaller model or another backend',
      );
    }
  }
}

function describeAdapterOf(s: GpuSession): string {
  return [s.adapter.device, s.adapter.description].filter(Boolean).join(', ') || 'this adapter';
}

/** Forgets the session and destroys its device. */
export function closeGpu(): void {
  const s = session;
  session = null;
  s?.device.destroy();
}
