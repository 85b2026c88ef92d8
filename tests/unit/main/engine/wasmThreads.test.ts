// tfjs's wasm backend on several threads (engine/wasmThreads.ts): it starts its threaded build in Node,
// and two training steps there give the losses and updated weights of the single-threaded build within
// float tolerance. Each thread count runs in its own process, since the backend starts once per process.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_WASM_THREADS, wasmThreadCount } from '../../../../src/main/engine/wasmThreads';
import { bundleForNode } from '../../../helpers/bundle';
import { tempDir } from '../../../helpers/data';

interface StepResult {
  reason: string;
  threads: number;
  losses: number[];
  weights: number[][];
}

let entry: string;
beforeAll(async () => {
  entry = await bundleForNode('tests/helpers/wasmStep.ts');
}, 60_000);

async function step(threads: number): Promise<StepResult> {
  const out = join(tempDir(), 'step.json');
  // The child ends by itself (a timeout would kill it): waiting pthreads do not keep it alive.
  await promisify(execFile)(process.execPath, [entry, out], {
    env: { ...process.env, SEGSCOPE_WASM_THREADS: String(threads) },
    timeout: 90_000,
  });
  return JSON.parse(readFileSync(out, 'utf8')) as StepResult;
}

describe('wasm threads', () => {
  it('reads SEGSCOPE_WASM_THREADS, defaulting to every core up to the pool of 8', () => {
    expect(wasmThreadCount({})).toBeGreaterThanOrEqual(1);
    expect(wasmThreadCount({})).toBeLessThanOrEqual(MAX_WASM_THREADS);
    expect(wasmThreadCount({ SEGSCOPE_WASM_THREADS: '3' })).toBe(3);
    expect(() => wasmThreadCount({ SEGSCOPE_WASM_THREADS: '0' })).toThrow(
      'SEGSCOPE_WASM_THREADS must be an integer from 1 to 8; got "0"',
    );
    expect(() => wasmThreadCount({ SEGSCOPE_WASM_THREADS: 'many' })).toThrow('got "many"');
  });

  it('trains on 3 threads to the single-threaded losses and weights', async () => {
    // Three threads even on two cores: more threads than cores still splits every kernel's work.
    const [one, three] = await Promise.all([step(1), step(3)]);
    expect(one.threads).toBe(1);
    expect(one.reason).toContain('single-threaded');
    expect(three.threads).toBe(3);
    expect(three.reason).toContain('3 threads');
    for (const [i, loss] of one.losses.entries()) {
      expect(Math.abs(three.losses[i]! - loss) / loss).toBeLessThan(1e-5);
    }
    expect(three.weights).toHaveLength(one.weights.length);
    // The steps trained: the second loss is lower.
    expect(one.losses[1]!).toBeLessThan(one.losses[0]!);
    let num = 0;
    let den = 0;
    for (const [i, w] of one.weights.entries()) {
      const v = three.weights[i]!;
      expect(v).toHaveLength(w.length);
      for (let k = 0; k < w.length; k++) {
        num += (v[k]! - w[k]!) ** 2;
        den += w[k]! ** 2;
      }
    }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-5);
  }, 120_000);
});
