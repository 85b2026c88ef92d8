// `segscope train --dataset DIR` with no other flag trains what the panel would start with on the backend
// found (here wasm, on the CPU: unet-small at 128², batch 2, lr 1e-3, 40 epochs), says so in one line,
// and goes through TrainingService's cancel: Ctrl+C ends it cancelled with exit status 130. The engine
// is the real worker, bundled from source; the run is cancelled after its first steps to stay quick.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { EXIT_CANCELLED } from '../../../../src/main/cli/commands/train';
import type { RunState, TrainJob } from '../../../../src/shared/training';
import { bundleForNode } from '../../../helpers/bundle';
import { cliWithEngine } from '../../../helpers/cliEngine';
import { copyVocMini } from '../../../helpers/data';

let entry: string;
beforeAll(async () => {
  entry = await bundleForNode('src/main/engine/worker.ts');
}, 120_000);
afterEach(() => vi.restoreAllMocks());

async function poll<T>(read: () => T | null, what: string, ms = 60_000): Promise<T> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await new Promise((r) => setTimeout(r, 100))) {
    const v = read();
    if (v !== null) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('segscope train with no settings given', () => {
  it("trains the backend's defaults, names them, and exits 130 when cancelled with Ctrl+C", async () => {
    const root = copyVocMini();
    const printed: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    const before = new Set(process.listeners('SIGINT'));
    const run = cliWithEngine(entry, ['train', '--dataset', root]);
    const runs = join(root, '.segscope', 'runs');
    const dir = await poll(() => {
      const ids = existsSync(runs) ? readdirSync(runs) : [];
      return ids.length && existsSync(join(runs, ids[0]!, 'config.json')) ? join(runs, ids[0]!) : null;
    }, 'the run folder');
    const job = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as TrainJob;
    expect(job.settings).toMatchObject({
      model: 'unet-small',
      inputSize: 128,
      batchSize: 2,
      lr: 1e-3,
      epochs: 40,
    });
    // Ctrl+C, as the terminal sends it: the command's own SIGINT listener.
    const onSigint = await poll(
      () => process.listeners('SIGINT').find((l) => !before.has(l)) ?? null,
      'the Ctrl+C handler',
    );
    await poll(() => (printed.join('').includes(` → ${dir}`) ? true : null), 'the run line');
    (onSigint as () => void)();
    expect(await run).toBe(EXIT_CANCELLED);
    expect(run.engines()).toBe(1);
    const out = printed.join('');
    expect(out).toMatch(
      /^defaults for wasm: unet-small, 128², batch 2, lr 1e-3, 40 epochs\. The engine runs on wasm, on the CPU/m,
    );
    expect(out.match(/^defaults for /gm)).toHaveLength(1);
    expect(out).toContain(`cancelling at the next batch`);
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as RunState;
    expect(state.status).toBe('cancelled');
  }, 120_000);
});
