// How runs are presented: batch losses read back from steps.jsonl by global step (a resumed epoch
// replacing the one it repeats, long runs averaged down), a run deleted by id, and a run with a damaged
// file listed as broken, with the file named, beside the others.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  attachRun,
  deleteRun,
  listRuns,
  readRun,
  runFolder,
  runsDir,
} from '../../../../src/main/services/runs';
import { MAX_BATCH_POINTS } from '../../../../src/shared/training';
import { tempDir } from '../../../helpers/data';
import { vocMiniJob } from '../../../helpers/runs';

function makeRun(
  root: string,
  id: string,
  steps: { epoch: number; steps: number; losses: number[] }[],
): string {
  const dir = join(runsDir(root), id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(vocMiniJob({}, dir)));
  writeFileSync(join(dir, 'steps.jsonl'), steps.map((s) => JSON.stringify(s)).join('\n') + '\n');
  return dir;
}

describe('run summaries', () => {
  it('lists batch losses by global step, the later record of a repeated epoch winning', async () => {
    const root = tempDir();
    const dir = makeRun(root, 'r1', [
      { epoch: 1, steps: 3, losses: [3, 2.9, 2.8] },
      { epoch: 2, steps: 3, losses: [9, 9, 9] },
      // resumed from the end of epoch 1: epoch 2 again
      { epoch: 2, steps: 3, losses: [2.7, 2.6, 2.5] },
    ]);
    const run = await readRun(dir, 'r1');
    expect(run!.batchLosses).toEqual([3, 2.9, 2.8, 2.7, 2.6, 2.5].map((loss, i) => ({ step: i + 1, loss })));
  });

  it('averages a long run down to at most MAX_BATCH_POINTS points', async () => {
    const root = tempDir();
    const losses = Array.from({ length: 2500 }, (_, i) => i);
    const dir = makeRun(root, 'r2', [{ epoch: 1, steps: 2500, losses }]);
    const points = (await readRun(dir, 'r2'))!.batchLosses!;
    expect(points.length).toBeLessThanOrEqual(MAX_BATCH_POINTS);
    expect(points[0]).toEqual({ step: 3, loss: 1 });
    expect(points.at(-1)!.step).toBe(2500);
  });

  it('deletes a run by id, and refuses an id that is not a run', async () => {
    const root = tempDir();
    const dir = makeRun(root, 'r3', []);
    expect(await deleteRun(root, 'r3')).toBe(dir);
    expect(existsSync(dir)).toBe(false);
    expect(await listRuns(root)).toEqual([]);
    await expect(deleteRun(root, '../x')).rejects.toThrow('not a run id');
    await expect(deleteRun(root, 'r3')).rejects.toThrow('no such run');
  });

  it('attaches a run folder from elsewhere, lists it, and on delete only takes it off the list', async () => {
    const root = tempDir();
    makeRun(root, 'own', []);
    const outside = join(tempDir(), 'cli-run');
    mkdirSync(outside);
    writeFileSync(join(outside, 'config.json'), JSON.stringify(vocMiniJob({}, outside)));
    expect(await attachRun(root, outside)).toBe('cli-run');
    expect(await attachRun(root, outside)).toBe('cli-run');
    expect(await attachRun(root, join(runsDir(root), 'own'))).toBe('own');
    expect((await listRuns(root)).map((r) => r.id).sort()).toEqual(['cli-run', 'own']);
    expect(await runFolder(root, 'cli-run')).toBe(outside);
    await expect(attachRun(root, tempDir())).rejects.toThrow(
      'not a Segscope run folder (it has no config.json)',
    );
    // Its derived files live in the workspace, and go with it on delete.
    const derived = join(root, '.segscope', 'attached', 'cli-run', 'export');
    mkdirSync(derived, { recursive: true });
    writeFileSync(join(derived, 'cli-run-last.onnx'), 'onnx');
    await deleteRun(root, 'cli-run');
    expect(existsSync(join(outside, 'config.json'))).toBe(true);
    expect(existsSync(join(root, '.segscope', 'attached', 'cli-run'))).toBe(false);
    expect((await listRuns(root)).map((r) => r.id)).toEqual(['own']);
  });

  it('lists a run with a damaged file as broken, naming the file, and the other runs as usual', async () => {
    const root = tempDir();
    makeRun(root, 'good', [{ epoch: 1, steps: 2, losses: [2, 1] }]);
    const nullLine = makeRun(root, 'null-line', [{ epoch: 1, steps: 2, losses: [2, 1] }]);
    writeFileSync(
      join(nullLine, 'steps.jsonl'),
      'null\n' + JSON.stringify({ epoch: 1, steps: 1, losses: [3] }),
    );
    const badState = makeRun(root, 'bad-state', []);
    writeFileSync(join(badState, 'state.json'), JSON.stringify({ status: 5 }));
    const cutConfig = makeRun(root, 'cut-config', []);
    writeFileSync(join(cutConfig, 'config.json'), JSON.stringify(vocMiniJob({}, cutConfig)).slice(0, 40));
    const runs = new Map((await listRuns(root)).map((r) => [r.id, r]));
    expect([...runs.keys()].sort()).toEqual(['bad-state', 'cut-config', 'good', 'null-line']);
    expect(runs.get('good')!.problem).toBeUndefined();
    expect(runs.get('good')!.batchLosses).toHaveLength(2);
    expect(runs.get('null-line')!.problem).toContain(`${join(nullLine, 'steps.jsonl')}: line 1`);
    // The lines that are records are still read.
    expect(runs.get('null-line')!.batchLosses).toEqual([{ step: 1, loss: 3 }]);
    expect(runs.get('bad-state')!.problem).toContain(`${join(badState, 'state.json')}: is not a run state`);
    expect(runs.get('bad-state')!.state.status).toBe('interrupted');
    expect(runs.get('cut-config')!.problem).toContain(
      `${join(cutConfig, 'config.json')}: is not a run configuration`,
    );
  });
});
