import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../../src/main/cli/main';
import { displayProblem } from '../../../../src/main/cli/launch';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  return { out, err };
}
afterEach(() => vi.restoreAllMocks());

describe('segscope CLI', () => {
  it('lists every command of the design in --help', async () => {
    const { out } = capture();
    expect(await main(['--help'])).toBe(0);
    const text = out.join('\n');
    for (const cmd of ['serve', 'info', 'check', 'models', 'train', 'eval', 'predict', 'eval-masks', 'cam']) {
      expect(text).toContain(`segscope ${cmd}`);
    }
  });

  it('says a command is not built yet and exits 2 rather than pretending', async () => {
    const { err } = capture();
    expect(await main(['cam', '--run', 'x'])).toBe(2);
    expect(err.join('\n')).toContain('not built yet');
  });

  it('exits 2 on unknown commands and bad options', async () => {
    const { err } = capture();
    expect(await main(['frobnicate'])).toBe(2);
    expect(await main(['serve', '--port', 'abc'])).toBe(2);
    expect(await main(['serve', '--bogus'])).toBe(2);
    expect(err.join('\n')).toMatch(/unknown command "frobnicate"/);
    expect(err.join('\n')).toMatch(/--port must be an integer/);
  });

  it('detects a Linux machine without a display', () => {
    expect(displayProblem({}, 'linux')).toMatch(/no display/);
    expect(displayProblem({ DISPLAY: ':0' }, 'linux')).toBeNull();
    expect(displayProblem({ WAYLAND_DISPLAY: 'wayland-0' }, 'linux')).toBeNull();
    expect(displayProblem({}, 'darwin')).toBeNull();
  });
});
