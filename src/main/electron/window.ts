// The one app window, locked down: isolated, sandboxed, no node, no navigation, no new windows.
// Electron main process.
import { BrowserWindow, type WebPreferences } from 'electron';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

/** The security settings of the window; exported so a unit test can hold them fixed. */
export const webPreferences: WebPreferences = {
  preload: fileURLToPath(new URL('../preload/index.cjs', import.meta.url)),
  contextIsolation: true,
  nodeIntegration: false,
  sandbox: true,
  webSecurity: true,
  allowRunningInsecureContent: false,
  spellcheck: false,
};

/** The page the window shows: the dev server under `electron-vite dev`, else the built file. */
export function rendererUrl(): string {
  return process.env.ELECTRON_RENDERER_URL ?? new URL(`file://${here}../renderer/index.html`).href;
}

export function createMainWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1400,
    height: 900,
    show: false,
    title: 'Segscope',
    backgroundColor: '#16181d',
    webPreferences,
  });
  const home = rendererUrl();
  win.webContents.on('will-navigate', (event, url) => {
    if (url !== home) event.preventDefault();
  });
  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  win.once('ready-to-show', () => win.show());
  void win.loadURL(home);
  return win;
}
