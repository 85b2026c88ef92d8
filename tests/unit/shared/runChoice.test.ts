// Which run Inspect opens first: finished before cancelled, then the best mIoU, then the most epochs,
// then the newest; and the sentence that says why.
import { describe, expect, it } from 'vitest';
import { runToInspect } from '../../../src/shared/runChoice';
import type { RunStatus, RunSummary } from '../../../src/shared/training';

function run(id: string, status: RunStatus, epoch: number, bestMiou: number | null): RunSummary {
  return {
    id,
    dir: `/runs/${id}`,
    settings: {} as RunSummary['settings'],
    state: {
      status,
      epoch,
      bestMiou,
      bestEpoch: null,
      backend: 'wasm',
      startedAt: '',
      endedAt: null,
      error: null,
    },
    epochs: [],
    hasLast: true,
    hasBest: bestMiou !== null,
    evaluation: null,
  };
}

describe('runToInspect', () => {
  it('prefers a finished run over a newer cancelled one with a better score', () => {
    const pick = runToInspect([run('new', 'cancelled', 9, 0.5), run('old', 'done', 40, 0.3)]);
    expect(pick?.run.id).toBe('old');
    expect(pick?.why).toBe('Showing old: the best finished run of 2 (best mIoU 0.300, 40 epochs).');
  });

  it('among finished runs takes the best mIoU, then the most epochs, then the newest', () => {
    expect(runToInspect([run('a', 'done', 5, 0.2), run('b', 'stopped-early', 3, 0.4)])?.run.id).toBe('b');
    expect(runToInspect([run('a', 'done', 5, null), run('b', 'done', 8, null)])?.run.id).toBe('b');
    expect(runToInspect([run('a', 'done', 5, null), run('b', 'done', 5, null)])?.run.id).toBe('a');
  });

  it('skips runs without a finished epoch, and says when none has finished', () => {
    expect(runToInspect([run('a', 'failed', 0, null)])).toBeNull();
    const pick = runToInspect([
      run('a', 'failed', 0, null),
      run('b', 'cancelled', 2, null),
      run('c', 'interrupted', 3, null),
    ]);
    expect(pick?.run.id).toBe('c');
    expect(pick?.why).toBe('Showing c: no run has finished; the best one (interrupted) of 2 (3 epochs).');
  });
});
