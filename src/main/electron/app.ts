// The desktop app's start-up, once: protocols, permissions, the window and the contract over IPC.
// Kept apart from main.ts so a unit test can drive it with a mocked electron. Electron main process.
import { app, dialog, session as electronSession, type Session } from 'electron';
import { parseArgs } from 'node:util';
import { createHandlers } from '../services/handlers';
import type { WorkbenchSession } from '../services/session';
import { APP_ORIGIN, handleAppProtocol } from './appProtocol';
import { serveIpc } from './ipc';
import { handleMediaProtocol, mediaUrl } from './mediaProtocol';
import { createMainWindow, rendererRoot } from './window';

function datasetArg(argv: string[]): string | undefined {
  const { values } = parseArgs({
    args: argv.slice(1),
    options: { dataset: { type: 'string' } },
    strict: false,
  });
  return typeof values.dataset === 'string' ? values.dataset : undefined;
}

/**
 * Refuses every permission a page may ask for (camera, microphone, notifications, geolocation,
 * MIDI, USB, HID, serial, ...): the app uses none, so a compromised page gains nothing by asking.
 */
export function lockPermissions(ses: Session): void {
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);
}

export interface DesktopApp {
  /** Opens the app; a second call (macOS `activate` during the first) returns the same start. */
  start(): Promise<void>;
}

export function createDesktopApp(session: WorkbenchSession, argv: string[] = process.argv): DesktopApp {
  let started: Promise<void> | null = null;

  async function open(): Promise<void> {
    await app.whenReady();
    lockPermissions(electronSession.defaultSession);
    handleAppProtocol(rendererRoot());
    const dev = process.env.ELECTRON_RENDERER_URL;
    handleMediaProtocol(session, dev ? [APP_ORIGIN, new URL(dev).origin] : [APP_ORIGIN]);
    const dataset = datasetArg(argv);
    if (dataset)
      await session
        .open(dataset)
        .catch((err: Error) => dialog.showErrorBox('Cannot open dataset', err.message));
    const win = createMainWindow();
    const handlers = createHandlers(session, {
      transport: 'electron',
      electronVersion: process.versions.electron ?? null,
      mediaUrl,
      pickFolder: async () => {
        const result = await dialog.showOpenDialog(win, {
          title: 'Open a VOC dataset folder',
          properties: ['openDirectory'],
        });
        return result.canceled ? null : (result.filePaths[0] ?? null);
      },
    });
    const stop = serveIpc(handlers, session, win.webContents);
    win.on('closed', stop);
  }

  return { start: () => (started ??= open()) };
}
