// Damaged and unwritable checkpoints: every failure names the file and what is wrong with it, a
// failed write leaves no temporary file, and the engine's `bad-file` reaches the UI as `bad-file`
// rather than `internal`. (The full-disk case of the writer is in tests/unit/main/common/atomicFile.test.ts.)
import { appendFileSync, existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../../../src/main/engine/backend';
import { loadCheckpoint, saveCheckpoint } from '../../../../src/main/engine/io/checkpoint';
import { train } from '../../../../src/main/engine/train';
import { WorkbenchError } from '../../../../src/shared/errors';
import { EngineHost, forkSpawner } from '../../../../src/main/services/engineHost';
import { bundleForNode } from '../../../helpers/bundle';
import { tempDir, VOC_MINI } from '../../../helpers/data';
import { vocMiniJob } from '../../../helpers/runs';

beforeAll(async () => {
  await selectBackend('wasm');
});

function tinyModel(): tfl.LayersModel {
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ units: 3, inputShape: [4], name: 'd' }));
  return model;
}

async function savedCheckpoint(): Promise<string> {
  const dir = join(tempDir(), 'last');
  const model = tinyModel();
  await saveCheckpoint(model, dir, { epoch: 1 });
  model.dispose();
  return dir;
}

async function loadError(dir: string): Promise<WorkbenchError> {
  const err = await loadCheckpoint(dir).then(
    (r) => {
      r.model.dispose();
      return null;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkbenchError);
  expect((err as WorkbenchError).code).toBe('bad-file');
  return err as WorkbenchError;
}

describe('damaged checkpoints', () => {
  it('loads an intact one', async () => {
    const { model, meta } = await loadCheckpoint(await savedCheckpoint());
    expect(meta.epoch).toBe(1);
    expect(tf.util.sizeFromShape(model.getWeights()[0]!.shape)).toBe(12);
    model.dispose();
  });

  it('refuses extra bytes after the weights, and a cut weights file, naming it', async () => {
    const long = await savedCheckpoint();
    appendFileSync(join(long, 'weights.bin'), Buffer.alloc(7));
    expect((await loadError(long)).message).toMatch(
      /weights\.bin: holds 67 bytes but .*model\.json describes 60 \(extra bytes after the weights\)/,
    );
    const short = await savedCheckpoint();
    truncateSync(join(short, 'weights.bin'), 10);
    expect((await loadError(short)).message).toMatch(
      /weights\.bin: holds 10 bytes .* \(the file is cut short\)/,
    );
  });

  it('names a missing weights file, a model.json that is not JSON, and one that does not build', async () => {
    const missing = await savedCheckpoint();
    writeFileSync(join(missing, 'weights.bin'), '');
    truncateSync(join(missing, 'weights.bin'), 0);
    expect((await loadError(missing)).message).toMatch(/weights\.bin: holds 0 bytes/);

    const garbled = await savedCheckpoint();
    writeFileSync(join(garbled, 'model.json'), '{"modelTopology": ');
    expect((await loadError(garbled)).message).toMatch(/model\.json: cannot be read as a tfjs model/);

    const wrong = await savedCheckpoint();
    const json = JSON.parse(readFileSync(join(wrong, 'model.json'), 'utf8'));
    json.modelTopology.config.layers[0].class_name = 'NoSuchLayer';
    writeFileSync(join(wrong, 'model.json'), JSON.stringify(json));
    expect((await loadError(wrong)).message).toMatch(/model\.json: the model cannot be built from it/);
  });

  it('names a damaged state on resume and leaves the file as it was', async () => {
    const job = vocMiniJob({ epochs: 1, inputSize: 32, backend: 'wasm' });
    await train(job, { progress: () => {}, cancelled: () => false, backend: 'wasm' });
    writeFileSync(join(job.runDir, 'state.json'), '{"status": "run');
    await expect(
      train({ ...job, resume: true }, { progress: () => {}, cancelled: () => false, backend: 'wasm' }),
    ).rejects.toThrow(/state\.json: cannot be read as a run state/);
    expect(readFileSync(join(job.runDir, 'state.json'), 'utf8')).toBe('{"status": "run');
  }, 60_000);
});

describe('writes that fail', () => {
  it('names a run folder that cannot be made', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, '');
    const job = vocMiniJob({ epochs: 1, inputSize: 32, backend: 'wasm' }, join(file, 'run'));
    await expect(train(job, { progress: () => {}, cancelled: () => false, backend: 'wasm' })).rejects.toThrow(
      new RegExp(`${file}/run/checkpoints: cannot be written \\(ENOTDIR`),
    );
    expect(existsSync(join(file, 'run'))).toBe(false);
  });
});

describe('through the engine process', () => {
  it('reports a damaged checkpoint as bad-file, not internal', async () => {
    const entry = await bundleForNode('src/main/engine/worker.ts');
    const host = new EngineHost(forkSpawner(entry));
    try {
      const job = vocMiniJob({ epochs: 1, inputSize: 32, backend: 'wasm' });
      await host.start('wasm');
      await host.request({ type: 'train', job });
      appendFileSync(join(job.runDir, 'checkpoints', 'last', 'weights.bin'), Buffer.alloc(4));
      const err = await host
        .request({
          type: 'segment',
          runDir: job.runDir,
          checkpoint: 'last',
          image: join(VOC_MINI, 'JPEGImages', '2007_000032.jpg'),
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkbenchError);
      expect(err).toMatchObject({ code: 'bad-file', message: expect.stringMatching(/weights\.bin: holds/) });
    } finally {
      host.kill('test finished');
    }
  }, 120_000);
});
