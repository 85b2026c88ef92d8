// `segscope export` through the real engine process (the worker bundled from source) on a run made here
// with a small random unet-small checkpoint: the file loads in ONNX Runtime, gives the checkpoint's tfjs
// logits, and carries the metadata another runtime needs; bad arguments exit 2 and write nothing.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../../src/main/cli/main';
import { selectBackend } from '../../../../src/main/engine/backend';
import { saveCheckpoint } from '../../../../src/main/engine/io/checkpoint';
import { MODELS } from '../../../../src/main/engine/models/registry';
import { EngineHost, forkSpawner } from '../../../../src/main/services/engineHost';
import { VOC_CLASS_NAMES } from '../../../../src/shared/voc';
import { bundleForNode } from '../../../helpers/bundle';
import { captureConsole } from '../../../helpers/console';
import { tempDir } from '../../../helpers/data';
import { vocMiniJob } from '../../../helpers/runs';

let entry: string;
let runDir: string;
const input = Float32Array.from({ length: 64 * 64 * 3 }, (_, i) => Math.sin(i) * 0.5 + 0.5);
let reference: Float32Array;

beforeAll(async () => {
  entry = await bundleForNode('src/main/engine/worker.ts');
  await selectBackend('wasm');
  runDir = join(tempDir(), 'run');
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, 'config.json'), JSON.stringify(vocMiniJob({}, runDir)));
  const model = MODELS['unet-small'].build({ numClasses: 21, inputSize: 64, seed: 4 });
  await saveCheckpoint(model, join(runDir, 'checkpoints', 'best'));
  reference = tf.tidy(
    () => (model.predict(tf.tensor4d(input, [1, 64, 64, 3])) as tf.Tensor).dataSync() as Float32Array,
  );
  model.dispose();
}, 120_000);

afterEach(() => vi.restoreAllMocks());

function cli(argv: string[]): Promise<number> {
  return main(argv, {
    startEngine: async (backend) => {
      const host = new EngineHost(forkSpawner(entry));
      await host.start(backend);
      return host;
    },
  });
}

describe('segscope export', () => {
  it('writes an ONNX file whose logits are the checkpoint’s, with the metadata, and prints --json', async () => {
    const { out } = captureConsole();
    const file = join(tempDir(), 'model.onnx');
    expect(await cli(['export', '--run', runDir, '--out', file, '--json', '--backend', 'wasm'])).toBe(0);
    const printed = JSON.parse(out.join('\n'));
    expect(printed).toMatchObject({ path: file, opset: 17, model: 'unet-small', checkpoint: 'best' });
    expect(printed.inputSize).toBe(64);
    expect(printed.classes).toBe(21);

    const session = await ort.InferenceSession.create(file);
    const r = await session.run({ input: new ort.Tensor('float32', input, [1, 64, 64, 3]) });
    const got = r.logits!.data as Float32Array;
    const scale = reference.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(got.reduce((m, v, i) => Math.max(m, Math.abs(v - reference[i]!)), 0) / scale).toBeLessThan(1e-4);
    await session.release();

    // metadata_props, read back by Debian's onnx (an independent protobuf reader).
    const py =
      'import sys, onnx, json; m = onnx.load(sys.argv[1]); print(json.dumps({p.key: p.value for p in m.metadata_props}))';
    const { execFileSync } = await import('node:child_process');
    const meta = JSON.parse(execFileSync('/usr/bin/python3', ['-c', py, file], { encoding: 'utf8' }));
    expect(meta.input_size).toBe('64');
    expect(meta.normalization).toBe('zero-one');
    expect(JSON.parse(meta.class_names)).toEqual(VOC_CLASS_NAMES);
    expect(JSON.parse(meta.class_colors)[15]).toEqual([192, 128, 128]);
    expect(meta['segscope.version']).toMatch(/^\d+\.\d+\.\d+/);
    expect(meta.letterbox).toContain('grey 128');
  }, 60_000);

  it('exits 2 with a message for bad arguments, writing nothing', async () => {
    const { err } = captureConsole();
    const dir = tempDir();
    expect(await cli(['export', '--run', runDir])).toBe(2);
    expect(err.join('\n')).toContain('export needs --out FILE.onnx');
    expect(await cli(['export', '--run', runDir, '--out', join(dir, 'model.bin')])).toBe(2);
    expect(err.join('\n')).toContain('the file must end in .onnx');
    expect(await cli(['export', '--run', runDir, '--out', join(dir, 'no', 'm.onnx')])).toBe(2);
    expect(err.join('\n')).toContain('does not exist');
    expect(await cli(['export', '--run', join(dir, 'none'), '--out', join(dir, 'm.onnx')])).toBe(2);
    expect(err.join('\n')).toContain('not a Segscope run');
    expect(await cli(['export', '--run', runDir, '--checkpoint', 'last', '--out', join(dir, 'm.onnx')])).toBe(
      1,
    );
    expect(err.join('\n')).toContain('no checkpoint here');
    expect(existsSync(join(dir, 'm.onnx'))).toBe(false);
  }, 60_000);
});
