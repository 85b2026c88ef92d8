// The engine host answers every call within a bounded time: an engine that dies before it is ready,
// one that never says ready, one that goes silent on a request, and two restarts at once. The
// engines here are small real Node processes forked the way the app forks its engine, each scripted
// to misbehave in one way.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EngineHost,
  EngineStoppedError,
  forkSpawner,
  type EngineProcess,
} from '../../../../src/main/services/engineHost';
import { tempDir } from '../../../helpers/data';

const hosts: EngineHost[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.kill('test finished');
});

/** An engine script: `ready` after `readyMs` (never when null), answers init, ignores `models`. */
function script(body: string): string {
  const file = join(tempDir(), 'engine.cjs');
  writeFileSync(file, body);
  return file;
}
const polite = script(`
process.on('message', (m) => {
  if (m.type === 'init') process.send({ type: 'result', id: m.id, ok: true, result: { name: 'cpu', reason: 'test', skipped: [] } });
  // 'models' is never answered: a hung engine.
});
process.send({ type: 'ready' });
`);

function host(entry: string, options = {}): EngineHost {
  const h = new EngineHost(forkSpawner(entry), () => {}, options);
  hosts.push(h);
  return h;
}

describe('engine host bounds', () => {
  it('rejects start when the engine exits before it is ready', async () => {
    const h = host(script('process.exit(3);'));
    const err = await h.start('cpu').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineStoppedError);
    expect((err as Error).message).toMatch(/stopped before it was ready: it exited with code 3/);
    expect(h.getStatus().state).toBe('crashed');
    // Calls made after that are answered too, not left waiting on the dead engine.
    await expect(h.request({ type: 'models' })).rejects.toThrow(/before it was ready/);
  });

  it('kills and rejects an engine that never says it is ready', async () => {
    const h = host(script('setInterval(() => {}, 1000);'), { startTimeoutMs: 500 });
    await expect(h.start('cpu')).rejects.toThrow(/did not start within 0.5 s/);
  });

  it('fails a request the engine never answers, after the idle time', async () => {
    const h = host(polite, { idleTimeoutMs: 400 });
    await h.start('cpu');
    const t0 = Date.now();
    await expect(h.request({ type: 'models' })).rejects.toThrow(/did not answer models within 0 s|within/);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('answers two restarts at once and leaves one engine running', async () => {
    const procs: EngineProcess[] = [];
    const spawn = forkSpawner(polite);
    const h = new EngineHost(() => {
      const p = spawn();
      procs.push(p);
      return p;
    });
    hosts.push(h);
    await h.start('cpu');
    const both = await Promise.all([h.restart(), h.restart(), h.start('cpu')]);
    expect(both.map((b) => b.name)).toEqual(['cpu', 'cpu', 'cpu']);
    expect(h.getStatus().state).toBe('ready');
    expect(procs).toHaveLength(2); // the first, and one fresh engine for both restarts
  });
});
