// The training loop on real data: unet-small overfits voc-mini on wasm, and the run folder holds what
// DESIGN.md says. Also cancel between batches and resume from `last`.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EpochRecord, RunState } from '../../../../src/shared/training';
import { selectBackend } from '../../../../src/main/engine/backend';
import { describeFailure, train, scheduledLr } from '../../../../src/main/engine/train';
import { QUICK_SETTINGS, vocMiniJob } from '../../../helpers/runs';

beforeAll(async () => {
  await selectBackend('wasm');
});

const job = vocMiniJob;

const records = (dir: string): EpochRecord[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as EpochRecord);

const small = QUICK_SETTINGS;

describe('training on voc-mini', () => {
  it('overfits: the train loss falls at least 5× and pixel accuracy on the training images passes 0.9', async () => {
    const j = job({ ...small, epochs: 140 });
    const before = tf.memory().numTensors;
    const progress: string[] = [];
    const outcome = await train(j, {
      progress: (p) => progress.push(p.kind),
      cancelled: () => false,
      backend: 'wasm',
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(outcome.status).toBe('done');

    const r = records(j.runDir);
    expect(r).toHaveLength(140);
    const first = r[0]!;
    const last = r.at(-1)!;
    expect(first.trainLoss / last.trainLoss).toBeGreaterThanOrEqual(5);
    expect(last.pixelAccuracy).toBeGreaterThan(0.9);
    expect(progress).toContain('step');
    expect(progress.filter((k) => k === 'epoch')).toHaveLength(140);

    // The run folder as DESIGN.md lays it out.
    const state = JSON.parse(readFileSync(join(j.runDir, 'state.json'), 'utf8')) as RunState;
    expect(state).toMatchObject({ status: 'done', epoch: 140, backend: 'wasm' });
    expect(state.bestMiou).toBe(Math.max(...r.map((e) => e.miou!)));
    for (const c of ['last', 'best']) {
      expect(existsSync(join(j.runDir, 'checkpoints', c, 'model.json')), c).toBe(true);
      expect(existsSync(join(j.runDir, 'checkpoints', c, 'weights.bin')), c).toBe(true);
    }
    // best's ONNX export is made when best is saved, so the viewer's first segmentation need not wait.
    expect(existsSync(join(j.runDir, 'checkpoints', 'best', 'model.onnx'))).toBe(true);
    const evaluation = JSON.parse(readFileSync(join(j.runDir, 'eval.json'), 'utf8'));
    expect(evaluation.epoch).toBe(state.bestEpoch);
    expect(evaluation.metrics.miou).toBeCloseTo(state.bestMiou!, 12);
    expect(JSON.parse(readFileSync(join(j.runDir, 'config.json'), 'utf8')).settings.model).toBe('unet-small');
  }, 180_000);

  it('cancels between batches, keeps a usable last checkpoint, and resumes from it', async () => {
    const j = job({ ...small, epochs: 6, batchSize: 1 });
    let checks = 0;
    const cancelled = await train(j, {
      progress: () => {},
      cancelled: () => ++checks > 7, // checked before each batch: the third batch of the second epoch
      backend: 'wasm',
    });
    expect(cancelled.status).toBe('cancelled');
    expect(records(j.runDir)).toHaveLength(1);
    const state = JSON.parse(readFileSync(join(j.runDir, 'state.json'), 'utf8')) as RunState;
    expect(state).toMatchObject({ status: 'cancelled', epoch: 1 });

    const resumed = await train(
      { ...j, resume: true },
      { progress: () => {}, cancelled: () => false, backend: 'wasm' },
    );
    expect(resumed).toMatchObject({ status: 'done', epochs: 6 });
    expect(records(j.runDir).map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
  }, 120_000);

  it('resumes from the epoch of `last` whatever a kill left behind it, never repeating an epoch', async () => {
    const j = job({ ...small, epochs: 2 });
    await train(j, { progress: () => {}, cancelled: () => false, backend: 'wasm' });
    // As a kill after epoch 2's `last` but before its state (and with a torn third line) leaves it.
    const statePath = join(j.runDir, 'state.json');
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as RunState;
    writeFileSync(statePath, JSON.stringify({ ...state, status: 'running', epoch: 1, pid: 999_999_999 }));
    writeFileSync(
      join(j.runDir, 'metrics.jsonl'),
      readFileSync(join(j.runDir, 'metrics.jsonl'), 'utf8') + '{"epo',
    );
    // Epoch 2 was the best so far, and the kill came before its `best` was written.
    expect(state.bestEpoch).toBe(2);
    rmSync(join(j.runDir, 'checkpoints', 'best'), { recursive: true });

    const resumed = await train(
      { ...j, resume: true, settings: { ...j.settings, epochs: 3 } },
      { progress: () => {}, cancelled: () => false, backend: 'wasm' },
    );
    expect(resumed).toMatchObject({ status: 'done', epochs: 3 });
    expect(records(j.runDir).map((e) => e.epoch)).toEqual([1, 2, 3]);
    // `best` came back from `last`, which held epoch 2's weights.
    expect(existsSync(join(j.runDir, 'checkpoints', 'best', 'model.json'))).toBe(true);
  }, 60_000);

  it('stops early after `patience` epochs without a better mIoU', async () => {
    const j = job({ ...small, epochs: 40, lr: 1e-9, patience: 2 });
    const outcome = await train(j, { progress: () => {}, cancelled: () => false, backend: 'wasm' });
    expect(outcome.status).toBe('stopped-early');
    expect(outcome.epochs).toBeLessThan(40);
  }, 60_000);

  it('explains the wasm heap running out instead of a bare Aborted()', () => {
    expect(describeFailure(new Error('Aborted(). Build with -sASSERTIONS for more info.'))).toMatch(
      /ran out of memory.*smaller model/,
    );
    expect(describeFailure(new Error('the loss became NaN'))).toBe('the loss became NaN');
  });

  it('follows the cosine and step schedules', () => {
    expect(scheduledLr(1e-4, 'cos', 0, 10)).toBeCloseTo(1e-4, 12);
    expect(scheduledLr(1e-4, 'cos', 10, 10)).toBeCloseTo(1e-6, 12);
    expect(scheduledLr(1e-4, 'cos', 5, 10)).toBeCloseTo(0.505e-4, 12);
    expect(scheduledLr(1, 'step', 0, 9)).toBe(1);
    expect(scheduledLr(1, 'step', 3, 9)).toBeCloseTo(0.1, 12);
    expect(scheduledLr(1, 'constant', 7, 9)).toBe(1);
  });
});
