// The `electron` module is mocked: its binary cannot run on the CI machines. The mock stands in for
// BrowserWindow and dialog so the test can check the real security settings, navigation guards and
// load errors.
import { describe, expect, it, vi } from 'vitest';

const handlers: Record<string, (...args: unknown[]) => void> = {};
let openHandler: (() => { action: string }) | null = null;
let loaded = '';
let loadFails = false;
const showErrorBox = vi.fn();

vi.mock('electron', () => ({
  dialog: { showErrorBox: (...args: unknown[]) => showErrorBox(...args) },
  BrowserWindow: class {
    constructor(public options: unknown) {}
    webContents = {
      on: (name: string, fn: (...args: unknown[]) => void) => void (handlers[name] = fn),
      setWindowOpenHandler: (fn: () => { action: string }) => void (openHandler = fn),
    };
    once() {}
    show() {}
    loadURL(url: string) {
      loaded = url;
      return loadFails
        ? Promise.reject(new Error("ERR_FILE_NOT_FOUND (-6) loading '" + url + "'"))
        : Promise.resolve();
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

  it('loads the app protocol, and shows the error when the page cannot load', async () => {
    const { createMainWindow } = await import('../../../../src/main/electron/window');
    vi.spyOn(console, 'error').mockImplementation(() => {});
    loadFails = true;
    createMainWindow();
    expect(loaded).toBe('segscope-app://app/index.html');
    await vi.waitFor(() => expect(showErrorBox).toHaveBeenCalled());
    expect(showErrorBox.mock.calls[0]![1]).toMatch(/^segscope-app:\/\/app\/index\.html: ERR_FILE_NOT_FOUND/);
  });
});
