// Corrupt run files (issue 21): each file of a run folder holding JSON of the wrong shape, `null`, or
// cut short. The dataset still opens, the other runs are still listed as usual, and the damaged run is
// listed as broken with a problem that names the file. A jsonl line cut short is what a kill during an
// append leaves: it is skipped without a problem, and the whole lines before it are still read.
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRunJob } from '../../../../src/main/common/runFolder';
import { listRuns, runsDir } from '../../../../src/main/services/runs';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { copyVocMini, tempDir } from '../../../helpers/data';
import { vocMiniJob } from '../../../helpers/runs';

const EPOCH = {
  epoch: 1,
  trainLoss: 1.5,
  valLoss: null,
  miou: null,
  pixelAccuracy: null,
  lr: 0.001,
  seconds: 2,
  best: false,
};
const STEPS = { epoch: 1, steps: 2, losses: [2, 1] };

/** A whole run folder: config, state, eval, one epoch of metrics and steps. */
function writeRun(root: string, id: string): string {
  const dir = join(runsDir(root), id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(vocMiniJob({}, dir)));
  writeFileSync(
    join(dir, 'state.json'),
    JSON.stringify({
      status: 'done',
      epoch: 1,
      bestMiou: null,
      bestEpoch: null,
      backend: 'wasm',
      startedAt: '2026-12-07T10:00:00.000Z',
      endedAt: '2026-12-07T10:01:00.000Z',
      error: null,
    }),
  );
  writeFileSync(
    join(dir, 'eval.json'),
    JSON.stringify({
      epoch: 1,
      split: 'val',
      inputSize: 64,
      resolution: 'original',
      checkpoint: 'best',
      metrics: { miou: 0.1 },
    }),
  );
  writeFileSync(join(dir, 'metrics.jsonl'), JSON.stringify(EPOCH) + '\n');
  writeFileSync(join(dir, 'steps.jsonl'), JSON.stringify(STEPS) + '\n');
  return dir;
}

const JSON_FILES = ['config.json', 'state.json', 'eval.json'] as const;
const JSONL_FILES = ['metrics.jsonl', 'steps.jsonl'] as const;

/** Opens the dataset (it must open) and lists its runs, the good one checked to be listed as usual. */
async function listWithGood(root: string) {
  await new WorkbenchSession().open(root);
  const runs = new Map((await listRuns(root)).map((r) => [r.id, r]));
  expect([...runs.keys()].sort()).toEqual(['bad', 'good']);
  const good = runs.get('good')!;
  expect(good.problem).toBeUndefined();
  expect(good.epochs).toHaveLength(1);
  expect(good.state.status).toBe('done');
  expect(good.evaluation?.metrics.miou).toBe(0.1);
  return runs.get('bad')!;
}

describe('a run file that is damaged', () => {
  for (const file of JSON_FILES) {
    const cases: [string, (whole: string) => string][] = [
      ['valid JSON of the wrong shape', () => JSON.stringify({ settings: 5, status: 'maybe', epoch: 'x' })],
      ['null', () => 'null'],
      ['cut short', (whole) => whole.slice(0, Math.floor(whole.length / 2))],
    ];
    for (const [what, damage] of cases) {
      it(`${file}, ${what}: listed as broken naming the file; the other run as usual`, async () => {
        const root = copyVocMini();
        writeRun(root, 'good');
        const dir = writeRun(root, 'bad');
        const path = join(dir, file);
        writeFileSync(path, damage(readFileSync(path, 'utf8')));
        const bad = await listWithGood(root);
        expect(bad.problem).toContain(`${path}: is not a run`);
      });
    }
  }

  for (const file of JSONL_FILES) {
    it(`${file}, a line of the wrong shape or null: listed as broken naming the file and line`, async () => {
      const root = copyVocMini();
      writeRun(root, 'good');
      const dir = writeRun(root, 'bad');
      const path = join(dir, file);
      const whole = JSON.stringify(file === 'metrics.jsonl' ? EPOCH : STEPS);
      writeFileSync(path, `null\n${whole}\n{"epoch":"one"}\n`);
      const bad = await listWithGood(root);
      expect(bad.problem).toContain(`${path}: line 1 is not a record`);
      expect(bad.problem).toContain(`${path}: line 3 is not a record`);
      // The line that is a record is still read.
      if (file === 'metrics.jsonl') expect(bad.epochs).toEqual([EPOCH]);
      else
        expect(bad.batchLosses).toEqual([
          { step: 1, loss: 2 },
          { step: 2, loss: 1 },
        ]);
    });

    it(`${file}, its last line cut short by a kill: the lines before it read, no problem`, async () => {
      const root = copyVocMini();
      writeRun(root, 'good');
      const dir = writeRun(root, 'bad');
      const path = join(dir, file);
      const whole = JSON.stringify(file === 'metrics.jsonl' ? EPOCH : STEPS);
      const next = JSON.stringify(file === 'metrics.jsonl' ? { ...EPOCH, epoch: 2 } : { ...STEPS, epoch: 2 });
      writeFileSync(path, `${whole}\n${next.slice(0, 20)}`);
      const bad = await listWithGood(root);
      expect(bad.problem).toBeUndefined();
      if (file === 'metrics.jsonl') expect(bad.epochs).toEqual([EPOCH]);
      else expect(bad.batchLosses).toHaveLength(2);
    });
  }

  // These once reached the engine, which failed as `internal` (or tried to allocate the input).
  const settingsCases: [string, Record<string, unknown>, string][] = [
    [
      'a model this Segscope lacks',
      { model: 'unet-9000' },
      'settings.model: unknown model "unet-9000" (this Segscope has unet, unet-small, ',
    ],
    ['an absurd input size', { inputSize: 1_000_000 }, 'settings.inputSize: '],
    ['a batch of zero', { batchSize: 0 }, 'settings.batchSize: '],
  ];
  for (const [what, settings, problem] of settingsCases) {
    it(`config.json naming ${what}: broken, naming the file; the engine's read is bad-file`, async () => {
      const root = copyVocMini();
      writeRun(root, 'good');
      const dir = writeRun(root, 'bad');
      const path = join(dir, 'config.json');
      const job = JSON.parse(readFileSync(path, 'utf8')) as { settings: object };
      writeFileSync(path, JSON.stringify({ ...job, settings: { ...job.settings, ...settings } }));
      const bad = await listWithGood(root);
      expect(bad.problem).toContain(`${path}: is not a run configuration (${problem}`);
      await expect(readRunJob(dir)).rejects.toMatchObject({
        code: 'bad-file',
        message: expect.stringContaining(
          `${dir}: not a Segscope run (${path}: is not a run configuration (${problem}`,
        ),
      });
    });
  }

  it('config.json a link to a file outside the run: listed as broken, naming it, nothing read there', async () => {
    const root = copyVocMini();
    writeRun(root, 'good');
    const dir = writeRun(root, 'bad');
    const outside = join(tempDir(), 'config.json');
    writeFileSync(outside, readFileSync(join(dir, 'config.json')));
    rmSync(join(dir, 'config.json'));
    symlinkSync(outside, join(dir, 'config.json'));
    const bad = await listWithGood(root);
    expect(bad.problem).toContain(`${join(dir, 'config.json')}: leads outside the run`);
    expect(bad.settings.epochs).toBe(0);
  });

  it('attached-runs.json with entries of the wrong shape: those are left out, the others listed', async () => {
    const root = copyVocMini();
    writeRun(root, 'good');
    writeRun(root, 'bad');
    const elsewhere = writeRun(tempDir(), 'elsewhere');
    writeFileSync(
      join(root, '.segscope', 'attached-runs.json'),
      JSON.stringify({ version: 1, runs: { five: 5, none: null, elsewhere } }),
    );
    expect((await listRuns(root)).map((r) => r.id).sort()).toEqual(['bad', 'elsewhere', 'good']);
    writeFileSync(join(root, '.segscope', 'attached-runs.json'), JSON.stringify({ version: 1, runs: 7 }));
    expect((await listRuns(root)).map((r) => r.id).sort()).toEqual(['bad', 'good']);
  });

  it('attached-runs.json a link to a file outside the dataset: refused, naming it', async () => {
    const root = copyVocMini();
    writeRun(root, 'good');
    const outside = join(tempDir(), 'attached-runs.json');
    writeFileSync(outside, JSON.stringify({ version: 1, runs: { x: tempDir() } }));
    const path = join(root, '.segscope', 'attached-runs.json');
    symlinkSync(outside, path);
    await expect(listRuns(root)).rejects.toMatchObject({
      code: 'outside-root',
      message: expect.stringContaining(`${path}: leads outside the dataset`),
    });
  });
});
