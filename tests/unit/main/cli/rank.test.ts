// `segscope rank` and `segscope train --init-from` on a tiny run trained here on a copy of voc-mini,
// through the real engine process (the worker bundled from source): the --json queue in order, drafts
// made once and then read from the cache, and the usage errors.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RankJson } from '../../../../src/main/cli/commands/rank';
import { selectBackend } from '../../../../src/main/engine/backend';
import { train } from '../../../../src/main/engine/train';
import type { TrainJob } from '../../../../src/shared/training';
import { bundleForNode } from '../../../helpers/bundle';
import { cliWithEngine } from '../../../helpers/cliEngine';
import { captureConsole } from '../../../helpers/console';
import { copyVocMini, tempDir } from '../../../helpers/data';
import { vocMiniJob } from '../../../helpers/runs';

let entry: string;
let root: string;
let runDir: string;

beforeAll(async () => {
  entry = await bundleForNode('src/main/engine/worker.ts');
  await selectBackend('wasm');
  root = copyVocMini();
  runDir = join(root, '.segscope', 'runs', 'tiny');
  const job: TrainJob = {
    ...vocMiniJob({ epochs: 2, inputSize: 32, valSplit: null }, runDir),
    datasetRoot: root,
    valIds: [],
  };
  await train(job, { progress: () => {}, cancelled: () => false, backend: 'wasm' });
}, 120_000);

afterEach(() => vi.restoreAllMocks());

const cli = (argv: string[]) => cliWithEngine(entry, argv);

describe('segscope rank', () => {
  it('drafts the split, prints the queue by disagreement, and reads the cache the second time', async () => {
    const { out } = captureConsole();
    const first = cli(['rank', '--run', runDir, '--split', 'val', '--by', 'disagreement', '--json']);
    expect(await first).toBe(0);
    expect(first.engines()).toBe(1);
    const json = JSON.parse(out.join('\n')) as RankJson;
    expect(json).toMatchObject({ run: runDir, checkpoint: 'last', by: 'disagreement', split: 'val' });
    expect(json.images.map((i) => i.id).sort()).toEqual(['2007_000033', '2011_000025']);
    const scores = json.images.map((i) => i.score!);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    for (const i of json.images) {
      expect(i.score).toBe(i.disagreement);
      expect(i.disagreement).toBeCloseTo(1 - i.iou!, 12);
      // Entropy, not least confidence: its own figure in 0..1.
      expect(i.uncertainty).toBeGreaterThan(0);
      expect(i.uncertainty).toBeLessThan(1);
      expect(Math.abs(i.uncertainty - (1 - i.mean_confidence))).toBeGreaterThan(1e-6);
    }
    expect(existsSync(join(root, '.segscope', 'drafts', 'tiny', 'last', '2011_000025.png'))).toBe(true);

    out.length = 0;
    const second = cli(['rank', '--run', runDir, '--split', 'val', '--by', 'uncertainty', '--json']);
    expect(await second).toBe(0);
    expect(second.engines()).toBe(0);
    const u = (JSON.parse(out.join('\n')) as RankJson).images.map((i) => i.score!);
    expect(u).toEqual([...u].sort((a, b) => b - a));
  }, 60_000);

  it('says what is wrong with bad usage', async () => {
    const { err } = captureConsole();
    expect(await cli(['rank', '--run', runDir, '--by', 'size'])).toBe(2);
    expect(err.join('\n')).toContain('--by must be one of disagreement, uncertainty, unlabelled');
    expect(await cli(['rank', '--run', join(root, 'nope')])).toBe(2);
    expect(err.join('\n')).toContain(`${join(root, 'nope')}: not a Segscope run`);
    expect(await cli(['rank', '--run', runDir, '--split', 'nope'])).toBe(1);
    expect(err.join('\n')).toContain('no split "nope"');
  });
});

describe('segscope train --init-from', () => {
  it('refuses --init-from with --resume and a run without the checkpoint asked for', async () => {
    const { err } = captureConsole();
    expect(await cli(['train', '--resume', runDir, '--init-from', runDir])).toBe(2);
    expect(err.join('\n')).toContain('--init-from applies to a new run');
    expect(await cli(['train', '--dataset', root, '--init-from', `${runDir}:best`])).toBe(2);
    expect(err.join('\n')).toContain(`--init-from ${runDir}: has no best checkpoint`);
  });

  it('writes a run that starts from the checkpoint, keeping its model and input size', async () => {
    captureConsole();
    const out = join(tempDir(), 'ft');
    const args = ['train', '--dataset', root, '--init-from', `${runDir}:last`, '--epochs', '1'];
    expect(await cli([...args, '--no-val', '--backend', 'wasm', '--out', out, '--json'])).toBe(0);
    const job = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as TrainJob;
    expect(job.settings).toMatchObject({
      model: 'unet-small',
      inputSize: 32,
      initFrom: join(runDir, 'checkpoints', 'last'),
    });
    expect(existsSync(join(out, 'checkpoints', 'last', 'model.json'))).toBe(true);
  }, 60_000);
});
