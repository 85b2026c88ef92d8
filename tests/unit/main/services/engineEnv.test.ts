// The engine process's environment: glibc malloc settings that keep ONNX Runtime's scratch memory mapped
// (see engineEnv.ts), passed to a real forked child, never overriding the user's own.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EngineMessage } from '../../../../src/shared/engineProtocol';
import { ENGINE_MALLOC_ENV, engineEnvironment } from '../../../../src/main/services/engineEnv';
import { forkSpawner } from '../../../../src/main/services/engineHost';
import { tempDir } from '../../../helpers/data';

describe('engine environment', () => {
  it('adds the malloc settings and keeps everything else, the user’s own settings first', () => {
    const env = engineEnvironment({ PATH: '/bin', MALLOC_MMAP_MAX_: '7' });
    expect(env).toEqual({ PATH: '/bin', MALLOC_MMAP_MAX_: '7', MALLOC_TRIM_THRESHOLD_: String(2 ** 40) });
    expect(Object.keys(ENGINE_MALLOC_ENV).sort()).toEqual(['MALLOC_MMAP_MAX_', 'MALLOC_TRIM_THRESHOLD_']);
  });

  it('reaches a process started by forkSpawner', async () => {
    const script = join(tempDir(), 'env.cjs');
    writeFileSync(
      script,
      'process.send({ env: [process.env.MALLOC_MMAP_MAX_, process.env.MALLOC_TRIM_THRESHOLD_] }, () => process.exit(0));',
    );
    const child = forkSpawner(script)();
    const got = await new Promise<unknown>((resolve) =>
      child.onMessage((m: EngineMessage) => resolve((m as unknown as { env: unknown }).env)),
    );
    expect(got).toEqual(['0', String(2 ** 40)]);
  });
});
