// Backend selection: the auto order, the reasons given for skipped backends, and clear errors for an
// explicit preference that cannot be had.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKEND_ORDER, diagnose, selectBackend, wasmBinaryDir } from '../../../../src/main/engine/backend';
import { isSegscopeKernel, SEGSCOPE_WASM_KERNELS } from '../../../../src/main/engine/kernels';

const requireFromTest = createRequire(import.meta.url);

function installed(pkg: string): boolean {
  try {
    requireFromTest.resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
}

const loadError = async (): Promise<never> => {
  throw new Error('libtensorflow.so.2: cannot open shared object file\n(and a stack)');
};

afterEach(async () => {
  if (tf.findBackendFactory('tensorflow') != null && !installed('@tensorflow/tfjs-node')) {
    tf.removeBackend('tensorflow');
  }
  await tf.setBackend('cpu');
});

describe('selectBackend', () => {
  it('tries tensorflow-gpu, webgpu, tensorflow, wasm, cpu in that order', () => {
    expect(BACKEND_ORDER).toEqual(['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu']);
  });

  it('auto: skips the native packages that are missing, saying so, and lands on the first that loads', async () => {
    const gpu = installed('@tensorflow/tfjs-node-gpu');
    const node = installed('@tensorflow/tfjs-node');
    const choice = await selectBackend('auto');
    if (!gpu && !node) {
      expect(choice.name).toBe('wasm');
      expect(choice.skipped).toEqual([
        { name: 'tensorflow-gpu', reason: '@tensorflow/tfjs-node-gpu is not installed' },
        // These CPU machines have no GPU; at most Mesa's software adapters, which auto refuses.
        {
          name: 'webgpu',
          reason: expect.stringMatching(/^(no GPU adapter|no Vulkan loader|only a software adapter)/),
        },
        { name: 'tensorflow', reason: '@tensorflow/tfjs-node is not installed' },
      ]);
      expect(choice.reason).toMatch(/^WebAssembly \((no )?SIMD, (single-threaded|\d+ threads)\)/);
      expect(tf.getBackend()).toBe('wasm');
    } else {
      expect(choice.name).toBe(gpu ? 'tensorflow-gpu' : 'tensorflow');
      expect(tf.getBackend()).toBe('tensorflow');
    }
  });

  it('wasm: activates the backend with Segscope kernels and finds the .wasm binaries', async () => {
    const choice = await selectBackend('wasm');
    expect(choice).toMatchObject({ name: 'wasm', skipped: [] });
    expect(tf.getBackend()).toBe('wasm');
    for (const k of SEGSCOPE_WASM_KERNELS) expect(isSegscopeKernel(k, 'wasm')).toBe(true);
    const dir = wasmBinaryDir();
    expect(dir.endsWith(path.sep)).toBe(true);
    expect(existsSync(path.join(dir, 'tfjs-backend-wasm-simd.wasm'))).toBe(true);
  });

  it('cpu: always available', async () => {
    const choice = await selectBackend('cpu');
    expect(choice.name).toBe('cpu');
    expect(choice.reason).toMatch(/slowest/);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('an explicit native preference that fails to load rejects with the load error', async () => {
    await expect(selectBackend('tensorflow', { importNative: loadError })).rejects.toThrow(
      "Backend 'tensorflow' is unavailable: @tensorflow/tfjs-node failed to load: libtensorflow.so.2: cannot open shared object file",
    );
  });

  it('an explicit native preference that is not installed says so', async () => {
    const gpu = installed('@tensorflow/tfjs-node-gpu');
    const attempt = selectBackend('tensorflow-gpu');
    if (gpu) await expect(attempt).resolves.toMatchObject({ name: 'tensorflow-gpu' });
    else
      await expect(attempt).rejects.toThrow(/^Backend 'tensorflow-gpu' is unavailable: .* is not installed$/);
  });

  it('auto records each load error and falls through to wasm', async () => {
    const choice = await selectBackend('auto', { importNative: loadError });
    expect(choice.name).toBe('wasm');
    expect(choice.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu', 'webgpu', 'tensorflow']);
    expect(choice.skipped[0]?.reason).toBe(
      '@tensorflow/tfjs-node-gpu failed to load: libtensorflow.so.2: cannot open shared object file',
    );
    expect(choice.skipped[2]?.reason).toMatch(/^@tensorflow\/tfjs-node failed to load: /);
  });

  it('a native package that loads but registers no backend here is refused', async () => {
    await expect(selectBackend('tensorflow-gpu', { importNative: async () => ({}) })).rejects.toThrow(
      /registered no 'tensorflow' backend with this tfjs-core/,
    );
  });

  it('a native package that registers its backend is used', async () => {
    const fakeNative = async () => {
      tf.registerBackend('tensorflow', () => new MathBackendCPU());
    };
    const choice = await selectBackend('auto', { importNative: fakeNative });
    expect(choice).toEqual({
      name: 'tensorflow-gpu',
      reason: '@tensorflow/tfjs-node-gpu loaded (libtensorflow built for CUDA)',
      skipped: [],
    });
    expect(tf.getBackend()).toBe('tensorflow');
  });

  it('webgpu without the webgpu package says it is not installed', async () => {
    const missing = async (): Promise<never> => {
      throw Object.assign(new Error("Cannot find package 'webgpu'"), { code: 'ERR_MODULE_NOT_FOUND' });
    };
    await expect(selectBackend('webgpu', { importDawn: missing })).rejects.toThrow(
      "Backend 'webgpu' is unavailable: the webgpu package (Dawn) is not installed",
    );
    const broken = async (): Promise<never> => {
      throw new Error('/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34` not found\n(stack)');
    };
    await expect(selectBackend('webgpu', { importDawn: broken })).rejects.toThrow(
      "Backend 'webgpu' is unavailable: the webgpu package (Dawn) failed to load: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34` not found",
    );
  });

  it('auto never takes the software adapter, even when asked for it by the environment', async () => {
    process.env.SEGSCOPE_WEBGPU_ADAPTER = 'software';
    try {
      const choice = await selectBackend('auto');
      expect(choice.name).not.toBe('webgpu');
      expect(choice.adapter).toBeUndefined();
    } finally {
      delete process.env.SEGSCOPE_WEBGPU_ADAPTER;
    }
  });

  it('diagnose: every backend in order with why it was or was not used, the adapters, the packages', async () => {
    const d = await diagnose();
    expect(d.backends.map((b) => b.name)).toEqual([...BACKEND_ORDER]);
    const inUse = d.backends.filter((b) => b.status === 'in use');
    expect(inUse).toEqual([{ name: d.backend.name, status: 'in use', reason: d.backend.reason }]);
    const after = BACKEND_ORDER.indexOf(d.backend.name);
    for (const [i, b] of d.backends.entries()) {
      expect(b.status).toBe(i < after ? 'skipped' : i === after ? 'in use' : 'not tried');
      expect(b.reason.length).toBeGreaterThan(0);
    }
    // auto did not take webgpu, so every adapter Dawn sees here is a software one.
    if (d.backend.name !== 'webgpu') for (const a of d.adapters) expect(a.software).toBe(true);
    expect(d.packages.map((p) => p.name)).toEqual([
      'webgpu',
      '@tensorflow/tfjs-node-gpu',
      '@tensorflow/tfjs-node',
      'onnxruntime-node',
    ]);
    const webgpu = d.packages[0]!;
    if (installed('webgpu')) expect(webgpu.version).toMatch(/^\d+\.\d+\.\d+/);
    else expect(webgpu.note).toMatch(/^not installed/);
  });
});
