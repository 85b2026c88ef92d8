// ONNX Runtime detection (engine/onnx/runtime.ts): what it reports for each SEGSCOPE_ORT setting and
// thread cap, and a model loaded through it runs on the threads it reports. onnxruntime-node is installed
// here; its absence (tfjs then does inference) cannot be arranged in this process.
import { availableParallelism } from 'node:os';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../../../../src/main/engine/onnx/export';
import { createOrtModel, ortMode, ortStatus } from '../../../../src/main/engine/onnx/runtime';
import { use } from './helpers';

beforeAll(async () => {
  await use('cpu');
});

describe('ortStatus', () => {
  it('is available on every core by default, naming the CPU provider', async () => {
    const s = await ortStatus({});
    expect(s).toMatchObject({ available: true, threads: availableParallelism(), providers: ['cpu'] });
    expect(s.version).toMatch(/^1\.\d+\.\d+/);
    expect(s.reason).toContain(`on ${availableParallelism()} threads`);
  });

  it('honours SEGSCOPE_ORT=off, =cuda and SEGSCOPE_ORT_THREADS, and names a bad setting', async () => {
    expect(await ortStatus({ SEGSCOPE_ORT: 'off' })).toMatchObject({
      available: false,
      reason: 'SEGSCOPE_ORT=off: inference runs on tfjs',
    });
    expect((await ortStatus({ SEGSCOPE_ORT: 'cuda' })).providers).toEqual(['cuda', 'cpu']);
    expect((await ortStatus({ SEGSCOPE_ORT_THREADS: '1' })).threads).toBe(1);
    const bad = await ortStatus({ SEGSCOPE_ORT: 'gpu' });
    expect(bad.available).toBe(false);
    expect(bad.reason).toBe('SEGSCOPE_ORT must be auto, off or cuda; got "gpu"');
    expect(() => ortMode({ SEGSCOPE_ORT: 'gpu' })).toThrow('SEGSCOPE_ORT must be auto, off or cuda');
  });

  it('runs an exported model, and refuses when ONNX Runtime is off', async () => {
    const input = tfl.input({ shape: [4, 4, 3] });
    const conv = tfl.layers.conv2d({ filters: 2, kernelSize: 1, useBias: false, kernelInitializer: 'ones' });
    const model = tfl.model({ inputs: input, outputs: conv.apply(input) as tfl.SymbolicTensor });
    const bytes = exportOnnx(model, { producerVersion: 'test', metadata: {} });
    model.dispose();
    const ort = await createOrtModel(bytes, await ortStatus({ SEGSCOPE_ORT_THREADS: '2' }));
    const x = Float32Array.from({ length: 48 }, (_, i) => i);
    const out = await ort.run(x, [1, 4, 4, 3]);
    // A 1×1 conv of ones: each output channel is the sum of the pixel's three values.
    expect(Array.from(out.subarray(0, 4))).toEqual([3, 3, 12, 12]);
    await ort.release();
    await expect(createOrtModel(bytes, await ortStatus({ SEGSCOPE_ORT: 'off' }))).rejects.toThrow(
      'ONNX Runtime is not available: SEGSCOPE_ORT=off',
    );
  });
});
