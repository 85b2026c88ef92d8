import { afterEach, describe, expect, it, vi } from 'vitest';
import { captureConsole } from '../../../helpers/console';
import { main } from '../../../../src/main/cli/main';
import { displayProblem } from '../../../../src/main/cli/launch';

const capture = captureConsole;
afterEach(() => vi.restoreAllMocks());

describe('segscope CLI', () => {
  it('exits 2 and names what is missing when a command lacks a required option', async () => {
    const { err } = capture();
    expect(await main(['cam', '--run', 'x'])).toBe(2);
    expect(err.join('\n')).toContain('cam needs --image IMG');
    expect(await main(['predict', '--run', 'x'])).toBe(2);
    expect(err.join('\n')).toContain('predict needs --input IMG|DIR');
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
