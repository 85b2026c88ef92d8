// How the desktop app starts the engine. The `electron` module is mocked (its binary cannot run on the
// CI machines); the mock records the options utilityProcess.fork is given.
import { afterEach, describe, expect, it, vi } from 'vitest';

const forks = vi.hoisted(() => [] as { entry: string; options: Record<string, unknown> }[]);
vi.mock('electron', () => ({
  utilityProcess: {
    fork: (entry: string, _args: string[], options: Record<string, unknown>) => {
      forks.push({ entry, options });
      return { on: vi.fn(), postMessage: vi.fn(), kill: vi.fn() };
    },
  },
}));

const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
afterEach(() => Object.defineProperty(process, 'platform', platform));

describe('engine utilityProcess', () => {
  it('may load unsigned native libraries on macOS, where the signed app needs it for its addons', async () => {
    const { utilitySpawner } = await import('../../../../src/main/electron/engineProcess');
    for (const os of ['darwin', 'linux', 'win32']) {
      Object.defineProperty(process, 'platform', { value: os });
      utilitySpawner('/app/out/main/engine.js')();
    }
    expect(forks.map((f) => [f.entry, f.options.allowLoadingUnsignedLibraries])).toEqual([
      ['/app/out/main/engine.js', true],
      ['/app/out/main/engine.js', false],
      ['/app/out/main/engine.js', false],
    ]);
    expect(forks[0]!.options.serviceName).toBe('Segscope engine');
  });

  it("starts with the engine's malloc settings, which the user's own environment overrides", async () => {
    const { utilitySpawner } = await import('../../../../src/main/electron/engineProcess');
    forks.length = 0;
    const saved = process.env.MALLOC_TRIM_THRESHOLD_;
    process.env.MALLOC_TRIM_THRESHOLD_ = '12345';
    try {
      utilitySpawner('/app/out/main/engine.js')();
    } finally {
      if (saved === undefined) delete process.env.MALLOC_TRIM_THRESHOLD_;
      else process.env.MALLOC_TRIM_THRESHOLD_ = saved;
    }
    const env = forks[0]!.options.env as Record<string, string>;
    expect(env.MALLOC_MMAP_MAX_).toBe('0');
    expect(env.MALLOC_TRIM_THRESHOLD_).toBe('12345');
    expect(env.PATH).toBe(process.env.PATH);
  });
});
