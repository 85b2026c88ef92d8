// The `electron` module is mocked: its binary cannot run on the CI machines. The mock records what
// the preload hands to the page, so the test checks the real bridge code.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { EVENTS, METHODS } from '../../../src/shared/api';

const exposed: Record<string, unknown> = {};
const invoke = vi.fn(async (channel: string, payload: unknown) => ({
  ok: true,
  result: { channel, payload },
}));
const listeners = new Map<string, (event: unknown, payload: unknown) => void>();

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, value: unknown) => void (exposed[key] = value) },
  ipcRenderer: {
    invoke,
    on: (channel: string, fn: (event: unknown, payload: unknown) => void) => void listeners.set(channel, fn),
    removeListener: (channel: string) => void listeners.delete(channel),
  },
}));

beforeAll(async () => {
  await import('../../../src/preload/index');
});

describe('preload bridge', () => {
  it('exposes exactly one function per contract method, plus on()', () => {
    const bridge = exposed.segscopeBridge as Record<string, unknown>;
    expect(Object.keys(bridge).sort()).toEqual([...METHODS, 'on'].sort());
    for (const key of Object.keys(bridge)) expect(typeof bridge[key]).toBe('function');
  });

  it('forwards a call to its own channel with the payload only', async () => {
    const bridge = exposed.segscopeBridge as Record<string, (p: unknown) => Promise<unknown>>;
    await expect(bridge['dataset:list']!({ offset: 0, limit: 2 })).resolves.toEqual({
      ok: true,
      result: { channel: 'dataset:list', payload: { offset: 0, limit: 2 } },
    });
  });

  it('hands listeners the payload, never the IPC event, and can unsubscribe', () => {
    const bridge = exposed.segscopeBridge as { on: (e: string, fn: (...a: unknown[]) => void) => () => void };
    const got: unknown[][] = [];
    const off = bridge.on(EVENTS[0]!, (...args) => got.push(args));
    listeners.get(EVENTS[0]!)!({ sender: 'secret ipc event' }, { name: 'VOC2012' });
    expect(got).toEqual([[{ name: 'VOC2012' }]]);
    off();
    expect(listeners.has(EVENTS[0]!)).toBe(false);
    expect(() => bridge.on('fs:changed', () => {})).toThrow(/unknown event/);
  });
});
