// The `electron` module is mocked: its binary cannot run on the CI machines. The mock stands in for
// BrowserWindow so the test can check the real security settings and navigation guards.
import { describe, expect, it, vi } from 'vitest';

const handlers: Record<string, (...args: unknown[]) => void> = {};
let openHandler: (() => { action: string }) | null = null;
let loaded = '';

vi.mock('electron', () => ({
  BrowserWindow: class {
    constructor(public options: unknown) {}
    webContents = {
      on: (name: string, fn: (...args: unknown[]) => void) => void (handlers[name] = fn),
      setWindowOpenHandler: (fn: () => { action: string }) => void (openHandler = fn),
    };
    once() {}
    loadURL(url: string) {
      loaded = url;
      return Promise.resolve();
    }
  },
}));

describe('main window', () => {
  it('is isolated, sandboxed, without node, with web security', async () => {
    const { webPreferences } = await import('../../../../src/main/electron/window');
    expect(webPreferences).toMatchObject({
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
    });
    expect(webPreferences.preload).toMatch(/preload[/\\]index\.cjs$/);
  });

  it('denies new windows and navigation away from the app', async () => {
    const { createMainWindow } = await import('../../../../src/main/electron/window');
    createMainWindow();
    expect(openHandler!()).toEqual({ action: 'deny' });
    const away = { preventDefault: vi.fn() };
    handlers['will-navigate']!(away, 'https://example.com/');
    expect(away.preventDefault).toHaveBeenCalled();
    const home = { preventDefault: vi.fn() };
    handlers['will-navigate']!(home, loaded);
    expect(home.preventDefault).not.toHaveBeenCalled();
  });
});
