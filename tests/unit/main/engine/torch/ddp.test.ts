// DDP in the PyTorch engine is data-parallel, not two copies: 2 gloo processes with a batch of 2 each
// equal 1 process with the batch of 4 after 3 Adam steps, to 1e-5 of the weights' scale. The model is
// unet (narrowed), which has no batch norm: with batch norm each rank normalises by its own half-batch,
// which is what DDP does without SyncBatchNorm and is not the same computation.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { saveCheckpoint } from '../../../../../src/main/engine/io/checkpoint';
import { use } from '../helpers';
import { tinyModel } from '../tinyModels';
import { runPython } from './pythonEnv';

it('2 processes × batch 2 on gloo equal 1 process × batch 4 after 3 steps', async () => {
  await use('wasm');
  const dir = await mkdtemp(join(tmpdir(), 'segscope-ddp-'));
  try {
    const model = tinyModel('unet', 3, 32);
    await saveCheckpoint(model, join(dir, 'init'), {});
    model.dispose();
    const { stdout } = await runPython('segscope_torch.ddpcheck', [join(dir, 'init'), '3']);
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as { maxRelDiff: number; maxUpdate: number };
    console.log(
      `[torch ddp] max weight difference ${r.maxRelDiff.toExponential(2)} of the scale; the steps moved weights by ${r.maxUpdate.toExponential(2)}`,
    );
    expect(r.maxUpdate).toBeGreaterThan(1e-3); // the steps did train
    expect(r.maxRelDiff).toBeLessThan(1e-5);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 120_000);

it('a rendezvous that never forms ends the worker with a timeout naming it', async () => {
  // Rank 0 of 2, and no rank 1 ever starts.
  const err = await runPython(
    'segscope_torch',
    [
      'train',
      '--run',
      join(tmpdir(), 'segscope-no-run'),
      '--normalization',
      'zero-one',
      '--rdzv-timeout',
      '2',
    ],
    {
      RANK: '0',
      WORLD_SIZE: '2',
      LOCAL_RANK: '0',
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(29000 + (process.pid % 900)),
    },
  ).then(
    () => null,
    (e: Error) => e,
  );
  expect(err?.message).toMatch(
    /the rendezvous at 127\.0\.0\.1:\d+ did not form within 2 s \(rank 0 of 2, gloo\)/,
  );
}, 60_000);
