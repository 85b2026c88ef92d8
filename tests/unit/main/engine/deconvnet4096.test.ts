// DeconvNet as published (fc6/fc7 4096 wide): listed with its real parameter count without building its
// 1 GB of weights, and refused up front on wasm, whose heap cannot hold it while it trains.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../../../src/main/engine/backend';
import { buildDeconvNet } from '../../../../src/main/engine/models/deconvnet';
import { getModelSpec } from '../../../../src/main/engine/models/registry';
import { train } from '../../../../src/main/engine/train';
import type { RunState } from '../../../../src/shared/training';
import { vocMiniJob } from '../../../helpers/runs';

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('deconvnet-4096', () => {
  it('lists the parameter count of the 4096-wide model from a 256-wide build', () => {
    const spec = getModelSpec('deconvnet-4096');
    const count = (fcWidth: number) => {
      const m = buildDeconvNet({ numClasses: 21, inputSize: 64, fcWidth });
      const n = m.countParams();
      m.dispose();
      return n;
    };
    // Listed like `deconvnet`, which is the same network at DECONVNET_FC_WIDTH (256).
    expect(spec.listing!.like).toBe('deconvnet');
    const at256 = count(256);
    // The growth formula checked against a real build at another width (small enough to build here).
    const at320 = count(320);
    expect(at320 - at256).toBe(50186 * 64 + 320 * 320 - 256 * 256);
    // The paper's 251.8M for 21 classes.
    expect(spec.listing!.params(at256) / 1e6).toBeCloseTo(251.8, 1);
  });

  it('is refused on wasm before a model is built: the run ends failed with the reason, no checkpoint', async () => {
    const job = vocMiniJob({ model: 'deconvnet-4096', inputSize: 64, epochs: 1, backend: 'wasm' });
    await expect(train(job, { progress: () => {}, cancelled: () => false, backend: 'wasm' })).rejects.toThrow(
      'deconvnet-4096 is too large to train on wasm',
    );
    expect(existsSync(join(job.runDir, 'checkpoints'))).toBe(false);
    const state = JSON.parse(readFileSync(join(job.runDir, 'state.json'), 'utf8')) as RunState;
    expect(state).toMatchObject({ status: 'failed', epoch: 0 });
    expect(state.error).toContain('deconvnet-4096 is too large to train on wasm');
  });
});
