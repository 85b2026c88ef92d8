// The one app window, locked down: isolated, sandboxed, no node, no navigation, no new windows.
// Electron main process.
import { BrowserWindow, dialog, type WebPreferences } from 'electron';
import { fileURLToPath } from 'node:url';
import { APP_HOME } from './appProtocol';

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

/**
 * The folder of the built renderer, from the URL of a module in out/main. The URL is parsed, never
 * pasted into a path, so a checkout under a folder named with `#` or `?` still resolves.
 */
export function rendererRoot(moduleUrl: string = import.meta.url): string {
  return fileURLToPath(new URL('../renderer/', moduleUrl));
}

/** The page the window shows: the dev server under `electron-vite dev`, else the app protocol. */
export function rendererUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.ELECTRON_RENDERER_URL ?? APP_HOME;
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
  win.loadURL(home).catch((err: Error) => {
    // A window that never loads stays hidden; say so instead of leaving the user with nothing.
    console.error(`Segscope could not load ${home}: ${err.message}`);
    dialog.showErrorBox('Segscope could not load its window', `${home}: ${err.message}`);
    win.show();
  });
  return win;
}
